/**
 * File-to-file helpers over an engine: `signatureFile`, `deltaFile`, `patchFile`.
 *
 * Outputs are written under a temporary name in the same directory and renamed into place
 * only when complete, so a crash or an error never leaves a half-written file where a good
 * one is expected (unlike rdiff, which leaves partial output). An existing output is
 * refused unless `overwrite` is set, as rdiff refuses without `-f`. Every file-system error
 * comes back as a {@link BackupError} that names the file.
 */
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { BackupError, wrapIoError } from '../errors.js';
import type { DeltaOptions, SignatureOptions } from '../rsync/index.js';
import type { EngineChoice } from './engine.js';
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

const READ_CHUNK = 1 << 20;

/**
 * The chunks of the file at `path`, with errors that name it. With `reuse`, two buffers are
 * read into in turn, so a chunk is only valid until the one after next is requested: for
 * consumers that copy or finish with each chunk (the engine does), this keeps memory flat
 * instead of leaving a trail of buffers for the garbage collector.
 */
export async function* readFileChunks(path: string, options: { reuse?: boolean } = {}): AsyncGenerator<Uint8Array, void, undefined> {
  const handle = await open(path, 'r').catch((e) => {
    throw wrapIoError(e, path, 'opening');
  });
  const spare = options.reuse ? [Buffer.allocUnsafe(READ_CHUNK), Buffer.allocUnsafe(READ_CHUNK)] : undefined;
  try {
    for (let turn = 0; ; turn++) {
      const buf = spare ? spare[turn & 1]! : Buffer.allocUnsafe(READ_CHUNK);
      const { bytesRead } = await handle.read(buf, 0, buf.length, null).catch((e) => {
        throw wrapIoError(e, path, 'reading');
      });
      if (bytesRead === 0) return;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

/**
 * Write the chunks of `data` to `path` atomically: a temporary file beside it, renamed when
 * complete (and fsync'd first unless `durable: false`). The next chunk is pulled while the
 * previous one is being written, so producing and writing overlap. Errors from `data` pass
 * through with `errorPath` attached when they lack a path.
 */
export async function writeFileAtomic(
  path: string,
  data: AsyncIterable<Uint8Array>,
  options: { overwrite?: boolean; durable?: boolean; errorPath?: string } = {},
): Promise<number> {
  if (!options.overwrite && (await exists(path))) {
    throw new BackupError('EEXIST', `File exists "${path}", aborting!`, { path });
  }
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let handle: FileHandle | undefined;
  let written = 0;
  try {
    handle = await open(tmp, 'wx').catch((e) => {
      throw wrapIoError(e, path, 'creating');
    });
    const out = handle;
    // The write in flight settles into `writeError`, never into a rejected promise nobody
    // awaits yet (node would treat that as an unhandled rejection).
    let writeError: BackupError | undefined;
    let pending: Promise<void> = Promise.resolve();
    for await (const chunk of data) {
      await pending;
      if (writeError) throw writeError;
      pending = out.write(chunk).then(
        () => undefined,
        (e: unknown) => {
          writeError = wrapIoError(e, path, 'writing');
        },
      );
      written += chunk.length;
    }
    await pending;
    if (writeError) throw writeError;
    if (options.durable !== false) {
      await handle.sync().catch((e) => {
        throw wrapIoError(e, path, 'syncing');
      });
    }
    await handle.close();
    handle = undefined;
    await rename(tmp, path).catch((e) => {
      throw wrapIoError(e, path, 'renaming into');
    });
    return written;
  } catch (e) {
    await handle?.close().catch(() => undefined);
    await rm(tmp, { force: true }).catch(() => undefined);
    if (e instanceof BackupError && options.errorPath !== undefined) throw e.withPath(options.errorPath);
    throw e;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

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
  await writeFileAtomic(sigPath, engine.signature(readFileChunks(basisPath, { reuse: true }), { ...options, fileSize }), {
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

/** Apply the delta in `deltaPath` to the file `basisPath`, writing `outPath`. */
export async function patchFile(basisPath: string, deltaPath: string, outPath: string, options: FileJobOptions = {}): Promise<void> {
  const engine = selectEngine(options.engine, 'patch');
  const basis = await open(basisPath, 'r').catch((e) => {
    throw wrapIoError(e, basisPath, 'opening');
  });
  try {
    // Read errors name the basis; `fd` stays visible for the native engine, which reads it in C.
    const labelled = {
      fd: basis.fd,
      read: (buffer: Uint8Array, offset: number, length: number, position: number) =>
        basis.read(buffer, offset, length, position).catch((e: unknown) => {
          throw wrapIoError(e, basisPath, 'reading');
        }),
    };
    await writeFileAtomic(outPath, engine.patch(labelled, readFileChunks(deltaPath, { reuse: true })), {
      overwrite: options.overwrite,
      durable: options.durable ?? false,
      errorPath: deltaPath,
    });
  } finally {
    await basis.close();
  }
}
