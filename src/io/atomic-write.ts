/**
 * Writing a file atomically: its bytes go to a temporary name beside it (see `temp-name.ts`),
 * and the file appears under its real name, complete, by a rename. A crash or an error never
 * leaves a half-written file where a good one is expected.
 */
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { BackupError, wrapIoError } from '../errors.js';
import { tempName } from './temp-name.js';

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
  const tmp = join(dirname(path), tempName(basename(path)));
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
