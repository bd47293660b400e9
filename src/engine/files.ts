/**
 * File-to-file helpers over an engine: `signatureFile`, `deltaFile`, `patchFile`. Where both
 * ends are files the native engine does better than stream them: it reads the basis of a
 * signature itself (`file-signature.ts`) and copies a patch's COPYs inside the kernel
 * (`file-patch.ts`).
 *
 * Outputs are written under a temporary name in the same directory and renamed into place
 * only when complete, so a crash or an error never leaves a half-written file where a good
 * one is expected (unlike rdiff, which leaves partial output). An existing output is
 * refused unless `overwrite` is set, as rdiff refuses without `-f`. Every file-system error
 * comes back as a {@link BackupError} that names the file.
 */
import { stat } from 'node:fs/promises';
import { BackupError, wrapIoError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { readFileChunks } from '../io/read-chunks.js';
import type { DeltaOptions, SignatureOptions } from '../rsync/index.js';
import type { EngineChoice } from './engine.js';
import { patchToFile } from './file-patch.js';
import { signatureOfPath } from './file-signature.js';
import { selectEngine } from './select.js';

/** Options shared by the file helpers. */
export interface FileJobOptions {
  /** Replace an existing output file (rdiff's `-f`). Default false. */
  overwrite?: boolean;
  /** Which engine runs the job; default `auto` (or `IBT_ENGINE`). */
  engine?: EngineChoice;
  /**
   * fsync the output before renaming it into place, so it survives a power cut. Default
   * false, like rdiff; the backup layer sets it for its artifacts.
   */
  durable?: boolean;
}

/** Options of {@link signatureFile}. */
export interface SignatureFileOptions extends FileJobOptions, SignatureOptions {}
/** Options of {@link deltaFile}. */
export interface DeltaFileOptions extends FileJobOptions, DeltaOptions {}

async function fileSizeOf(path: string): Promise<number> {
  try {
    const st = await stat(path);
    return st.isFile() ? st.size : -1;
  } catch (e) {
    throw wrapIoError(e, path, 'reading');
  }
}

/** Write the signature of the file `basisPath` to `sigPath`, as `rdiff signature` does. */
export async function signatureFile(basisPath: string, sigPath: string, options: SignatureFileOptions = {}): Promise<void> {
  const fileSize = options.fileSize ?? (await fileSizeOf(basisPath));
  const engine = selectEngine(options.engine, 'signature');
  await writeFileAtomic(sigPath, signatureOfPath(engine, basisPath, { ...options, fileSize }), {
    overwrite: options.overwrite,
    durable: options.durable ?? false,
    errorPath: basisPath,
  });
}

/** Write the delta from the signature in `sigPath` to the file `newPath` into `deltaPath`. */
export async function deltaFile(sigPath: string, newPath: string, deltaPath: string, options: DeltaFileOptions = {}): Promise<void> {
  const engine = selectEngine(options.engine, 'delta');
  const sig = readFileChunks(sigPath, { reuse: true });
  const labelled = async function* (): AsyncGenerator<Uint8Array> {
    try {
      yield* sig;
    } catch (e) {
      throw e instanceof BackupError ? e.withPath(sigPath) : e;
    }
  };
  await writeFileAtomic(deltaPath, engine.delta(labelled(), readFileChunks(newPath, { reuse: true }), options), {
    overwrite: options.overwrite,
    durable: options.durable ?? false,
    errorPath: sigPath,
  });
}

/**
 * Apply the delta in `deltaPath` to the file `basisPath`, writing `outPath`. COPY commands are
 * copied inside the kernel where the addon is built and the engine allows it (see
 * `file-patch.ts`).
 */
export async function patchFile(basisPath: string, deltaPath: string, outPath: string, options: FileJobOptions = {}): Promise<void> {
  await patchToFile(basisPath, readFileChunks(deltaPath, { reuse: true }), outPath, { ...options, deltaName: deltaPath });
}
