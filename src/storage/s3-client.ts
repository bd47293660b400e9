/**
 * The options of an S3 storage and the two SDK clients made from them.
 *
 * Retries: the retry wrapper (`wrappers/retry.ts`) retries whole operations, with backoff, for
 * every backend alike, so the client for single requests has the SDK's own retries off
 * (`maxAttempts: 1`): two retry loops stacked would multiply each other's attempts and delays.
 * Multipart uploads go through a second client that keeps the SDK's retries, so one failed part
 * is sent again alone instead of the wrapper restarting a 1 GiB upload from its first byte.
 *
 * Timeouts: `requestTimeoutMs` is an idle timeout on the socket (no byte moved for that long),
 * not a limit on a request's total time, so a big part on a slow link is fine while a stalled
 * server (or a response body that stops half-way) becomes a transient `TimeoutError` instead of
 * a backup that hangs. A consumer that stops reading a `load` for that long trips it too.
 *
 * The region comes from the SDK's chain when not given, and is resolved on first use (it may
 * read `~/.aws/config`), so constructing a storage does no I/O.
 */
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';

/** A mebibyte. */
export const MiB = 1024 * 1024;

/** Options of an `S3Storage`. */
export interface S3StorageOptions {
  /** The bucket. */
  bucket: string;
  /** The folder inside the bucket the repository lives in (keys are stored under `prefix/`); default the bucket's root. */
  prefix?: string;
  /** The service's URL for S3-compatible services and test servers (`http://127.0.0.1:9000`); default AWS. */
  endpoint?: string;
  /** The region; default from the environment or `~/.aws` config (the SDK's chain), else `us-east-1`. */
  region?: string;
  /** Address buckets as `endpoint/bucket` rather than `bucket.endpoint`; default true when `endpoint` is given. */
  forcePathStyle?: boolean;
  /**
   * Credentials, or an AWS SDK credential provider; default the SDK's default chain (environment,
   * `~/.aws` profiles, SSO, instance roles). Never take these from command-line arguments.
   */
  credentials?: S3ClientConfig['credentials'];
  /** Bytes per multipart part, at least 5 MiB; default 16 MiB. Objects up to this size go up in one request. */
  partSize?: number;
  /** Parts uploaded at once; default 4. Memory is about `(queueSize + 1) × partSize` per save. */
  queueSize?: number;
  /** The longest a request may go without a byte moving before it fails as a transient timeout; default 60 s. */
  requestTimeoutMs?: number;
  /** The longest a connection may take to open; default 10 s. */
  connectTimeoutMs?: number;
  /** The description in messages; default `s3:BUCKET/PREFIX`. */
  location?: string;
}

/** The clients of one storage. */
export interface S3Clients {
  /** For single requests: no SDK retries. */
  single: S3Client;
  /** For multipart uploads: the SDK's retries, per part. */
  multipart: S3Client;
}

/** The region from the SDK's chain (environment, `~/.aws/config`), or `us-east-1` when there is none. */
async function defaultRegion(): Promise<string> {
  const probe = new S3Client({});
  try {
    return await probe.config.region();
  } catch {
    return 'us-east-1';
  } finally {
    probe.destroy();
  }
}

/** The clients for `options` (see the module header). */
export async function createS3Clients(options: S3StorageOptions): Promise<S3Clients> {
  const config: S3ClientConfig = {
    region: options.region ?? (await defaultRegion()),
    endpoint: options.endpoint,
    forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
    // On AWS itself a bucket in another region than the one configured is followed there.
    followRegionRedirects: options.endpoint === undefined,
    credentials: options.credentials,
    requestHandler: { connectionTimeout: options.connectTimeoutMs ?? 10_000, socketTimeout: options.requestTimeoutMs ?? 60_000 },
  };
  return { single: new S3Client({ ...config, maxAttempts: 1 }), multipart: new S3Client(config) };
}
