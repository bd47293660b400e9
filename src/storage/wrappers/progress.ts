/**
 * Counting what goes over the wire: bytes uploaded (as a save's source is read by the
 * backend), bytes fetched (as a load yields them) and requests (every call to the wrapped
 * storage), for a progress line on a terminal and for the request counts the benchmarks
 * report. The counts are cumulative over the wrapper's life; each event carries the totals.
 *
 * Where it sits in a stack of wrappers decides what it counts: under a retrying wrapper it
 * counts every try (what was really sent), above it each operation once.
 */
import type { LoadOptions, SaveOptions, SaveSource, Storage, StoredObject, ThawOptions } from '../storage.js';
import { StorageWrapper } from './wrapper.js';

/** The totals {@link ProgressOptions.onProgress} is told, with the key that moved them. */
export interface TransferEvent {
  /** Bytes read from save sources so far. */
  uploaded: number;
  /** Bytes yielded by loads so far. */
  fetched: number;
  /** Operations started so far. */
  requests: number;
  /** The key of the operation that changed a count (the prefix, for a listing). */
  key: string;
}

/** Options of {@link ProgressStorage}. */
export interface ProgressOptions {
  /** Told the totals each time one of them changes. */
  onProgress: (event: TransferEvent) => void;
}

/** A storage that counts the bytes and requests going to and from `inner`. */
export class ProgressStorage extends StorageWrapper {
  private uploaded = 0;
  private fetched = 0;
  private requests = 0;

  /**
   * @param inner The storage whose traffic is counted.
   * @param options See {@link ProgressOptions}.
   */
  constructor(
    inner: Storage,
    private readonly options: ProgressOptions,
  ) {
    super(inner);
  }

  /** The totals so far. */
  get totals(): { uploaded: number; fetched: number; requests: number } {
    return { uploaded: this.uploaded, fetched: this.fetched, requests: this.requests };
  }

  override save(key: string, source: SaveSource, options: SaveOptions = {}): Promise<void> {
    this.request(key);
    const count = (chunks: AsyncIterable<Uint8Array>) => this.counted(chunks, key);
    if (source instanceof Uint8Array) {
      const bytes = source;
      return this.inner.save(key, () => count(once(bytes)), { size: bytes.length, ...options });
    }
    const counted: SaveSource = typeof source === 'function' ? () => count(source()) : count(source);
    return this.inner.save(key, counted, options);
  }

  override async *load(key: string, options?: LoadOptions): AsyncGenerator<Uint8Array> {
    this.request(key);
    for await (const chunk of this.inner.load(key, options)) {
      this.fetched += chunk.length;
      this.emit(key);
      yield chunk;
    }
  }

  override stat(key: string): Promise<StoredObject> {
    this.request(key);
    return this.inner.stat(key);
  }

  override list(prefix: string): AsyncIterable<string> {
    this.request(prefix);
    return this.inner.list(prefix);
  }

  override remove(key: string): Promise<void> {
    this.request(key);
    return this.inner.remove(key);
  }

  override thaw?(key: string, options: ThawOptions): Promise<void> {
    this.request(key);
    return this.inner.thaw!(key, options);
  }

  override abortIncomplete?(prefix: string): Promise<number> {
    this.request(prefix);
    return this.inner.abortIncomplete!(prefix);
  }

  private async *counted(chunks: AsyncIterable<Uint8Array>, key: string): AsyncGenerator<Uint8Array> {
    for await (const chunk of chunks) {
      this.uploaded += chunk.length;
      this.emit(key);
      yield chunk;
    }
  }

  private request(key: string): void {
    this.requests++;
    this.emit(key);
  }

  private emit(key: string): void {
    this.options.onProgress({ uploaded: this.uploaded, fetched: this.fetched, requests: this.requests, key });
  }
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}
