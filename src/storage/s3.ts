/**
 * A {@link Storage} in an S3 bucket, or any S3-compatible service (B2, Wasabi, MinIO, Ceph,
 * R2, moto): each key is one object under `prefix/`.
 *
 * Retries and timeouts: see `s3-client.ts`.
 *
 * Saving: see `s3-save.ts` (one request up to `partSize`, a multipart upload above, never
 * left unfinished). Loading streams the body as it arrives, and checks that it is as long as
 * its `Content-Length` (or `Content-Range`) said: a body cut short is a transient error.
 *
 * Listing: S3 returns keys in UTF-8 byte order. That is the seam's code-unit order for every
 * key without characters above U+FFFF; a key with such a character (a surrogate pair in
 * UTF-16) sorts after one with a character from U+E000 to U+FFFF in S3 and before it in
 * code-unit order. Folder markers (keys ending in `/`) and other invalid keys are not listed.
 *
 * Permissions: besides Get/Put/DeleteObject and Restore, `s3:ListBucket` is needed: without it
 * S3 answers 403 instead of 404 for a missing key, which reads as a refused credential.
 * Every error that leaves this class is a {@link BackupError} (see `s3-errors.ts`).
 */
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  RestoreObjectCommand,
  type HeadObjectCommandOutput,
  type S3Client,
  type StorageClass,
} from '@aws-sdk/client-s3';
import { BackupError } from '../errors.js';
import { abortable, abortError } from './abort.js';
import { spanOf } from './load-range.js';
import { createS3Clients, MiB, type S3Clients, type S3StorageOptions } from './s3-client.js';
import { describeS3Error, isS3NotFound, isS3Transient, s3Failure, TruncatedBodyError, type S3Failure } from './s3-errors.js';
import { saveObject } from './s3-save.js';
import { checkKey, openerOf, type Availability, type LoadOptions, type SaveOptions, type SaveSource, type Storage, type StoredObject, type ThawOptions } from './storage.js';

export type { S3StorageOptions } from './s3-client.js';

/** Availability from a HEAD: cold classes need a thaw, which the `Restore` header reports. */
function availabilityOf(head: HeadObjectCommandOutput): Availability | undefined {
  const cold = head.StorageClass === 'GLACIER' || head.StorageClass === 'DEEP_ARCHIVE' || head.ArchiveStatus !== undefined;
  if (!cold) return undefined;
  if (head.Restore?.includes('ongoing-request="true"')) return 'thawing';
  if (head.Restore?.includes('ongoing-request="false"')) return 'ready';
  return 'archived';
}

/** The `Range` header for bytes `start` to `end` (exclusive, undefined for the end), or undefined for the whole object. */
function rangeOf(start: number, end: number | undefined): string | undefined {
  if (end === undefined) return start === 0 ? undefined : `bytes=${start}-`;
  return `bytes=${start}-${end - 1}`;
}

/** The length a `Content-Range: bytes FIRST-LAST/SIZE` header announces. */
function lengthOfRange(header: string | undefined): number | undefined {
  const m = header === undefined ? null : /^bytes (\d+)-(\d+)\//.exec(header);
  return m ? Number(m[2]) - Number(m[1]) + 1 : undefined;
}

/** Storage in an S3 bucket (see the module header). */
export class S3Storage implements Storage {
  readonly location: string;
  private readonly bucket: string;
  /** `prefix/`, or empty for the bucket's root. */
  private readonly root: string;
  private readonly partSize: number;
  private readonly queueSize: number;
  private clientsPromise?: Promise<S3Clients>;
  /** The bucket answered once: a 404 since then is a missing key, not a missing bucket. */
  private bucketSeen = false;

  constructor(private readonly options: S3StorageOptions) {
    const prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '');
    if (!options.bucket) throw new BackupError('EPARAM', 'an S3 repository needs a bucket');
    if (prefix !== '') checkKey(prefix);
    this.bucket = options.bucket;
    this.root = prefix === '' ? '' : `${prefix}/`;
    this.location = options.location ?? `s3:${options.bucket}${prefix === '' ? '' : `/${prefix}`}`;
    this.partSize = options.partSize ?? 16 * MiB;
    this.queueSize = options.queueSize ?? 4;
    if (!(this.partSize >= 5 * MiB && this.partSize <= 5 * 1024 * MiB)) {
      throw new BackupError('EPARAM', `${this.location}: partSize must be from 5 MiB to 5 GiB, not ${this.partSize}`);
    }
    if (!(Number.isInteger(this.queueSize) && this.queueSize >= 1)) {
      throw new BackupError('EPARAM', `${this.location}: queueSize must be a positive integer, not ${this.queueSize}`);
    }
  }

  private clients(): Promise<S3Clients> {
    this.clientsPromise ??= createS3Clients(this.options);
    return this.clientsPromise;
  }

  private async single(): Promise<S3Client> {
    return (await this.clients()).single;
  }

  private fail(e: unknown, doing: string, key: string, extra: Partial<S3Failure> = {}): BackupError {
    return s3Failure(e, { location: this.location, doing, key, ...extra });
  }

  /** A 404 where the bucket has not answered yet: ask the bucket, so a missing one is `ENOREPO` rather than a missing key. */
  private async checkBucket(e: unknown): Promise<void> {
    if (this.bucketSeen || !isS3NotFound(e)) return;
    try {
      await (await this.single()).send(new HeadBucketCommand({ Bucket: this.bucket }));
      this.bucketSeen = true;
    } catch (err) {
      if (isS3NotFound(err)) throw new BackupError('ENOREPO', `repository ${this.location}: the bucket does not exist (${describeS3Error(err)})`, { cause: err });
    }
  }

  async save(key: string, source: SaveSource, options: SaveOptions = {}): Promise<void> {
    checkKey(key);
    const params = {
      Bucket: this.bucket,
      Key: this.root + key,
      ...(options.storageClass === undefined ? {} : { StorageClass: options.storageClass as StorageClass }),
      ...(options.hash === undefined ? {} : { Metadata: { xxh64: options.hash } }),
      ...(options.ifNoneMatch ? { IfNoneMatch: '*' } : {}),
    };
    try {
      const clients = await this.clients();
      await saveObject(
        { ...clients, params, partSize: this.partSize, queueSize: this.queueSize, size: options.size, signal: options.signal, where: `${key} in ${this.location}` },
        abortable(openerOf(source).open(), options.signal, key),
      );
      this.bucketSeen = true;
    } catch (e) {
      throw this.fail(e, 'saving', key, { conditional: options.ifNoneMatch === true });
    }
  }

  async *load(key: string, options: LoadOptions = {}): AsyncIterable<Uint8Array> {
    checkKey(key);
    const { signal } = options;
    const { start, end } = spanOf(key, options);
    if (end === start) return;
    let body: Readable;
    let expected: number | undefined;
    try {
      const out = await (await this.single()).send(new GetObjectCommand({ Bucket: this.bucket, Key: this.root + key, Range: rangeOf(start, end) }), {
        abortSignal: signal,
      });
      body = out.Body as Readable;
      expected = out.ContentLength ?? lengthOfRange(out.ContentRange);
    } catch (e) {
      // A range starting at or past the end (416) is an empty read, as from a file.
      if ((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 416) return;
      throw this.fail(e, 'loading', key);
    }
    this.bucketSeen = true;
    const onAbort = () => body.destroy(abortError(key, signal!));
    signal?.addEventListener('abort', onAbort, { once: true });
    let received = 0;
    try {
      for await (const chunk of body) {
        received += (chunk as Uint8Array).length;
        yield chunk as Uint8Array;
      }
    } catch (e) {
      throw this.fail(e, 'loading', key);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      body.destroy();
    }
    if (expected !== undefined && received !== expected) throw this.fail(new TruncatedBodyError(received, expected), 'loading', key);
  }

  async stat(key: string): Promise<StoredObject> {
    checkKey(key);
    try {
      const head = await (await this.single()).send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.root + key }));
      this.bucketSeen = true;
      const availability = availabilityOf(head);
      return {
        size: head.ContentLength ?? 0,
        ...(head.StorageClass === undefined ? {} : { storageClass: head.StorageClass }),
        ...(availability === undefined ? {} : { availability }),
      };
    } catch (e) {
      await this.checkBucket(e);
      throw this.fail(e, 'stat of', key);
    }
  }

  async *list(prefix: string): AsyncIterable<string> {
    const client = await this.single();
    let token: string | undefined;
    do {
      let page;
      try {
        page = await client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.root + prefix, ContinuationToken: token }));
      } catch (e) {
        throw this.fail(e, 'listing', prefix === '' ? '(all keys)' : `${prefix}*`);
      }
      this.bucketSeen = true;
      for (const { Key: full } of page.Contents ?? []) {
        if (full === undefined || !full.startsWith(this.root)) continue;
        const key = full.slice(this.root.length);
        if (isValidKey(key)) yield key;
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async remove(key: string): Promise<void> {
    checkKey(key);
    try {
      await (await this.single()).send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.root + key }));
    } catch (e) {
      if (isS3NotFound(e)) return;
      throw this.fail(e, 'removing', key);
    }
  }

  isNotFound(error: unknown): boolean {
    return isS3NotFound(error);
  }

  isTransient(error: unknown): boolean {
    return isS3Transient(error);
  }

  /** Request a thaw of `key`; one already under way, or an object that is not in a cold class, is fine. */
  async thaw(key: string, options: ThawOptions): Promise<void> {
    checkKey(key);
    try {
      await (await this.single()).send(
        new RestoreObjectCommand({
          Bucket: this.bucket,
          Key: this.root + key,
          RestoreRequest: { Days: options.days, GlacierJobParameters: { Tier: options.tier } },
        }),
      );
    } catch (e) {
      const code = (e as { name?: string }).name;
      if (code === 'RestoreAlreadyInProgress' || code === 'InvalidObjectState') return;
      throw this.fail(e, 'thawing', key);
    }
  }

  async abortIncomplete(prefix: string): Promise<number> {
    const client = await this.single();
    let count = 0;
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    const what = prefix === '' ? '(all keys)' : `${prefix}*`;
    do {
      let page;
      try {
        page = await client.send(
          new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: this.root + prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
        );
      } catch (e) {
        throw this.fail(e, 'listing the unfinished uploads of', what);
      }
      for (const upload of page.Uploads ?? []) {
        try {
          await client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: upload.Key, UploadId: upload.UploadId }));
          count++;
        } catch (e) {
          if ((e as { name?: string }).name !== 'NoSuchUpload') throw this.fail(e, 'aborting the unfinished upload of', upload.Key?.slice(this.root.length) ?? what);
        }
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
    } while (keyMarker !== undefined);
    return count;
  }

  /** Close the clients' connections (the storage opens new ones if used again). */
  close(): void {
    const clients = this.clientsPromise;
    this.clientsPromise = undefined;
    void clients?.then((c) => {
      c.single.destroy();
      c.multipart.destroy();
    });
  }
}

function isValidKey(key: string): boolean {
  try {
    checkKey(key);
    return true;
  } catch {
    return false;
  }
}
