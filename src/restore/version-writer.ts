/**
 * Writing one version of a file: sparse, hashed, and never longer than the state allows.
 *
 * Every version a restore writes (the whole file from a files archive, each delta's output)
 * has a size and hash recorded in the state. A large version streams: the bytes go to a new
 * file through a `SparseWriter`, so blocks of zeros stay holes (a 20 GiB disk image with
 * 1 MiB of data is restored as 1 MiB on disk, not 20 GiB), and are hashed on the way. A
 * stream that goes on past the recorded size is cut off before the chunk that crosses it is
 * written: a delta that expands 6 bytes into 1 GiB fails after writing at most 6. Memory is
 * one chunk.
 *
 * A small version (most files of most trees) is whole in memory before a file is created:
 * it is checked first, so a wrong one never reaches the target, and then written in as few
 * calls as it allows. One write when no block of it is all zeros, so no ftruncate ends it;
 * holes as above when some block is.
 */
import type { FileHandle } from 'node:fs/promises';
import { wrapIoError, type BackupError } from '../errors.js';
import { HOLE_BLOCK, SparseWriter } from '../io/holes.js';
import { createContentHasher } from '../tree/content-hash.js';

const ZERO_BLOCK = Buffer.alloc(HOLE_BLOCK);

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

/** The size and hash of the version `bytes`. */
export async function measureVersion(bytes: Uint8Array): Promise<WrittenVersion> {
  const hasher = await createContentHasher();
  hasher.update(bytes);
  return { size: bytes.length, hash: hasher.digest() };
}

/**
 * The whole of `data` in one buffer. More than `limit` bytes throws `tooLong()` before
 * anything past `limit` is held (memory is `limit`). Errors of `data` pass through unchanged.
 */
export async function collectVersion(data: AsyncIterable<Uint8Array>, limit: number, tooLong: () => BackupError): Promise<Uint8Array> {
  const bytes = Buffer.allocUnsafe(limit);
  let size = 0;
  for await (const chunk of data) {
    if (size + chunk.length > limit) throw tooLong();
    bytes.set(chunk, size);
    size += chunk.length;
  }
  return bytes.subarray(0, size);
}

/**
 * Write the version `bytes` into the new, empty file `fh` (named `path` in errors): in one
 * write when no block of it is all zeros, else leaving those blocks as holes. Write errors
 * are `EIO`/`ENOSPC` naming `path`.
 */
export async function writeBytes(fh: FileHandle, path: string, bytes: Uint8Array): Promise<void> {
  if (holdsHoles(bytes)) {
    const out = new SparseWriter(fh, path);
    await out.write(bytes);
    await out.end();
  } else await new PlainWriter(fh, path).write(bytes);
}

/** Whether {@link writeBytes} leaves holes in a file of `bytes`: one write does not do for it. */
export function holdsHoles(bytes: Uint8Array): boolean {
  return bytes.length >= HOLE_BLOCK && hasZeroBlock(bytes);
}

/** Whether a block of `bytes` (at a multiple of {@link HOLE_BLOCK}, the last one possibly short) is all zeros. */
function hasZeroBlock(bytes: Uint8Array): boolean {
  for (let at = 0; at < bytes.length; at += HOLE_BLOCK) {
    const end = Math.min(bytes.length, at + HOLE_BLOCK);
    if (ZERO_BLOCK.compare(bytes, at, end, 0, end - at) === 0) return true;
  }
  return false;
}

/** Writes chunks one after the other, zeros included (for versions that cannot or need not hold a hole). */
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
