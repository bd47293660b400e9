/**
 * Reading a tar archive (optionally compressed: gzip, zstd) entry by entry, as a stream.
 *
 * Each entry's body must be consumed or skipped before the next one is read; `readTar`
 * drains whatever the caller leaves. While reading, the raw archive bytes are hashed, and at
 * the end the size and hash are compared with what the backup state recorded, so a flipped
 * byte anywhere in an artifact is reported as that artifact's corruption, not as a puzzling
 * failure further on. Every error (a missing file, zlib, zstd, tar-stream, a mismatch) comes
 * out as a {@link BackupError} naming the archive: `EMISSING`, `ETRUNCATED` or `ECORRUPT`, and
 * `ENATIVE` for a zstd archive where zstd-napi cannot load. Decoders keep to the parser's
 * pace, so what an archive expands to is never held in memory beyond the streams' buffers.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { BackupError, wrapIoError } from '../errors.js';
import { readFileChunks } from '../io/read-chunks.js';
import { createContentHasher, hashChunks } from '../tree/content-hash.js';
import { codecOf, type Compression } from './codec.js';
import type { ArchiveSummary } from './tar-writer.js';

/** One entry read from an archive. */
export interface TarEntry {
  name: string;
  type: string;
  size: number;
  /** The body; consume it before asking for the next entry, or leave it to be skipped. */
  body: AsyncIterable<Uint8Array>;
}

/**
 * Turn a failure while reading archive `path` into a typed error naming it. Only an error
 * from a system call (it carries `syscall`) is an I/O failure; everything zlib or the tar
 * parser says (zstd's "unexpected end" too), and streamx's "stream was destroyed" that follows
 * it, means the bytes are bad.
 */
export function archiveError(e: unknown, path: string): BackupError {
  if (e instanceof BackupError) return e.withPath(path);
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOENT') return new BackupError('EMISSING', `artifact ${path} is missing`, { path, cause: e });
  const msg = err?.message ?? String(e);
  if (typeof err?.syscall === 'string') return wrapIoError(e, path, 'reading artifact');
  if (err?.code === 'Z_BUF_ERROR' || /unexpected end/i.test(msg)) {
    return new BackupError('ETRUNCATED', `artifact ${path} is truncated (${msg})`, { path, cause: e });
  }
  return new BackupError('ECORRUPT', `artifact ${path} is corrupt (${msg})`, { path, cause: e });
}

/** Throw `ETRUNCATED`/`ECORRUPT` naming `path` unless the file has the recorded size. */
async function checkSize(path: string, expect: ArchiveSummary): Promise<void> {
  const st = await stat(path).catch((e) => {
    throw archiveError(e, path);
  });
  if (st.size < expect.size) throw new BackupError('ETRUNCATED', `artifact ${path} is truncated: ${st.size} bytes, expected ${expect.size}`, { path });
  if (st.size > expect.size) throw new BackupError('ECORRUPT', `artifact ${path} has ${st.size} bytes, expected ${expect.size}`, { path });
}

/**
 * Check an artifact's size and content hash against what the state recorded, reading it
 * once. For artifacts whose entries must not be used at all when any byte is wrong (a
 * signature that looks valid but describes other bytes would make a wrong delta).
 */
export async function verifyArchive(path: string, expect: ArchiveSummary): Promise<void> {
  await checkSize(path, expect);
  let hash: string;
  try {
    hash = await hashChunks(readFileChunks(path, { reuse: true }));
  } catch (e) {
    throw archiveError(e, path);
  }
  if (hash !== expect.hash) throw new BackupError('ECORRUPT', `artifact ${path} is corrupt: its content hash does not match the backup state`, { path });
}

/**
 * Read the archive at `path`, or, with `stream`, the archive's bytes as they arrive (from
 * storage: `path` then only names it). With `expect`, its size is checked before reading (a
 * stream's, after the last byte) and its hash after the last entry.
 */
export async function* readTar(
  path: string,
  compression: Compression,
  expect?: ArchiveSummary,
  stream?: AsyncIterable<Uint8Array>,
): AsyncGenerator<TarEntry, void, undefined> {
  let decoder: NodeJS.ReadWriteStream | undefined;
  try {
    decoder = codecOf(compression).decoder();
  } catch (e) {
    throw archiveError(e, path);
  }
  if (expect && !stream) await checkSize(path, expect);
  const hasher = await createContentHasher();
  let size = 0;
  const hashing = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hasher.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  const extract = tar.extract();
  const source = stream ? Readable.from(stream, { objectMode: false }) : createReadStream(path, { highWaterMark: 1 << 20 });
  const stages: NodeJS.ReadWriteStream[] = [hashing];
  if (decoder) stages.push(decoder);
  const piping = pipeline(source, ...(stages as [NodeJS.ReadWriteStream]), extract as unknown as NodeJS.WritableStream);
  let pipeError: unknown;
  piping.catch((e) => {
    pipeError = e;
  });
  try {
    for await (const entry of extract) {
      const header = entry.header;
      yield {
        name: header.name,
        type: header.type ?? 'file',
        size: header.size ?? 0,
        body: entry as AsyncIterable<Uint8Array>,
      };
      entry.resume();
    }
    await piping;
  } catch (e) {
    // The loop may see the consequence (a destroyed stream) before the pipeline reports the
    // cause (the decoder's or the parser's error): wait for the pipeline to settle, then name the cause.
    await piping.catch(() => undefined);
    throw archiveError(pipeError ?? e, path);
  } finally {
    source.destroy();
    extract.destroy();
  }
  if (expect && stream && size < expect.size) throw new BackupError('ETRUNCATED', `artifact ${path} is truncated: ${size} bytes, expected ${expect.size}`, { path });
  if (expect && hasher.digest() !== expect.hash) {
    throw new BackupError('ECORRUPT', `artifact ${path} is corrupt: its content hash does not match the backup state`, { path });
  }
}
