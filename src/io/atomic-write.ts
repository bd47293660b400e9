/**
 * Writing a file atomically: its bytes go to a temporary name beside it (see `temp-name.ts`),
 * and the file appears under its real name, complete, by a rename. A crash or an error never
 * leaves a half-written file where a good one is expected.
 *
 * {@link writeAtomically} is the one place that does the temporary file, the fsync and the
 * rename; {@link writeFileAtomic} is it for a stream of chunks written in order, and writers
 * that place their bytes themselves (a patch writing literals and in-kernel copies at their
 * offsets) use it directly.
 */
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { BackupError, wrapIoError } from '../errors.js';
import { tempName } from './temp-name.js';

/** Options of {@link writeAtomically} and {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Replace a file already at the path; without it, one there is `EEXIST`. Default false. */
  overwrite?: boolean;
  /** fsync the new file before renaming it into place, so it survives a power cut. Default true. */
  durable?: boolean;
  /** A path to attach to errors (from the writer or the data) that name none. */
  errorPath?: string;
}

/**
 * Create `path` atomically: `fill` writes the new file's bytes into the open temporary file
 * (in any order, positioned writes included), which is then fsync'd (unless `durable: false`)
 * and renamed to `path`. On any failure the temporary file is removed. Resolves to what
 * `fill` resolves to.
 */
export async function writeAtomically<T>(path: string, fill: (out: FileHandle) => Promise<T>, options: AtomicWriteOptions = {}): Promise<T> {
  try {
    if (!options.overwrite && (await exists(path))) {
      throw new BackupError('EEXIST', `File exists "${path}", aborting!`, { path });
    }
    const tmp = join(dirname(path), tempName(basename(path)));
    // Outside the clean-up below: a temporary name that exists is another writer's file.
    let handle: FileHandle | undefined = await open(tmp, 'wx').catch((e: unknown) => {
      throw wrapIoError(e, path, 'creating');
    });
    try {
      const result = await fill(handle);
      if (options.durable !== false) {
        await handle.sync().catch((e: unknown) => {
          throw wrapIoError(e, path, 'syncing');
        });
      }
      const closing = handle;
      handle = undefined;
      await closing.close();
      await rename(tmp, path).catch((e: unknown) => {
        throw wrapIoError(e, path, 'renaming into');
      });
      return result;
    } catch (e) {
      await handle?.close().catch(() => undefined);
      await rm(tmp, { force: true }).catch(() => undefined);
      throw e;
    }
  } catch (e) {
    throw e instanceof BackupError && options.errorPath !== undefined ? e.withPath(options.errorPath) : e;
  }
}

/**
 * Write the chunks of `data` to `path` atomically (see {@link writeAtomically}); resolves to
 * the bytes written. The next chunk is pulled while the previous one is being written, so
 * producing and writing overlap.
 */
export function writeFileAtomic(path: string, data: AsyncIterable<Uint8Array>, options: AtomicWriteOptions = {}): Promise<number> {
  return writeAtomically(
    path,
    async (out) => {
      let written = 0;
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
      return written;
    },
    options,
  );
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
