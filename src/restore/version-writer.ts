/**
 * Writing one version of a file: sparse, hashed, and never longer than the state allows.
 *
 * Every version a restore writes (the whole file from a files archive, each delta's output)
 * has a size and hash recorded in the state. The bytes go to a new file through a
 * `SparseWriter`, so blocks of zeros stay holes (a 20 GiB disk image with 1 MiB of data is
 * restored as 1 MiB on disk, not 20 GiB), and are hashed on the way. A stream that goes on
 * past the recorded size is cut off before the chunk that crosses it is written: a delta
 * that expands 6 bytes into 1 GiB fails after writing at most 6. Memory is one chunk.
 *
 * A version smaller than a block cannot hold a hole, so it is written plainly: that saves
 * the ftruncate that ends a sparse write, one system call per small file, which is most
 * files of most trees.
 */
import type { FileHandle } from 'node:fs/promises';
import { wrapIoError, type BackupError } from '../errors.js';
import { HOLE_BLOCK, SparseWriter } from '../io/holes.js';
import { createContentHasher } from '../tree/content-hash.js';

/** What was written. */
export interface WrittenVersion {
  /** Bytes written (the file's length). */
  size: number;
  /** xxHash64 of them, 16 lowercase hex digits. */
  hash: string;
}

/**
 * Write `data` into the new, empty file `fh` (named `path` in errors), leaving zero blocks
 * as holes. More than `limit` bytes throws `tooLong()` before any byte past `limit` is
 * written. Errors of `data` pass through unchanged; write errors are `EIO`/`ENOSPC` naming `path`.
 */
export async function writeVersion(
  fh: FileHandle,
  path: string,
  data: AsyncIterable<Uint8Array>,
  limit: number,
  tooLong: () => BackupError,
): Promise<WrittenVersion> {
  const hasher = await createContentHasher();
  const out = limit < HOLE_BLOCK ? new PlainWriter(fh, path) : new SparseWriter(fh, path);
  for await (const chunk of data) {
    if (out.bytesWritten + chunk.length > limit) throw tooLong();
    hasher.update(chunk);
    await out.write(chunk);
  }
  return { size: await out.end(), hash: hasher.digest() };
}

/** Writes chunks one after the other, zeros included (for versions smaller than a block). */
class PlainWriter {
  /** Bytes written so far: the file's length. */
  bytesWritten = 0;

  constructor(
    private readonly fh: FileHandle,
    private readonly path: string,
  ) {}

  /** Write `chunk` after the previous ones. */
  async write(chunk: Uint8Array): Promise<void> {
    for (let at = 0; at < chunk.length; ) {
      const { bytesWritten } = await this.fh.write(chunk, at, chunk.length - at, this.bytesWritten).catch((e: unknown) => {
        throw wrapIoError(e, this.path, 'writing');
      });
      at += bytesWritten;
      this.bytesWritten += bytesWritten;
    }
  }

  /** The file's length; nothing is left to do. */
  end(): number {
    return this.bytesWritten;
  }
}
