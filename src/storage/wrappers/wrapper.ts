/**
 * The base of the storage wrappers: a {@link Storage} that hands every call to the one it
 * wraps. A wrapper overrides only what it changes, so a method the seam gains later passes
 * through every wrapper at once. The optional methods (`isTransient`, `thaw`,
 * `abortIncomplete`) exist on a wrapper only when the wrapped storage has them, so code that
 * asks "can this storage thaw?" gets the same answer through any stack of wrappers.
 */
import type { LoadOptions, SaveOptions, SaveSource, Storage, StoredObject, ThawOptions } from '../storage.js';

/** A Storage that passes everything to `inner`; subclasses override what they change. */
export class StorageWrapper implements Storage {
  /** @param inner The storage every call goes to. */
  constructor(protected readonly inner: Storage) {
    if (inner.isTransient === undefined) this.isTransient = undefined;
    if (inner.thaw === undefined) this.thaw = undefined;
    if (inner.abortIncomplete === undefined) this.abortIncomplete = undefined;
  }

  /** The wrapped storage's location. */
  get location(): string {
    return this.inner.location;
  }

  save(key: string, source: SaveSource, options?: SaveOptions): Promise<void> {
    return this.inner.save(key, source, options);
  }

  load(key: string, options?: LoadOptions): AsyncIterable<Uint8Array> {
    return this.inner.load(key, options);
  }

  stat(key: string): Promise<StoredObject> {
    return this.inner.stat(key);
  }

  list(prefix: string): AsyncIterable<string> {
    return this.inner.list(prefix);
  }

  remove(key: string): Promise<void> {
    return this.inner.remove(key);
  }

  isNotFound(error: unknown): boolean {
    return this.inner.isNotFound(error);
  }

  isTransient?(error: unknown): boolean {
    return this.inner.isTransient?.(error) ?? false;
  }

  thaw?(key: string, options: ThawOptions): Promise<void> {
    return this.inner.thaw!(key, options);
  }

  abortIncomplete?(prefix: string): Promise<number> {
    return this.inner.abortIncomplete!(prefix);
  }
}
