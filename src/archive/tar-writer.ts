/**
 * Writing a tar archive (optionally gzipped) to a file, entry by entry, with backpressure.
 *
 * tar-stream formats the entries (ustar, PAX for long or unicode names, base-256 sizes past
 * 8 GiB); this module streams its output through zlib into a temporary file beside the
 * destination, hashing and counting the bytes as they go, and renames the file into place
 * only in `finish`, after an fsync. A crash leaves a stray temporary file, never a
 * half-written archive under the real name. Header metadata is best effort (tar-stream drops
 * sub-second mtimes, mis-encodes mtimes from 2038 on and clamps large uids): the backup state
 * is authoritative and the headers only serve manual recovery with GNU tar.
 */
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { createContentHasher } from '../tree/content-hash.js';
import { wrapIoError } from '../errors.js';

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
/** gzip level: deltas and archives are written once per backup and speed matters more than the last percent. */
const GZIP_LEVEL = 1;

/** Streams entries into a tar file that appears under its name only when finished. */
export class TarWriter {
  private readonly pack = tar.pack();
  private readonly done: Promise<ArchiveSummary>;
  private failure: unknown;
  private readonly tmp: string;
  private handle?: FileHandle;
  /** Entries written. */
  entries = 0;

  private constructor(
    readonly path: string,
    compression: Compression,
  ) {
    this.tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
    // The iterator that drains the pack does not listen for 'error'; without a listener an
    // entry failing (a size mismatch) would be an uncaught exception instead of a rejection.
    this.pack.on('error', (e: unknown) => {
      this.failure ??= e;
    });
    this.done = this.run(compression);
    this.done.catch((e) => {
      this.failure = e;
    });
  }

  /** Start writing the archive `path`. */
  static create(path: string, compression: Compression = 'none'): TarWriter {
    return new TarWriter(path, compression);
  }

  private async run(compression: Compression): Promise<ArchiveSummary> {
    this.handle = await open(this.tmp, 'wx').catch((e) => {
      throw wrapIoError(e, this.path, 'creating');
    });
    const hasher = await createContentHasher();
    let size = 0;
    const handle = this.handle;
    const sink = async (source: AsyncIterable<Uint8Array>): Promise<void> => {
      for await (const chunk of source) {
        hasher.update(chunk);
        size += chunk.length;
        await handle.write(chunk);
      }
    };
    const packed = Readable.from(this.pack as unknown as AsyncIterable<Uint8Array>, { objectMode: false });
    try {
      if (compression === 'gzip') await pipeline(packed, createGzip({ level: GZIP_LEVEL }), sink);
      else await pipeline(packed, sink);
      await handle.sync();
    } catch (e) {
      throw wrapIoError(e, this.path, 'writing');
    }
    return { size, hash: hasher.digest() };
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  /** Append one entry; `body` must yield exactly `header.size` bytes for a file. */
  async add(header: TarEntryHeader, body?: AsyncIterable<Uint8Array>): Promise<void> {
    this.check();
    const seconds = Number(BigInt(header.mtime) / 1_000_000_000n);
    const entryDone = new Promise<void>((resolve, reject) => {
      const sink = this.pack.entry(
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
            this.check();
            if (!sink.write(chunk as Buffer)) await drained(sink);
          }
          (sink as unknown as { end(): void }).end();
        } catch (e) {
          sink.destroy(e as Error);
          reject(e);
        }
      })();
    });
    await Promise.race([entryDone, this.done.then(() => undefined)]).catch((e) => {
      throw wrapIoError(e, this.path, 'writing');
    });
    this.entries++;
  }

  /** Close the archive and rename it into place; returns its size and hash. */
  async finish(): Promise<ArchiveSummary> {
    this.pack.finalize();
    try {
      const summary = await this.done;
      await this.handle?.close();
      this.handle = undefined;
      await rename(this.tmp, this.path).catch((e) => {
        throw wrapIoError(e, this.path, 'renaming into');
      });
      return summary;
    } catch (e) {
      await this.abort();
      throw e;
    }
  }

  /** Stop and remove the temporary file. */
  async abort(): Promise<void> {
    this.pack.destroy();
    await this.done.catch(() => undefined);
    await this.handle?.close().catch(() => undefined);
    this.handle = undefined;
    await rm(this.tmp, { force: true }).catch(() => undefined);
  }
}

function drained(sink: NodeJS.WritableStream): Promise<void> {
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
