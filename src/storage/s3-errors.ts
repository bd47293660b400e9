/**
 * What an S3 error means to a repository, decided in one place.
 *
 * The SDK's errors say what went wrong in three ways (an S3 `Code` from the XML body, the
 * HTTP status, a Node socket error), and a HEAD response has no body, so its errors carry only
 * a status (`NotFound`, `Unknown` with 403). This module turns each into a {@link BackupError}
 * a user can act on — `EAUTH` naming the repository for a refused credential, `ENOREPO` for a
 * missing bucket, `ETHAWING` for an archived object, `EMISSING` for a missing key, `EIO`
 * otherwise — keeping the SDK error as `cause`, and answers the two questions the storage seam
 * asks of every error: is it a not-found, and is it worth retrying. Both walk the `cause` chain,
 * so they also answer for an error a wrapper has wrapped again.
 */
import { BackupError, type ErrorCode } from '../errors.js';

/** The parts of an SDK (or Node socket) error this module reads. */
interface ErrorShape {
  name?: string;
  message?: string;
  /** S3's error code, from the response body. */
  Code?: string;
  /** A Node system error code (`ECONNRESET`). */
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
  cause?: unknown;
}

/** The name of {@link TruncatedBodyError}s. */
const TRUNCATED = 'TruncatedBodyError';

/** Refusals of the credentials themselves, or of what they may do. */
const AUTH = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'InvalidClientTokenId',
  'CredentialsProviderError',
]);

/** Codes worth another try: the server or the path to it, not the request, was at fault. */
const TRANSIENT = new Set([
  'SlowDown',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'ServiceUnavailable',
  'Throttling',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'TimeoutError',
  // The body was damaged on the way (the part's checksum did not match): sending it again fixes it.
  'BadDigest',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ERR_STREAM_PREMATURE_CLOSE',
  TRUNCATED,
]);

/** Not-found codes of a key (a missing bucket or upload is something else). */
const NOT_FOUND = new Set(['NoSuchKey', 'NotFound']);

/** A response body that ended before the length its headers announced: the connection was cut. */
export class TruncatedBodyError extends Error {
  constructor(received: number, expected: number) {
    super(`the response ended after ${received} of ${expected} bytes`);
    this.name = TRUNCATED;
  }
}

function shape(e: unknown): ErrorShape {
  return (typeof e === 'object' && e !== null ? e : {}) as ErrorShape;
}

/** S3's code for `e`, else its name (the SDK names exceptions after the code), else its HTTP status. */
function codeOf(e: ErrorShape): string {
  if (e.Code !== undefined) return e.Code;
  if (e.name !== undefined && e.name !== 'Error' && e.name !== 'Unknown') return e.name;
  if (e.code !== undefined) return e.code;
  const status = statusOf(e);
  return status === undefined ? (e.name ?? 'Error') : `HTTP ${status}`;
}

/** `e`'s message, when it says more than its code (a HEAD's errors say `UnknownError`). */
function detailOf(e: ErrorShape): string {
  return e.message && e.message !== 'UnknownError' && e.message !== codeOf(e) ? `: ${e.message}` : '';
}

function statusOf(e: ErrorShape): number | undefined {
  return e.$metadata?.httpStatusCode;
}

/** A short description of an SDK error: its code, HTTP status and message. */
export function describeS3Error(e: unknown): string {
  const s = shape(e);
  const code = codeOf(s);
  const status = statusOf(s);
  return `${code}${status === undefined || code.startsWith('HTTP ') ? '' : ` (HTTP ${status})`}${detailOf(s)}`;
}

/** What the error-mapping needs to know about the call that failed. */
export interface S3Failure {
  /** The repository's location, for messages. */
  location: string;
  /** What was being done: `loading`, `saving`, `stat of`... */
  doing: string;
  /** The storage key (or listing prefix) concerned. */
  key: string;
  /** A conditional save: a failed precondition means the key exists. */
  conditional?: boolean;
}

/** The {@link BackupError} for an SDK error `e` raised while doing `what`; BackupErrors pass through. */
export function s3Failure(e: unknown, what: S3Failure): BackupError {
  if (e instanceof BackupError) return e;
  const s = shape(e);
  const code = codeOf(s);
  const status = statusOf(s);
  const { location, key } = what;
  const make = (c: ErrorCode, message: string) => new BackupError(c, message, { path: key, cause: e });
  if (s.name === 'AbortError') return make('EABORTED', `${what.doing} ${key} in ${location}: aborted`);
  if (AUTH.has(code) || (status === 403 && code !== 'InvalidObjectState')) {
    return make('EAUTH', `repository ${location} refused the credentials (${code})${detailOf(s)}`);
  }
  if (code === 'NoSuchBucket') return make('ENOREPO', `repository ${location}: the bucket does not exist (NoSuchBucket)`);
  if (code === 'InvalidObjectState') {
    return make('ETHAWING', `${key} in ${location} is in a cold storage class and must be thawed before it can be read (InvalidObjectState)`);
  }
  if (what.conditional && (code === 'PreconditionFailed' || code === 'ConditionalRequestConflict' || status === 412)) {
    return make('EEXIST', `${key} already exists in ${location} (${code})`);
  }
  if (isNotFoundShape(s)) return make('EMISSING', `${what.doing} ${key} in ${location}: not found (${code})`);
  return make('EIO', `${what.doing} ${key} in ${location}: ${describeS3Error(e)}`);
}

function isNotFoundShape(s: ErrorShape): boolean {
  const code = codeOf(s);
  if (code === 'NoSuchBucket' || code === 'NoSuchUpload') return false;
  return NOT_FOUND.has(code) || statusOf(s) === 404;
}

/** The errors of `e`'s cause chain, outermost first (bounded: a cycle ends the walk). */
function* chain(e: unknown): Generator<unknown> {
  for (let i = 0; i < 8 && e !== undefined && e !== null; i++) {
    yield e;
    e = shape(e).cause;
  }
}

/** Whether `e` means the key does not exist: `EMISSING`, or a NoSuchKey/NotFound/404 anywhere in its causes. */
export function isS3NotFound(e: unknown): boolean {
  for (const link of chain(e)) {
    if (link instanceof BackupError) {
      if (link.code === 'EMISSING') return true;
      if (link.code !== 'EIO') return false;
    } else if (isNotFoundShape(shape(link))) {
      return true;
    }
  }
  return false;
}

/**
 * Whether `e` is worth retrying: a 5xx, a throttle (429, SlowDown), a timeout, a reset or refused
 * connection, a cut-short body, a checksum mismatch on the way. Never a refusal (4xx), a missing
 * key or bucket, an archived object or an abort.
 */
export function isS3Transient(e: unknown): boolean {
  for (const link of chain(e)) {
    if (link instanceof BackupError) {
      if (link.code !== 'EIO') return false;
      continue;
    }
    const s = shape(link);
    const status = statusOf(s);
    const code = codeOf(s);
    if (TRANSIENT.has(code) || (s.code !== undefined && TRANSIENT.has(s.code))) return true;
    if (status !== undefined) return status >= 500 || status === 429;
    if (s.message === 'socket hang up' || s.message === 'aborted' || s.message?.startsWith('Checksum mismatch')) return true;
  }
  return false;
}
