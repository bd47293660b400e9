/**
 * Sparse files: writing runs of zeros as holes, and finding the holes so they are not read.
 *
 * A sparse file (a disk image, a database with preallocated space) can be gigabytes long
 * with a few megabytes of data. Written back byte for byte it takes its whole length on
 * disk, and read byte for byte its holes cost as much time as data.
 *
 * Writing: {@link SparseWriter} writes into a new, empty file and simply does not write a
 * block-aligned block that is all zeros, as `cp --sparse=always` does: a region never
 * written reads as zeros, and where it covers whole file-system blocks none is allocated.
 * Zeros in a block that also holds data are written with it, so a hole is only ever made
 * where the file system can make one, and the non-zero blocks of a chunk go out in as few
 * writes as they form runs. The file's length is set at the end, which makes a trailing
 * run of zeros a hole too. Because the file starts empty, a zero part of a block at the
 * edge of a chunk can be skipped as well: the block is then a hole if the next chunk's
 * part of it is zero, and is allocated (reading zeros where nothing was written) if not.
 *
 * Reading: {@link dataSegments} asks the file system where the data lies (lseek SEEK_DATA
 * / SEEK_HOLE, through the addon, since node has no binding for them), so a reader can
 * yield zeros for the rest without reading it. Without the addon, or on a file system
 * that does not answer (EINVAL), the whole range is reported as data: slower, never wrong.
 */
import type { FileHandle } from 'node:fs/promises';
import { wrapIoError } from '../errors.js';
import { addonFor } from './native-addon.js';

/**
 * The unit of holes: a block of this size, at a file offset that is a multiple of it, is
 * left unwritten when it is all zeros. 4 KiB is the block of ext4, XFS, btrfs and tmpfs on
 * common hardware; a file system with larger blocks makes holes where whole ones are zero.
 */
export const HOLE_BLOCK = 4096;

const ZERO_BLOCK = Buffer.alloc(HOLE_BLOCK);

/** True when `bytes[start, end)` (at most one block) is all zeros; memcmp speed. */
function isZero(bytes: Uint8Array, start: number, end: number): boolean {
  return ZERO_BLOCK.compare(bytes, start, end, 0, end - start) === 0;
}

/**
 * Writes a stream of chunks to a new, empty file, leaving all-zero blocks as holes (see the
 * module header). It keeps no data between calls: memory is the chunk being written.
 */
export class SparseWriter {
  private length = 0;

  /**
   * @param fh An open, new, empty file (opened for writing); the writer does not close it.
   * @param path The file's name, for error messages.
   */
  constructor(
    private readonly fh: FileHandle,
    private readonly path: string,
  ) {}

  /** Logical bytes written so far: the file's length once {@link SparseWriter.end} runs. */
  get bytesWritten(): number {
    return this.length;
  }

  /** Write `chunk` after the previous ones. Wait for it before writing the next. */
  async write(chunk: Uint8Array): Promise<void> {
    const base = this.length;
    let run = -1;
    for (let i = 0; i < chunk.length; ) {
      const next = Math.min(chunk.length, i + HOLE_BLOCK - ((base + i) % HOLE_BLOCK));
      if (!isZero(chunk, i, next)) {
        if (run < 0) run = i;
      } else if (run >= 0) {
        await this.put(chunk, run, i, base);
        run = -1;
      }
      i = next;
    }
    if (run >= 0) await this.put(chunk, run, chunk.length, base);
    this.length = base + chunk.length;
  }

  /** Set the file's length to the bytes written, making trailing zeros a hole; returns it. */
  async end(): Promise<number> {
    await this.fh.truncate(this.length).catch((e: unknown) => {
      throw wrapIoError(e, this.path, 'writing');
    });
    return this.length;
  }

  /** Write `chunk[start, end)` at file offset `base + start`, however many calls it takes. */
  private async put(chunk: Uint8Array, start: number, end: number, base: number): Promise<void> {
    for (let at = start; at < end; ) {
      const { bytesWritten } = await this.fh.write(chunk, at, end - at, base + at).catch((e: unknown) => {
        throw wrapIoError(e, this.path, 'writing');
      });
      at += bytesWritten;
    }
  }
}

/** Options of {@link dataSegments}. */
export interface DataSegmentsOptions {
  /**
   * Ask the file system through the addon: `true` requires it (an `ENATIVE` error when it
   * is not built), `false` reports the whole range as data (tests of that path). Default:
   * the addon when it loads.
   */
  native?: boolean;
}

/**
 * The data ranges `[from, to)` of the open file `fd` within `[start, end)`, in order; the
 * gaps between them are holes, which read as zeros. The whole range when the platform
 * cannot tell (no addon, or a file system without SEEK_DATA). Ranges are looked up one at
 * a time as the iteration proceeds, so memory does not grow with the number of holes.
 * `path` names the file in errors.
 */
export function* dataSegments(
  fd: number,
  start: number,
  end: number,
  path: string,
  options: DataSegmentsOptions = {},
): Generator<[from: number, to: number], void, undefined> {
  if (start >= end) return;
  const addon = addonFor(options.native, path, 'finding the holes of');
  if (addon === undefined) {
    yield [start, end];
    return;
  }
  for (let at = start; at < end; ) {
    let from: number;
    let hole: number;
    try {
      from = addon.seekData(fd, at);
      if (from < 0 || from >= end) return;
      hole = addon.seekHole(fd, from);
    } catch (e) {
      if (at === start && (e as NodeJS.ErrnoException).code === 'EINVAL') {
        yield [start, end];
        return;
      }
      throw wrapIoError(e, path, 'finding the holes of');
    }
    const to = hole < 0 || hole > end ? end : hole;
    yield [from, to];
    at = to;
  }
}
