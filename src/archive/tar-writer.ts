/**
 * Writing a tar archive (optionally compressed) to a file, entry by entry, with backpressure.
 *
 * A backup writes tens of thousands of entries of a few KiB, so the cost that matters is per
 * entry, not per byte. Each entry's header is encoded synchronously (tar-header.ts: the bytes
 * tar-stream writes, PAX for long or unicode names, base-256 sizes past 8 GiB) and copied,
 * with the body and its padding, into a 1 MiB block; a body already in memory (a
 * `Uint8Array`) is copied in one go, with no stream, and waits only when a block fills and too
 * many are in flight. Only a full block goes on: written in one
 * call, or compressed off the main thread by its codec (codec.ts: an independent gzip member
 * on libuv's thread pool, or a zstd frame on a codec thread), several blocks at once, written
 * strictly in order (ordered-writes.ts). Blocks are cut at fixed offsets of the tar stream and
 * each compressed block depends on its block's bytes alone, so the archive is byte-identical
 * whatever the timing or the number of blocks in flight.
 *
 * Memory, per open writer and whatever the entry count or sizes: the 1 MiB block being
 * filled, plus at most `inFlight` blocks queued (default {@link DEFAULT_IN_FLIGHT}: the cores,
 * 2 or 3 with libuv's default thread pool), each holding its 1 MiB of tar bytes and, while it
 * is compressed, a 1.06 MiB output buffer, ~0.3 MiB of zlib state and the member itself (with
 * zstd: the block, handed to its thread, and a 1 MiB frame buffer): under 1 + 3 × inFlight MiB
 * (7–10 MiB by default, 25 MiB at most). The codec threads' zstd contexts (~2 MiB each) are
 * per process, not per writer.
 *
 * The archive is written under a temporary name beside the destination, hashed and counted
 * as it goes, fsync'd, and renamed into place only in `finish`: a crash leaves a stray
 * temporary file, never a half-written archive under the real name. The first write failure
 * (ENOSPC, EIO) is what every later call reports. Header metadata is best effort (sub-second
 * mtimes dropped, mtimes outside 1970–2038 stored as 0, large uids clamped): the backup state
 * is authoritative and the headers serve manual recovery.
 */
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { createContentHasher, type ContentHasher } from '../tree/content-hash.js';
import { wrapIoError } from '../errors.js';
import { tempName } from '../io/temp-name.js';
import { codecOf, type Compression } from './codec.js';
import { OrderedWrites } from './ordered-writes.js';
import { encodeTarHeader, writeTarHeader, type TarHeaderFields } from './tar-header.js';

export { looksIncompressible } from './gzip-members.js';

/** The header of an entry being written. */
export interface TarEntryHeader {
  /** Entry path inside the archive. */
  name: string;
  /** Entry type. */
  type: 'file' | 'directory' | 'symlink';
  /** Permission bits. */
  mode: number;
  /** Modification time in nanoseconds (decimal string), stored at whole-second precision. */
  mtime: string;
  /** Owner (clamped in the header when large). */
  uid?: number;
  /** Group (clamped in the header when large). */
  gid?: number;
  /** Byte count of a file entry's body. */
  size?: number;
  /** Symlink target. */
  linkname?: string;
}

/** Size and content hash of a finished archive file. */
export interface ArchiveSummary {
  /** Bytes in the archive file. */
  size: number;
  /** Content hash of the archive file. */
  hash: string;
}

/** Tuning of a {@link TarWriter}; none of it changes the bytes written. */
export interface TarWriterOptions {
  /** Blocks compressed or written concurrently before `add` waits (default {@link DEFAULT_IN_FLIGHT}). */
  inFlight?: number;
  /**
   * Also given every block of the archive file as it is written, in order (an upload of the
   * archive as it grows); writing waits for what it returns. The block is only valid during
   * the call.
   */
  tap?: (bytes: Uint8Array) => Promise<void> | undefined;
}

/**
 * Blocks in flight by default: one per core, at least 2 (one compressing while one is
 * written), at most 8, and always fewer than libuv's thread pool has threads (4 unless
 * `UV_THREADPOOL_SIZE` says otherwise), so that the file system calls of the rest of the
 * backup (opening and reading the files being archived) never queue behind compressions.
 */
export const DEFAULT_IN_FLIGHT = Math.max(2, Math.min(availableParallelism(), 8, (Number(process.env.UV_THREADPOOL_SIZE) || 4) - 1));
/** Tar bytes gathered into one write and one compressed block. */
const BLOCK = 1 << 20;
/** Latest time a tar header holds as tar-stream encodes it (2038-01-19). */
const MAX_HEADER_SECONDS = 2 ** 31 - 1;
/** Two zero blocks end a tar archive. */
const END_OF_ARCHIVE = new Uint8Array(1024);
const ZEROS = new Uint8Array(512);

/** Streams entries into a tar file that appears under its name only when finished. */
export class TarWriter {
  private readonly tmp: string;
  private readonly queue: OrderedWrites;
  private file?: Promise<FileHandle>;
  private hasher?: Promise<ContentHasher>;
  private block?: Buffer;
  private fill = 0;
  private size = 0;
  /**
   * The first failure writing the file (ENOSPC, EIO): whatever fails after it (a torn-down
   * queue, a closed file) is a consequence, so every error path reports this one instead.
   */
  private failure?: unknown;
  /** Why no entry may be added any more: one failed after part of it was written, or the archive was finished or aborted. */
  private broken?: unknown;
  private aborted = false;
  /** Entries written. */
  entries = 0;
  private readonly tap: TarWriterOptions['tap'];

  private constructor(
    readonly path: string,
    private readonly compression: Compression,
    options: TarWriterOptions,
  ) {
    this.tmp = join(dirname(path), tempName(basename(path)));
    this.queue = new OrderedWrites((bytes) => this.write(bytes), Math.max(1, options.inFlight ?? DEFAULT_IN_FLIGHT));
    this.tap = options.tap;
  }

  /** Start writing the archive `path`; the file is created when the first block is written. */
  static create(path: string, compression: Compression = 'none', options: TarWriterOptions = {}): TarWriter {
    return new TarWriter(path, compression, options);
  }

  /**
   * Append one entry. A file's body is its bytes in memory (the fast path) or a stream that
   * must yield exactly `header.size` bytes; other entries have none. A body of the wrong size
   * fails before anything is written when it is in memory; a stream that fails or runs long or
   * short leaves a partial entry behind, and the archive can then only be aborted.
   */
  async add(header: TarEntryHeader, body?: Uint8Array | AsyncIterable<Uint8Array>): Promise<void> {
    const stop = this.failure ?? this.broken;
    if (stop !== undefined) throw wrapIoError(stop, this.path, 'writing');
    const isFile = header.type === 'file';
    const inMemory = body instanceof Uint8Array ? body : undefined;
    const size = isFile ? header.size ?? inMemory?.length ?? 0 : 0;
    let started = false;
    try {
      if (isFile && inMemory && inMemory.length !== size) throw sizeMismatch(header.name, inMemory.length, size);
      const fields: TarHeaderFields = {
        name: header.name,
        type: header.type,
        mode: header.mode,
        uid: header.uid,
        gid: header.gid,
        size,
        mtime: headerSeconds(header.mtime),
        linkname: header.linkname,
      };
      // Every part of an entry is a whole number of 512-byte records, so a header always finds
      // room at the fill point of a block; only a PAX header goes through a buffer of its own.
      this.block ??= Buffer.allocUnsafeSlow(BLOCK);
      const plain = writeTarHeader(fields, this.block, this.fill);
      const pax = plain ? undefined : encodeTarHeader(fields);
      started = true;
      if (plain) this.fill += 512;
      await (pax ? this.append(pax) : this.passIfFull());
      if (isFile) {
        if (inMemory) await this.append(inMemory);
        else await this.appendStream(header.name, body as AsyncIterable<Uint8Array> | undefined, size);
        await this.append(ZEROS.subarray(0, (512 - (size % 512)) % 512));
      }
      this.entries++;
    } catch (e) {
      if (started) this.broken ??= e;
      throw wrapIoError(this.failure ?? e, this.path, 'writing');
    }
  }

  /** Copy a streamed body in, checking that it yields exactly `size` bytes. */
  private async appendStream(name: string, body: AsyncIterable<Uint8Array> | undefined, size: number): Promise<void> {
    let seen = 0;
    for await (const chunk of body ?? []) {
      seen += chunk.length;
      if (seen > size) throw sizeMismatch(name, seen, size);
      await this.append(chunk);
    }
    if (seen !== size) throw sizeMismatch(name, seen, size);
  }

  /**
   * Copy tar bytes into the current block, passing each full block on. Returns a promise only
   * when a block was passed on: most entries of a small file fit and cost no asynchronous step.
   */
  private append(bytes: Uint8Array): Promise<void> | undefined {
    if (this.fill + bytes.length < BLOCK) {
      this.block ??= Buffer.allocUnsafeSlow(BLOCK);
      this.block.set(bytes, this.fill);
      this.fill += bytes.length;
      return undefined;
    }
    return this.appendAcross(bytes);
  }

  private async appendAcross(bytes: Uint8Array): Promise<void> {
    for (let at = 0; at < bytes.length; ) {
      this.block ??= Buffer.allocUnsafeSlow(BLOCK);
      const n = Math.min(BLOCK - this.fill, bytes.length - at);
      this.block.set(bytes.subarray(at, at + n), this.fill);
      this.fill += n;
      at += n;
      await this.passIfFull();
    }
  }

  private passIfFull(): Promise<void> | undefined {
    return this.fill === BLOCK ? this.passBlock() : undefined;
  }

  /** Queue the current block, compressed by its codec (which may take its buffer over); waits while too many are in flight. */
  private async passBlock(): Promise<void> {
    const tar = this.block!.subarray(0, this.fill);
    this.block = undefined;
    this.fill = 0;
    await this.queue.push(codecOf(this.compression).compressBlock(tar));
  }

  /** Write bytes at the end of the file, hashing and counting them; called in order, one at a time. */
  private async write(bytes: Uint8Array): Promise<void> {
    try {
      // An add still running when abort was called must not create the file again.
      if (this.aborted) throw new Error('the archive was aborted');
      this.file ??= open(this.tmp, 'wx');
      this.hasher ??= createContentHasher();
      const [fh, hasher] = await Promise.all([this.file, this.hasher]);
      hasher.update(bytes);
      this.size += bytes.length;
      // A write near a full disk can be short: the rest must go in a second call, which then
      // reports ENOSPC, rather than be lost.
      for (let at = 0; at < bytes.length; ) {
        const { bytesWritten } = await fh.write(bytes, at, bytes.length - at);
        if (bytesWritten === 0) throw new Error('the file system accepted no bytes');
        at += bytesWritten;
      }
      await this.tap?.(bytes);
    } catch (e) {
      this.failure ??= e;
      throw e;
    }
  }

  /** Close the archive and rename it into place; returns its size and hash. */
  async finish(): Promise<ArchiveSummary> {
    try {
      const stop = this.failure ?? this.broken;
      if (stop !== undefined) throw stop;
      await this.append(END_OF_ARCHIVE);
      if (this.fill > 0) await this.passBlock();
      await this.queue.flush();
      const fh = await this.file!;
      const hasher = await this.hasher!;
      await fh.sync();
      this.file = undefined;
      await fh.close();
      await rename(this.tmp, this.path);
      this.broken = new Error('the archive is already finished');
      return { size: this.size, hash: hasher.digest() };
    } catch (e) {
      const cause = this.failure ?? e;
      await this.abort();
      throw wrapIoError(cause, this.path, 'writing');
    }
  }

  /** Stop and remove the temporary file. */
  async abort(): Promise<void> {
    this.aborted = true;
    this.broken ??= new Error('the archive was aborted');
    await this.queue.settled();
    const fh = await this.file?.catch(() => undefined);
    this.file = undefined;
    await fh?.close().catch(() => undefined);
    await rm(this.tmp, { force: true }).catch(() => undefined);
  }
}

/** Whole seconds of a nanosecond timestamp, or 0 outside what the header field holds. */
function headerSeconds(mtimeNs: string): number {
  const seconds = Number(BigInt(mtimeNs) / 1_000_000_000n);
  return seconds >= 0 && seconds <= MAX_HEADER_SECONDS ? seconds : 0;
}

function sizeMismatch(name: string, seen: number, size: number): Error {
  return new Error(seen > size ? `entry ${name}: its body has more than the ${size} bytes its header says` : `entry ${name}: its body has ${seen} bytes, its header says ${size}`);
}
