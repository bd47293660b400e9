/**
 * A cap on the operations in flight against a storage. Object stores throttle a client that
 * opens too many requests at once, and a local disk thrashes; the callers (uploads of
 * artifacts, fetches of SigVault entries) should not each have to count. A load or a listing
 * holds its slot from its first read until its iterable ends or is closed, since that is
 * how long the underlying request stays open.
 *
 * Slots are handed out first come, first served. A caller that keeps a load open while it
 * waits for another operation on the same limited storage can deadlock once every slot is
 * held that way (copying from one key to another with a limit of 1, say): give such a
 * caller a limit of at least 2, or read the load first.
 */
import { abortError } from '../abort.js';
import type { LoadOptions, SaveOptions, SaveSource, Storage, StoredObject, ThawOptions } from '../storage.js';
import { StorageWrapper } from './wrapper.js';

/** Options of {@link LimitedStorage}. */
export interface LimitOptions {
  /** The most operations in flight at once (at least 1). */
  concurrency: number;
}

/** A storage that runs at most `concurrency` operations of `inner` at once. */
export class LimitedStorage extends StorageWrapper {
  private readonly slots: Slots;

  /**
   * @param inner The storage whose operations are limited.
   * @param options See {@link LimitOptions}.
   */
  constructor(inner: Storage, options: LimitOptions) {
    super(inner);
    this.slots = new Slots(Math.max(1, Math.floor(options.concurrency)));
  }

  override save(key: string, source: SaveSource, options: SaveOptions = {}): Promise<void> {
    return this.slots.with(key, options.signal, () => this.inner.save(key, source, options));
  }

  override async *load(key: string, options: LoadOptions = {}): AsyncGenerator<Uint8Array> {
    const release = await this.slots.acquire(key, options.signal);
    try {
      yield* this.inner.load(key, options);
    } finally {
      release();
    }
  }

  override stat(key: string): Promise<StoredObject> {
    return this.slots.with(key, undefined, () => this.inner.stat(key));
  }

  override async *list(prefix: string): AsyncGenerator<string> {
    const release = await this.slots.acquire(prefix, undefined);
    try {
      yield* this.inner.list(prefix);
    } finally {
      release();
    }
  }

  override remove(key: string): Promise<void> {
    return this.slots.with(key, undefined, () => this.inner.remove(key));
  }

  override thaw?(key: string, options: ThawOptions): Promise<void> {
    return this.slots.with(key, undefined, () => this.inner.thaw!(key, options));
  }

  override abortIncomplete?(prefix: string): Promise<number> {
    return this.slots.with(prefix, undefined, () => this.inner.abortIncomplete!(prefix));
  }
}

/** A counting semaphore with a first-come queue; a waiter whose signal aborts leaves the queue. */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(size: number) {
    this.free = size;
  }

  async with<T>(key: string, signal: AbortSignal | undefined, run: () => Promise<T>): Promise<T> {
    const release = await this.acquire(key, signal);
    try {
      return await run();
    } finally {
      release();
    }
  }

  /** Wait for a slot; resolves to the function that gives it back (once). */
  acquire(key: string, signal: AbortSignal | undefined): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(abortError(key, signal));
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    };
    if (this.free > 0) {
      this.free--;
      return Promise.resolve(release);
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve(release);
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(grant);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(abortError(key, signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(grant);
    });
  }
}
