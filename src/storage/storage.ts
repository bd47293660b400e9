/**
 * The storage seam: where backup artifacts live besides the local work directory.
 *
 * The interface is restic's, kept tiny on purpose: save, load (with an offset and length,
 * so a SigVault entry can be fetched alone), stat, list, remove, and "is this error a
 * not-found?". Retries, caching, rate limits or dry runs belong in wrappers around a
 * Storage, not in flags inside each backend. Keys are `/`-separated strings; the backup
 * layer uses `NAME/FILE` where FILE is an artifact's base name in the work directory.
 */

/** A byte range of a stored object. */
export interface LoadRange {
  /** First byte to read; default 0. */
  offset?: number;
  /** Bytes to read; default to the end. */
  length?: number;
}

/** A place artifacts are saved to and loaded from. */
export interface Storage {
  /** Store `data` under `key`, replacing any object there, atomically where the backend can. */
  save(key: string, data: AsyncIterable<Uint8Array> | Uint8Array): Promise<void>;
  /** The bytes of `key` (or a range of them). A missing key rejects with an error `isNotFound` accepts. */
  load(key: string, range?: LoadRange): AsyncIterable<Uint8Array>;
  /** The size of `key`. */
  stat(key: string): Promise<{ size: number }>;
  /** Every key starting with `prefix`, sorted. */
  list(prefix: string): Promise<string[]>;
  /** Remove `key`; removing a missing key is not an error. */
  remove(key: string): Promise<void>;
  /** Whether `error` (thrown by this storage) means the key does not exist. */
  isNotFound(error: unknown): boolean;
}
