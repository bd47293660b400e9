/**
 * Writing a tar archive (optionally gzipped) to a file, entry by entry, with backpressure.
 *
 * tar-stream formats each entry (ustar, PAX for long or unicode names, base-256 sizes past
 * 8 GiB). Every entry gets its own small pack stream, whose output is exactly that entry's
 * header, data and padding once the two end-of-archive blocks are held back; the writer
 * appends those bytes to the archive and adds the end-of-archive blocks itself in `finish`.
 * Knowing where each entry's bytes start and stop is what lets compression follow content:
 * deflating data that is already compressed (photos, archives, video) is the slowest thing a
 * backup can do and gains nothing, so the first chunk of each large entry is sampled and,
 * when its bytes look random, the entry goes into a gzip member of stored (level 0) blocks.
 * A gzip file may hold any number of members (RFC 1952 §2.2); gzip, GNU tar and node read
 * them as one stream, so the archive is still one ordinary .tar.gz.
 *
 * The archive is written under a temporary name beside the destination, hashed and counted
 * as it goes, fsync'd, and renamed into place only in `finish`: a crash leaves a stray
 * temporary file, never a half-written archive under the real name. Header metadata is best
 * effort (tar-stream drops sub-second mtimes, mis-encodes mtimes from 2038 on and clamps
 * large uids): the backup state is authoritative and the headers serve manual recovery.
 */
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createGzip, type Gzip } from 'node:zlib';
import tar from 'tar-stream';
import { createContentHasher, type ContentHasher } from '../tree/content-hash.js';
import { wrapIoError } from '../errors.js';
import { tempName } from '../io/temp-name.js';

/** The header of an entry being written. */
export interface TarEntryHeader {
  name: string;
  type: 'file' | 'directory' | 'symlink';
  /** Permission bits. */
  mode: number;
  /** Modification time in nanoseconds (decimal string), stored at whole-second precision. */
  mtime: string;
  uid?: number;
  gid?: number;
  /** Byte count of a file entry's body. */
  size?: number;
  /** Symlink target. */
  linkname?: string;
}

/** Size and content hash of a finished archive file. */
export interface ArchiveSummary {
  size: number;
  hash: string;
}

/** Archive compression. */
export type Compression = 'gzip' | 'none';

/** Latest time tar-stream encodes correctly (2038-01-19). */
const MAX_HEADER_SECONDS = 2 ** 31 - 1;
/** Two zero blocks end a tar archive. */
const END_OF_ARCHIVE = 1024;
/** gzip level for compressible data: archives are written once per backup, so speed beats the last percent. */
const GZIP_LEVEL = 1;
/** Entries smaller than this are deflated whatever they hold: a new gzip member costs a few bytes. */
const SNIFF_MIN = 64 * 1024;
/** Bytes sampled, and the entropy (bits per byte) above which a sample counts as incompressible. */
const SNIFF_BYTES = 16 * 1024;
const INCOMPRESSIBLE_BITS = 7.5;

/** Whether `chunk` looks already compressed: the byte entropy of its first bytes is near 8 bits. */
export function looksIncompressible(chunk: Uint8Array): boolean {
  const n = Math.min(chunk.length, SNIFF_BYTES);
  if (n < 1024) return false;
  const counts = new Uint32Array(256);
  for (let i = 0; i < n; i++) counts[chunk[i]!]!++;
  let bits = 0;
  for (const c of counts) if (c > 0) bits -= (c / n) * Math.log2(c / n);
  return bits > INCOMPRESSIBLE_BITS;
}

/** One gzip member being written, and the loop copying its output to the file. */
interface Member {
  level: number;
  gzip: Gzip;
  copied: Promise<void>;
}

/** Streams entries into a tar file that appears under its name only when finished. */
export class TarWriter {
  private readonly tmp: string;
  private handle?: Promise<FileHandle>;
  private hasher?: Promise<ContentHasher>;
  private member?: Member;
  private size = 0;
  /**
   * The first failure writing the file (ENOSPC, EIO). Streams torn down after it report only
   * their own teardown ("aborted", "destroyed"), so every error path reports this one instead.
   */
  private failure?: unknown;
  /** Entries written. */
  entries = 0;

  private constructor(
    readonly path: string,
    private readonly compression: Compression,
  ) {
    this.tmp = join(dirname(path), tempName(basename(path)));
  }

  /** Start writing the archive `path`; the file is created with the first entry. */
  static create(path: string, compression: Compression = 'none'): TarWriter {
    return new TarWriter(path, compression);
  }

  /** Append bytes to the file, hashing and counting them. */
  private async emit(chunk: Uint8Array): Promise<void> {
    this.handle ??= open(this.tmp, 'wx');
    this.hasher ??= createContentHasher();
    try {
      const [fh, hasher] = await Promise.all([this.handle, this.hasher]);
      hasher.update(chunk);
      this.size += chunk.length;
      await fh.write(chunk);
    } catch (e) {
      this.failure ??= e;
      throw e;
    }
  }

  /** Append tar bytes, through the current gzip member when compressing. */
  private async put(chunk: Uint8Array): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    if (!this.member) return this.emit(chunk);
    const gz = this.member.gzip;
    if (!gz.write(chunk)) await drained(gz);
  }

  /** Make sure the current gzip member deflates at `level`, starting a new member if not. */
  private async useLevel(level: number): Promise<void> {
    if (this.member?.level === level) return;
    await this.endMember();
    const gzip = createGzip({ level, chunkSize: 256 * 1024 });
    const copied = (async () => {
      for await (const out of gzip) await this.emit(out as Uint8Array);
    })();
    // A failed write ends the copy loop; the member must then fail its writers too, or a
    // producer waiting for 'drain' would wait forever.
    copied.catch((e: unknown) => gzip.destroy(e as Error));
    this.member = { level, gzip, copied };
  }

  private async endMember(): Promise<void> {
    const m = this.member;
    if (!m) return;
    this.member = undefined;
    m.gzip.end();
    await m.copied;
  }

  /** Append one entry; `body` must yield exactly `header.size` bytes for a file. */
  async add(header: TarEntryHeader, body?: AsyncIterable<Uint8Array>): Promise<void> {
    let release: (() => Promise<unknown>) | undefined;
    try {
      let level = GZIP_LEVEL;
      if (this.compression === 'gzip' && body && (header.size ?? 0) >= SNIFF_MIN) {
        const sniffed = await sniff(body);
        body = sniffed.body;
        release = sniffed.release;
        if (sniffed.incompressible) level = 0;
      }
      if (this.compression === 'gzip') await this.useLevel(level);
      await this.writeEntry(header, body);
      this.entries++;
    } catch (e) {
      throw wrapIoError(this.failure ?? e, this.path, 'writing');
    } finally {
      await release?.();
    }
  }

  private async writeEntry(header: TarEntryHeader, body: AsyncIterable<Uint8Array> | undefined): Promise<void> {
    const pack = tar.pack();
    const seconds = Number(BigInt(header.mtime) / 1_000_000_000n);
    let failed: unknown;
    pack.on('error', (e: unknown) => {
      failed ??= e;
    });
    const entryDone = new Promise<void>((resolve, reject) => {
      const sink = pack.entry(
        {
          name: header.name,
          type: header.type,
          mode: header.mode,
          mtime: new Date(seconds >= 0 && seconds <= MAX_HEADER_SECONDS ? seconds * 1000 : 0),
          uid: header.uid,
          gid: header.gid,
          size: header.type === 'file' ? header.size ?? 0 : 0,
          linkname: header.linkname,
        },
        (err) => (err ? reject(err) : resolve()),
      );
      sink.on('error', reject);
      if (header.type !== 'file') return;
      void (async () => {
        try {
          for await (const chunk of body ?? []) {
            if (!sink.write(chunk as Buffer)) await drained(sink);
          }
          (sink as unknown as { end(): void }).end();
        } catch (e) {
          sink.destroy(e as Error);
          reject(e);
        }
      })();
    });
    entryDone.then(() => pack.finalize(), () => undefined);
    const copied = this.copyEntry(pack as unknown as AsyncIterable<Uint8Array>);
    await Promise.all([entryDone, copied]);
    if (failed !== undefined) throw failed;
  }

  /** Copy a one-entry pack's output, holding back its end-of-archive blocks. */
  private async copyEntry(pack: AsyncIterable<Uint8Array>): Promise<void> {
    let held: Uint8Array = new Uint8Array(0);
    for await (const chunk of pack) {
      const all = held.length === 0 ? chunk : Buffer.concat([held, chunk]);
      const cut = Math.max(0, all.length - END_OF_ARCHIVE);
      if (cut > 0) await this.put(all.subarray(0, cut));
      held = all.subarray(cut);
    }
  }

  /** Close the archive and rename it into place; returns its size and hash. */
  async finish(): Promise<ArchiveSummary> {
    try {
      if (this.compression === 'gzip') await this.useLevel(GZIP_LEVEL);
      await this.put(new Uint8Array(END_OF_ARCHIVE));
      await this.endMember();
      const fh = await (this.handle ??= open(this.tmp, 'wx'));
      const hasher = await (this.hasher ??= createContentHasher());
      await fh.sync();
      await fh.close();
      this.handle = undefined;
      await rename(this.tmp, this.path);
      return { size: this.size, hash: hasher.digest() };
    } catch (e) {
      const cause = this.failure ?? e;
      await this.abort();
      throw wrapIoError(cause, this.path, 'writing');
    }
  }

  /** Stop and remove the temporary file. */
  async abort(): Promise<void> {
    this.member?.gzip.destroy();
    await this.member?.copied.catch(() => undefined);
    this.member = undefined;
    const fh = await this.handle?.catch(() => undefined);
    await fh?.close().catch(() => undefined);
    this.handle = undefined;
    await rm(this.tmp, { force: true }).catch(() => undefined);
  }
}

/**
 * Peek at the first chunk of `body`: whether it looks incompressible, and the whole body
 * again. The peek has started `body`, so whatever happens next `release` must be called: it
 * ends `body` (running its clean-up, such as closing the file it reads) if nothing else did.
 */
async function sniff(body: AsyncIterable<Uint8Array>): Promise<{ incompressible: boolean; body: AsyncIterable<Uint8Array>; release: () => Promise<unknown> }> {
  const it = body[Symbol.asyncIterator]();
  const first = await it.next();
  return {
    release: async () => it.return?.(),
    incompressible: !first.done && looksIncompressible(first.value),
    body: (async function* () {
      if (first.done) return;
      yield first.value;
      for (let n = await it.next(); !n.done; n = await it.next()) yield n.value;
    })(),
  };
}

/**
 * Wait until `sink` wants more. A sink already torn down never emits another event, so
 * waiting for one would hang: that is an immediate failure instead.
 */
function drained(sink: NodeJS.WritableStream): Promise<void> {
  const state = sink as NodeJS.WritableStream & { destroyed?: boolean; errored?: Error | null };
  if (state.destroyed) return Promise.reject(state.errored ?? new Error('the stream was torn down'));
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      sink.removeListener('drain', onDrain);
      sink.removeListener('close', onDrain);
      sink.removeListener('error', onError);
    };
    const onDrain = (): void => {
      cleanup();
      resolve();
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(e);
    };
    sink.on('drain', onDrain);
    sink.on('close', onDrain);
    sink.on('error', onError);
  });
}
