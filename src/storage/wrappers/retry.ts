/**
 * Retrying what is worth retrying. Object stores fail now and then in ways that go away:
 * a 5xx, a throttle (429, SlowDown), a reset connection, a timeout. The wrapped storage says
 * which errors those are (`isTransient`); everything else — a conditional save that lost
 * (`EEXIST`), a refused credential (`EAUTH`), a missing key, an abort — fails at once.
 *
 * Waits grow exponentially with "full jitter" (a random wait between 0 and the exponential
 * bound, AWS's recommendation), so many clients throttled together do not come back together.
 * A save is retried only when its source can be opened again; a plain iterable is read once.
 * A load that breaks in the middle resumes with a ranged load of the rest, so its consumer
 * sees one seamless stream; a listing restarts and skips the keys it already gave (the order
 * is fixed, so "already given" is "not after the last one"). Progress resets the count of
 * tries: a long download that breaks five times, each time after moving on, still finishes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isBackupError } from '../../errors.js';
import { abortError, throwIfAborted } from '../abort.js';
import { spanOf } from '../load-range.js';
import { openerOf, type LoadOptions, type SaveOptions, type SaveSource, type Storage, type StoredObject, type ThawOptions } from '../storage.js';
import { StorageWrapper } from './wrapper.js';

/** What {@link RetryOptions.onRetry} is told before each wait. */
export interface RetryEvent {
  /** The operation that failed (`save`, `load`, `stat`, `list`, `remove`, `thaw`, `abortIncomplete`). */
  operation: string;
  /** The key (the prefix, for `list` and `abortIncomplete`). */
  key: string;
  /** The try that failed, from 1. */
  attempt: number;
  /** How long the wrapper waits before the next try. */
  delayMs: number;
  /** The error of the failed try. */
  error: unknown;
}

/** Options of {@link RetryingStorage}. */
export interface RetryOptions {
  /** Tries per operation, the first included (a load or listing that moves on gets them afresh). Default 5. */
  attempts?: number;
  /** The bound of the first wait; each further wait's bound doubles. Default 200 ms. */
  baseDelayMs?: number;
  /** The largest bound of a wait. Default 10 000 ms. */
  maxDelayMs?: number;
  /** Stops the waits and any further try with `EABORTED`; an operation in flight is stopped by its own signal. */
  signal?: AbortSignal;
  /** Told about each failed try that will be retried, before the wait. */
  onRetry?: (event: RetryEvent) => void;
}

/** A storage that retries the transient failures of `inner`. */
export class RetryingStorage extends StorageWrapper {
  private readonly attempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  /**
   * @param inner The storage whose transient failures are retried.
   * @param options See {@link RetryOptions}.
   */
  constructor(
    inner: Storage,
    private readonly options: RetryOptions = {},
  ) {
    super(inner);
    this.attempts = Math.max(1, options.attempts ?? 5);
    this.baseDelayMs = options.baseDelayMs ?? 200;
    this.maxDelayMs = options.maxDelayMs ?? 10_000;
  }

  override save(key: string, source: SaveSource, options: SaveOptions = {}): Promise<void> {
    // Bytes and openers go to every try as they are: each try reads from the first byte.
    return this.run('save', key, options.signal, () => this.inner.save(key, source, options), openerOf(source).reopenable);
  }

  override async *load(key: string, options: LoadOptions = {}): AsyncGenerator<Uint8Array> {
    const { start, end } = spanOf(key, options);
    let at = start;
    for (let attempt = 1; ; attempt++) {
      const before = at;
      try {
        if (at === end && at > start) return;
        const length = end === undefined ? undefined : end - at;
        for await (const chunk of this.inner.load(key, { ...options, offset: at, length })) {
          at += chunk.length;
          yield chunk;
        }
        return;
      } catch (e) {
        if (at > before) attempt = 1;
        await this.retryOrThrow('load', key, options.signal, e, attempt);
      }
    }
  }

  override stat(key: string): Promise<StoredObject> {
    return this.run('stat', key, undefined, () => this.inner.stat(key));
  }

  override async *list(prefix: string): AsyncGenerator<string> {
    let last: string | undefined;
    for (let attempt = 1; ; attempt++) {
      const before = last;
      try {
        for await (const key of this.inner.list(prefix)) {
          if (last !== undefined && key <= last) continue;
          last = key;
          yield key;
        }
        return;
      } catch (e) {
        if (last !== before) attempt = 1;
        await this.retryOrThrow('list', prefix, undefined, e, attempt);
      }
    }
  }

  override remove(key: string): Promise<void> {
    return this.run('remove', key, undefined, () => this.inner.remove(key));
  }

  override thaw?(key: string, options: ThawOptions): Promise<void> {
    return this.run('thaw', key, undefined, () => this.inner.thaw!(key, options));
  }

  override abortIncomplete?(prefix: string): Promise<number> {
    return this.run('abortIncomplete', prefix, undefined, () => this.inner.abortIncomplete!(prefix));
  }

  private async run<T>(operation: string, key: string, signal: AbortSignal | undefined, attempt: () => Promise<T>, retryable = true): Promise<T> {
    for (let n = 1; ; n++) {
      try {
        return await attempt();
      } catch (e) {
        if (!retryable) throw e;
        await this.retryOrThrow(operation, key, signal, e, n);
      }
    }
  }

  /** Rethrow `error` unless it is worth another try and tries are left; else wait for the next one. */
  private async retryOrThrow(operation: string, key: string, signal: AbortSignal | undefined, error: unknown, attempt: number): Promise<void> {
    if (attempt >= this.attempts || !this.isRetryable(error)) throw error;
    for (const s of [this.options.signal, signal]) throwIfAborted(s, key);
    const bound = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
    const delayMs = Math.floor(Math.random() * bound);
    this.options.onRetry?.({ operation, key, attempt, delayMs, error });
    await wait(delayMs, key, [this.options.signal, signal]);
  }

  private isRetryable(error: unknown): boolean {
    if (isBackupError(error, 'EEXIST') || isBackupError(error, 'EAUTH') || isBackupError(error, 'EABORTED') || isBackupError(error, 'EPARAM')) return false;
    if ((error as Error | undefined)?.name === 'AbortError') return false;
    return this.inner.isTransient?.(error) === true && !this.inner.isNotFound(error);
  }
}

/** Wait `ms`, or reject with `EABORTED` naming `key` as soon as one of `signals` aborts. */
async function wait(ms: number, key: string, signals: (AbortSignal | undefined)[]): Promise<void> {
  const live = signals.filter((s): s is AbortSignal => s !== undefined);
  if (live.length === 0) {
    await sleep(ms);
    return;
  }
  const already = live.find((s) => s.aborted);
  if (already) throw abortError(key, already);
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  for (const s of live) s.addEventListener('abort', onAbort, { once: true });
  try {
    await sleep(ms, undefined, { signal: stop.signal });
  } catch (e) {
    const fired = live.find((s) => s.aborted);
    if (fired) throw abortError(key, fired);
    throw e;
  } finally {
    for (const s of live) s.removeEventListener('abort', onAbort);
  }
}
