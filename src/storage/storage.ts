/**
 * The storage seam: where a repository's objects live (a local directory, a bucket, memory).
 *
 * The interface is restic's, kept small on purpose: save (from a source that can be opened
 * again, so a failed upload is retried from its first byte), ranged load, stat, list (an
 * async iterable: a bucket can hold millions of keys), remove, and "is this error a
 * not-found?". A backend for a cold storage class also says, through `stat`, whether an
 * object must be thawed before it can be read, and can `thaw` it. Retries, concurrency
 * limits, dry runs and progress are wrappers around a Storage (`wrappers/`), never flags
 * inside each backend, so a custom backend gets them for free; the conformance suite
 * (`incremental-backups-tools/testing`) says when a backend is done.
 *
 * Keys are `/`-separated, non-empty components, none of them `.` or `..`, with no NUL and no
 * leading or trailing `/` ({@link checkKey}). The repository uses `NAME/FILE` for a backup's
 * artifacts and `NAME/locks/...` for its locks.
 *
 * Errors: a backend throws {@link BackupError}s where it can tell what went wrong — `EEXIST`
 * for a conditional save that lost, `EAUTH` for a refused credential, `EIO` with the key for
 * the rest — and keeps the underlying error as `cause` for {@link Storage.isNotFound} and
 * {@link Storage.isTransient}.
 */
import { BackupError } from '../errors.js';

/** A byte range of a stored object. */
export interface LoadRange {
  /** First byte to read; default 0. */
  offset?: number;
  /** Bytes to read; default to the end. */
  length?: number;
}

/** Options of {@link Storage.load}. */
export interface LoadOptions extends LoadRange {
  /** Stops the read: the iterable rejects with an error whose `name` is `AbortError`, or `EABORTED`. */
  signal?: AbortSignal;
}

/**
 * What a save reads: bytes, or a function that opens the content from its first byte each
 * time it is called (a retried save calls it again). A plain async iterable can be read only
 * once, so a save of one is never retried.
 */
export type SaveSource = Uint8Array | (() => AsyncIterable<Uint8Array>) | AsyncIterable<Uint8Array>;

/** Options of {@link Storage.save}. */
export interface SaveOptions {
  /** The content's size in bytes, when known: lets a backend choose a single or a multipart upload. */
  size?: number;
  /** The content's xxHash64 (16 hex digits), when known: a backend may store it with the object. */
  hash?: string;
  /** Stops the save; nothing is left under `key` (an object already there stays). */
  signal?: AbortSignal;
  /**
   * Create only: when `key` already exists the save fails with `EEXIST` and the object there
   * is untouched. Two concurrent saves of one key with this set: exactly one succeeds.
   */
  ifNoneMatch?: boolean;
  /**
   * The storage class to put the object in (S3's `GLACIER`, `DEEP_ARCHIVE`, `STANDARD_IA`...);
   * backends without classes ignore it.
   */
  storageClass?: string;
}

/** Whether a stored object can be read now. */
export type Availability =
  /** It can be loaded. */
  | 'ready'
  /** It sits in a cold class and must be thawed ({@link Storage.thaw}) first. */
  | 'archived'
  /** A thaw was requested and has not finished. */
  | 'thawing';

/** What {@link Storage.stat} says about an object. */
export interface StoredObject {
  /** Size in bytes. */
  size: number;
  /** The object's storage class, where the backend has classes. */
  storageClass?: string;
  /** Whether it can be read now; default `ready`. */
  availability?: Availability;
}

/** Options of {@link Storage.thaw}. */
export interface ThawOptions {
  /** How many days the thawed copy stays readable. */
  days: number;
  /** Speed (and price) of the thaw: S3's `Expedited`, `Standard` or `Bulk`. */
  tier: 'Expedited' | 'Standard' | 'Bulk';
}

/** A place a repository's objects are saved to and loaded from. */
export interface Storage {
  /** A short description for messages (`s3:bucket/prefix`, a directory): never a credential. */
  readonly location: string;
  /**
   * Store the bytes of `source` under `key`, replacing any object there unless `ifNoneMatch`
   * is set. Atomic: a reader sees the old object or the whole new one, and a failed save
   * leaves the old one.
   */
  save(key: string, source: SaveSource, options?: SaveOptions): Promise<void>;
  /** The bytes of `key` (or a range of them). A missing key rejects with an error `isNotFound` accepts. */
  load(key: string, options?: LoadOptions): AsyncIterable<Uint8Array>;
  /** The size of `key` and whether it can be read now; missing: an error `isNotFound` accepts. */
  stat(key: string): Promise<StoredObject>;
  /** Every key starting with `prefix`, in code-unit order, one page at a time underneath. */
  list(prefix: string): AsyncIterable<string>;
  /** Remove `key`; removing a missing key is not an error. */
  remove(key: string): Promise<void>;
  /** Whether `error` (thrown by this storage) means the key does not exist. */
  isNotFound(error: unknown): boolean;
  /**
   * Whether `error` (thrown by this storage) is worth retrying: a server error (5xx), a
   * throttle (429, SlowDown), a reset connection or a timeout. Never a refusal or a not-found.
   */
  isTransient?(error: unknown): boolean;
  /** Ask for an `archived` object to be made readable (idempotent while it thaws). */
  thaw?(key: string, options: ThawOptions): Promise<void>;
  /**
   * Abort the unfinished multipart uploads under `prefix` (a run killed in the middle of one
   * leaves its parts, and they are billed); returns how many. Backends without them omit it.
   */
  abortIncomplete?(prefix: string): Promise<number>;
}

/** Throw `EPARAM` unless `key` is a valid storage key (see the module header). */
export function checkKey(key: string): string {
  if (key.length === 0 || key.length > 1024 || key.split('/').some((s) => s === '' || s === '.' || s === '..') || key.includes('\0')) {
    throw new BackupError('EPARAM', `invalid storage key ${JSON.stringify(key)}`, { path: key });
  }
  return key;
}

/** Every key of `storage` under `prefix`, collected (for folders known to be small: locks, one name's states). */
export async function listKeys(storage: Storage, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const key of storage.list(prefix)) out.push(key);
  return out;
}

/** An opener for `source`: called once per try. A one-shot iterable gives a second try an error. */
export function openerOf(source: SaveSource): { open: () => AsyncIterable<Uint8Array>; reopenable: boolean } {
  if (source instanceof Uint8Array) return { open: () => (async function* () { yield source; })(), reopenable: true };
  if (typeof source === 'function') return { open: source, reopenable: true };
  let used = false;
  return {
    open: () => {
      if (used) throw new BackupError('EINTERNAL', 'a save source that is a plain iterable cannot be read twice');
      used = true;
      return source;
    },
    reopenable: false,
  };
}
