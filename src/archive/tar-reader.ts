/**
 * Reading a tar archive (optionally gzipped) entry by entry, as a stream.
 *
 * Each entry's body must be consumed or skipped before the next one is read; `readTar`
 * drains whatever the caller leaves. While reading, the raw archive bytes are hashed, and at
 * the end the size and hash are compared with what the backup state recorded, so a flipped
 * byte anywhere in an artifact is reported as that artifact's corruption, not as a puzzling
 * failure further on. Every error (a missing file, zlib, tar-stream, a mismatch) comes out
 * as a {@link BackupError} naming the archive: `EMISSING`, `ETRUNCATED` or `ECORRUPT`.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { BackupError } from '../errors.js';
import { createContentHasher } from '../tree/content-hash.js';
import type { ArchiveSummary, Compression } from './tar-writer.js';

/** One entry read from an archive. */
export interface TarEntry {
  name: string;
  type: string;
  size: number;
  /** The body; consume it before asking for the next entry, or leave it to be skipped. */
  body: AsyncIterable<Uint8Array>;
}

/** Turn a failure while reading archive `path` into a typed error naming it. */
export function archiveError(e: unknown, path: string): BackupError {
  if (e instanceof BackupError) return e.withPath(path);
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOENT') return new BackupError('EMISSING', `artifact ${path} is missing`, { path, cause: e });
  const msg = err?.message ?? String(e);
  if (err?.code === 'Z_BUF_ERROR' || /unexpected end/i.test(msg)) {
    return new BackupError('ETRUNCATED', `artifact ${path} is truncated (${msg})`, { path, cause: e });
  }
  if (typeof err?.code === 'string' && !err.code.startsWith('Z_') && !err.code.startsWith('ERR_')) {
    return new BackupError('EIO', `reading artifact ${path}: ${err.code} ${msg}`, { path, cause: e });
  }
  return new BackupError('ECORRUPT', `artifact ${path} is corrupt (${msg})`, { path, cause: e });
}

/**
 * Read the archive at `path`. With `expect`, its size is checked before reading and its
 * hash after the last entry.
 */
export async function* readTar(
  path: string,
  compression: Compression,
  expect?: ArchiveSummary,
): AsyncGenerator<TarEntry, void, undefined> {
  if (expect) {
    const st = await stat(path).catch((e) => {
      throw archiveError(e, path);
    });
    if (st.size < expect.size) throw new BackupError('ETRUNCATED', `artifact ${path} is truncated: ${st.size} bytes, expected ${expect.size}`, { path });
    if (st.size > expect.size) throw new BackupError('ECORRUPT', `artifact ${path} has ${st.size} bytes, expected ${expect.size}`, { path });
  }
  const hasher = await createContentHasher();
  const hashing = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hasher.update(chunk);
      cb(null, chunk);
    },
  });
  const extract = tar.extract();
  const source = createReadStream(path, { highWaterMark: 1 << 20 });
  const stages: NodeJS.ReadWriteStream[] = [hashing];
  if (compression === 'gzip') stages.push(createGunzip({ chunkSize: 1 << 20 }));
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
    throw archiveError(pipeError ?? e, path);
  } finally {
    source.destroy();
    extract.destroy();
  }
  if (expect && hasher.digest() !== expect.hash) {
    throw new BackupError('ECORRUPT', `artifact ${path} is corrupt: its content hash does not match the backup state`, { path });
  }
}
