/**
 * Reading a file of the source tree, which may change, vanish or be replaced while it is read.
 *
 * Opening. The file is reached through its open parent directory (a `DirTree`), so the depth
 * of the tree does not matter (no PATH_MAX) and no symlink swapped into its path is followed.
 * It is opened O_NONBLOCK|O_NOFOLLOW|O_NOCTTY and the descriptor is fstat'ed before anything
 * is read: a FIFO swapped in for the file would block a plain open forever (and its read after
 * that), a directory would fail deep inside the archive writer. Whatever is not a regular file
 * is refused with a warning, never an error, because nothing a source tree contains may hang
 * or abort a backup.
 *
 * Reading. A tar entry's size is written before its bytes, and a backup promises that what it
 * records is exactly what it stored. So the metadata recorded is the fstat of the opened
 * descriptor (the file may have changed between the walk and the open), and exactly its size
 * is read: bytes past it are left out, a missing tail (the file shrank) is filled with zeros.
 * Holes are not read: the file system says where the data lies (`dataSegments`) and a shared
 * zero chunk stands for the rest, so a 1 GiB disk image with 1 MiB of data costs 1 MiB of
 * reads. Every consumer (archive, signature, delta, content hash) sees the same bytes.
 *
 * Change detection. After the read the descriptor is fstat'ed again; a file whose size, mtime,
 * ctime or inode moved, or that came up short, is flagged `changed`. The ctime catches a writer
 * that puts the mtime back (`touch -r`, `rsync --inplace -t`, VM tools), which no process can
 * do to the ctime. One case remains, git's "racily clean" file: timestamps come from a coarse
 * clock, so a write in the same clock tick as the first fstat leaves every field as it was and
 * is invisible both now and to the next backup's quick check. A file whose ctime or mtime lies
 * within {@link RACY_MARGIN_MS} of the moment the read started is therefore reported `racy`:
 * the caller records it so the next backup reads it again, without a warning.
 */
import { constants, type BigIntStats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { BackupError, isBackupError, wrapIoError } from '../errors.js';
import { dataSegments } from '../io/holes.js';
import type { DirTree } from '../io/dir-tree.js';
import { entryTypeOf, metaOf, type EntryMeta, type EntryType } from './dir-state.js';
import type { TreeWarning } from './walk.js';

const { O_RDONLY, O_NONBLOCK, O_NOFOLLOW, O_NOCTTY } = constants;
/** Never wait for a writer (FIFO), never follow a symlink, never take a terminal as ours. */
const OPEN_FLAGS = O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY;
const CHUNK = 1 << 20;
/** What a hole reads as. Shared by every read: consumers never write into a chunk. */
const ZEROS = new Uint8Array(CHUNK);

/**
 * How close (either side) to the start of a read a file's ctime or mtime must be for the
 * file to be `racy`. A write is invisible to the before/after comparison only if it lands in
 * the same timestamp granule as the last write before the first fstat, so the margin is the
 * coarsest granule in common use plus the clock skew a file server may have:
 *  - granularity: one kernel tick (4 to 10 ms) on ext4, XFS, btrfs and tmpfs; 1 s on ext3,
 *    HFS+ and many FUSE and NFS servers; 2 s for FAT's mtime, the coarsest;
 *  - skew: network file systems (NFS, SMB) stamp times with the server's clock, which NTP
 *    keeps within milliseconds of ours; 1 s covers a loosely synchronised server.
 * The cost of a wide margin is small: only files written in the last 3 s before they were read
 * are read again by the next backup. A timestamp far in the future (`touch -d`) is not racy:
 * a later write sets the time to now, which differs from it.
 */
export const RACY_MARGIN_MS = 3000;

/** Options of {@link openStable}. */
export interface StableReadOptions {
  /**
   * The racy margin in milliseconds (default {@link RACY_MARGIN_MS}). Raise it for a file
   * server whose clock is known to drift further; 0 turns the racy check off (tests of the
   * before/after comparison alone).
   */
  racyMarginMs?: number;
}

/**
 * An open read of one regular file. Close it when done, in a `finally`: the chunks close the
 * file when they end, but a read that is never iterated, or abandoned, holds its descriptor
 * until {@link StableRead.close}.
 */
export interface StableRead {
  /** The metadata of the opened file, from its descriptor: what the chunks' bytes are. */
  readonly meta: EntryMeta;
  /**
   * Exactly `meta.size` bytes in chunks of at most 1 MiB (a shrunk file zero-padded, a grown
   * one cut). Read-only: the chunks of holes share one buffer, so a consumer must never write
   * into a chunk or transfer its buffer (copy it first).
   */
  readonly chunks: AsyncGenerator<Uint8Array, void, undefined>;
  /** The file changed while it was read (size, mtime, ctime or inode moved, or a short read). Valid once the chunks are consumed. */
  readonly changed: boolean;
  /** The file's times are too recent for an unchanged read to be trusted as clean (see {@link RACY_MARGIN_MS}). Valid once the chunks are consumed. */
  readonly racy: boolean;
  /** Close the file. Idempotent; the chunks must not be read afterwards. */
  close(): Promise<void>;
}

/**
 * What opening a file gave: a read, or a warning when the file cannot be read. `keepPrevious`
 * says whether the backup should keep the file's previous version: yes when it exists but
 * cannot be read now (`EUNREADABLE` for permissions or I/O errors), no when it is gone
 * (`EVANISHED`) or is no longer a regular file (`ESPECIAL`, or `EUNREADABLE` for a directory,
 * a symlink, or a directory on its path replaced by one).
 */
export type OpenOutcome = { read: StableRead; warning?: undefined } | Refusal;

/** An {@link OpenOutcome} without a read. */
export type Refusal = { read?: undefined; warning: TreeWarning; keepPrevious: boolean };

/**
 * Open the regular file at `path` (posix, relative to the root of `tree`) for a stable read.
 * Never blocks on what it finds and never throws for what the tree contains: a missing file,
 * a FIFO, socket, device, directory or symlink where the file was, an unreadable file or
 * parent are each an outcome with a warning (see {@link OpenOutcome}).
 *
 * @throws {@link BackupError} `EPARAM` when `path` is not a relative posix path of entry
 *   names; `EINTERNAL` when the tree is closed. Reading the chunks throws `EIO` for an I/O
 *   error in the middle of the file.
 */
export async function openStable(tree: DirTree, path: string, options: StableReadOptions = {}): Promise<OpenOutcome> {
  const parts = path.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\0'))) {
    throw new BackupError('EPARAM', `${JSON.stringify(path)} is not a path inside ${tree.root.path}: it must be relative and posix, without empty, "." or ".." segments or NUL`);
  }
  const name = parts.pop()!;
  const shown = join(tree.root.path, path);
  const started = BigInt(Date.now()) * 1_000_000n;
  let fh: FileHandle;
  try {
    fh = await tree.use(parts.join('/'), (dir) => open(dir.entry(name), OPEN_FLAGS));
  } catch (e) {
    return refused(e, path);
  }
  let st: BigIntStats;
  try {
    st = await fh.stat({ bigint: true });
  } catch (e) {
    await fh.close().catch(() => undefined);
    return refused(e, path);
  }
  const type = entryTypeOf(st);
  if (type !== 'file') {
    await fh.close().catch(() => undefined);
    return notAFile(type, path);
  }
  const margin = BigInt(Math.max(0, options.racyMarginMs ?? RACY_MARGIN_MS)) * 1_000_000n;
  const near = (ns: bigint): boolean => (ns > started ? ns - started : started - ns) < margin;
  return { read: new FileRead(fh, shown, st, margin > 0n && (near(st.ctimeNs) || near(st.mtimeNs))) };
}

/** A refused read of what is no longer a regular file. */
export function notAFile(type: Exclude<EntryType, 'file'> | 'socket' | 'fifo' | 'device', path: string): Refusal {
  if (type === 'dir') return { warning: { code: 'EUNREADABLE', path, message: 'is a directory where a file was expected; skipped' }, keepPrevious: false };
  return { warning: { code: 'ESPECIAL', path, message: `is a ${type} where a file was expected; skipped (backups store files, directories and symlinks)` }, keepPrevious: false };
}

/** A failed open as an outcome; errors that are not about the tree's contents are rethrown. */
export function refused(e: unknown, path: string): Refusal {
  if (isBackupError(e, 'EUNSAFEPATH')) {
    return { warning: { code: 'EUNREADABLE', path, message: 'a directory on its path was replaced by a symlink or a file; skipped' }, keepPrevious: false };
  }
  if (isBackupError(e) && e.code !== 'EIO') throw e;
  const sys = (isBackupError(e) ? e.cause : e) as NodeJS.ErrnoException | undefined;
  switch (sys?.code) {
    case 'ENOENT':
      return { warning: { code: 'EVANISHED', path, message: 'vanished before it could be read' }, keepPrevious: false };
    case 'ELOOP':
      return { warning: { code: 'EUNREADABLE', path, message: 'is a symlink where a file was expected; not followed, skipped' }, keepPrevious: false };
    case 'ENXIO':
      return { warning: { code: 'ESPECIAL', path, message: 'is a socket or device where a file was expected; skipped' }, keepPrevious: false };
    default:
      return { warning: { code: 'EUNREADABLE', path, message: `cannot be read (${reasonOf(sys)})` }, keepPrevious: true };
  }
}

/**
 * The reason in a node error without the path it names: for an anchored path that is
 * `/proc/self/fd/N/name`, which means nothing to a user.
 */
export function reasonOf(e: NodeJS.ErrnoException | undefined): string {
  if (!e) return 'unknown error';
  const message = String(e.message ?? e);
  const comma = message.indexOf(', ');
  return comma > 0 ? message.slice(0, comma) : message;
}

/** True when the content may have moved between two fstats of one descriptor. */
function moved(a: BigIntStats, b: BigIntStats): boolean {
  return a.size !== b.size || a.mtimeNs !== b.mtimeNs || a.ctimeNs !== b.ctimeNs || a.ino !== b.ino || a.dev !== b.dev;
}

class FileRead implements StableRead {
  readonly meta: EntryMeta;
  readonly chunks: AsyncGenerator<Uint8Array, void, undefined>;
  readonly racy: boolean;
  private isChanged = false;
  private closing?: Promise<void>;

  constructor(
    private readonly fh: FileHandle,
    private readonly path: string,
    private readonly before: BigIntStats,
    racy: boolean,
  ) {
    this.meta = metaOf(before, 'file');
    this.racy = racy;
    this.chunks = this.read();
  }

  get changed(): boolean {
    return this.isChanged;
  }

  close(): Promise<void> {
    // A failed close of a read-only descriptor loses nothing, and the descriptor is gone either way.
    this.closing ??= this.fh.close().catch(() => undefined);
    return this.closing;
  }

  private async *read(): AsyncGenerator<Uint8Array, void, undefined> {
    try {
      const size = Number(this.before.size);
      const segments = dataSegments(this.fh.fd, 0, size, this.path);
      let seg = this.nextSegment(segments);
      let short = false;
      for (let pos = 0; pos < size; ) {
        const end = Math.min(size, pos + CHUNK);
        if (!seg || seg[0] >= end) {
          yield ZEROS.subarray(0, end - pos);
          pos = end;
          continue;
        }
        const buf = new Uint8Array(end - pos);
        while (seg && seg[0] < end) {
          const from = Math.max(seg[0], pos);
          const to = Math.min(seg[1], end);
          if ((await this.readAt(buf, from - pos, to - from, from)) < to - from) {
            // The file shrank: what is left reads as zeros, and the read is flagged below.
            short = true;
            seg = undefined;
          } else if (seg[1] <= end) seg = this.nextSegment(segments);
          else break;
        }
        yield buf;
        pos = end;
      }
      this.checkOpen();
      const after = await this.fh.stat({ bigint: true }).catch((e: unknown) => {
        throw wrapIoError(e, this.path, 'reading');
      });
      this.isChanged = short || moved(this.before, after);
    } finally {
      await this.close();
    }
  }

  private nextSegment(segments: Generator<[number, number], void, undefined>): [number, number] | undefined {
    // The segments come from lseek on the raw descriptor number, which another open may
    // reuse once this one is closed.
    this.checkOpen();
    const r = segments.next();
    return r.done ? undefined : r.value;
  }

  /** Read `length` bytes at file offset `position` into `buf[offset…]`; fewer at the end of the file. */
  private async readAt(buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    let got = 0;
    while (got < length) {
      this.checkOpen();
      const { bytesRead } = await this.fh.read(buf, offset + got, length - got, position + got).catch((e: unknown) => {
        throw wrapIoError(e, this.path, 'reading');
      });
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got;
  }

  private checkOpen(): void {
    if (this.closing) throw new BackupError('EINTERNAL', `${this.path}: read after it was closed`, { path: this.path });
  }
}
