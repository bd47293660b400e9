/**
 * Saving one object to S3: one PutObject for what fits in a part, a multipart upload for the rest.
 *
 * The size of a stream is often unknown, so the first `partSize` bytes are read before
 * choosing: a source that ends within them goes up in one PutObject (one request, and a
 * conditional create is one `If-None-Match: *`), a longer one through lib-storage's `Upload`,
 * which sends `queueSize` parts at once, each with a CRC32 the server checks. Memory is
 * bounded by about `(queueSize + 1) × partSize` whatever the object's size.
 *
 * A failed multipart upload is aborted, never left billing: `Upload` aborts it when a part or
 * the completion fails, and this module aborts it again by its id after any failure (an abort
 * through `signal` returns before `Upload`'s own clean-up has run; aborting twice is harmless).
 * A run killed in the middle leaves its upload for `S3Storage.abortIncomplete`.
 */
import { Readable } from 'node:stream';
import { AbortMultipartUploadCommand, PutObjectCommand, type PutObjectCommandInput, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { BackupError } from '../errors.js';

/** Where and how an object is saved. */
export interface SaveTarget {
  /** The client for single requests (no SDK retries: the retry wrapper retries whole saves). */
  single: S3Client;
  /** The client for multipart uploads (SDK retries, so one failed part is sent again alone). */
  multipart: S3Client;
  /** The request fields: Bucket, Key, StorageClass, Metadata, IfNoneMatch. */
  params: PutObjectCommandInput & { Bucket: string; Key: string };
  /** Bytes per part. */
  partSize: number;
  /** Parts sent at once. */
  queueSize: number;
  /** The size the caller announced, checked against what the source gives. */
  size?: number;
  /** Stops the save. */
  signal?: AbortSignal;
  /** For messages: `KEY in LOCATION`. */
  where: string;
}

function checkSize(target: SaveTarget, got: number): void {
  if (target.size !== undefined && got !== target.size) {
    throw new BackupError('EIO', `saving ${target.where}: the source gave ${got} bytes where ${target.size} were announced`, {
      path: target.params.Key,
    });
  }
}

/** Store the bytes of `source` as described by `target` (`source` stops itself when `signal` aborts: see `abort.ts`). */
export async function saveObject(target: SaveTarget, source: AsyncIterable<Uint8Array>): Promise<void> {
  const { signal, partSize } = target;
  const it = source[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let length = 0;
  try {
    for (;;) {
      if (length > partSize) break;
      const r = await it.next();
      if (r.done) {
        checkSize(target, length);
        const body = Buffer.concat(head, length);
        await target.single.send(new PutObjectCommand({ ...target.params, Body: body, ContentLength: length }), { abortSignal: signal });
        return;
      }
      head.push(r.value);
      length += r.value.length;
    }
  } catch (e) {
    await it.return?.();
    throw e;
  }
  await multipart(target, head, length, it);
}

async function multipart(target: SaveTarget, head: Uint8Array[], headLength: number, it: AsyncIterator<Uint8Array>): Promise<void> {
  async function* all(): AsyncGenerator<Uint8Array> {
    try {
      yield* head;
      head = [];
      let length = headLength;
      for (let r = await it.next(); !r.done; r = await it.next()) {
        length += r.value.length;
        yield r.value;
      }
      checkSize(target, length);
    } finally {
      await it.return?.();
    }
  }
  const body = Readable.from(all(), { objectMode: true });
  const upload = new Upload({
    client: target.multipart,
    params: { ...target.params, Body: body, ChecksumAlgorithm: 'CRC32' },
    partSize: target.partSize,
    queueSize: target.queueSize,
  });
  const onAbort = () => void upload.abort();
  target.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await upload.done();
  } catch (e) {
    body.destroy();
    if (upload.uploadId !== undefined) {
      // Best effort: a failure here leaves the upload to abortIncomplete, and the save's own error is what matters.
      await target.single
        .send(new AbortMultipartUploadCommand({ Bucket: target.params.Bucket, Key: target.params.Key, UploadId: upload.uploadId }))
        .catch(() => undefined);
    }
    throw e;
  } finally {
    target.signal?.removeEventListener('abort', onAbort);
  }
}
