/**
 * Stopping storage operations through an AbortSignal. A save may be waiting on its source
 * (a producer that is slow, or stuck) and a load on the network, so a signal must stop the
 * wait itself, not only the next step after it. Aborts surface as `EABORTED` naming the key.
 */
import { BackupError } from '../errors.js';

/**
 * The error of an operation on `key` stopped by `signal`: its reason when that is a
 * {@link BackupError} (a run that lost its lock stops with the lock's `ELOCKED`, not as if a
 * user had pressed Ctrl-C), else `EABORTED` naming the key.
 */
export function abortError(key: string, signal: AbortSignal): BackupError {
  if (signal.reason instanceof BackupError) return signal.reason;
  return new BackupError('EABORTED', `${key}: aborted`, { path: key, cause: signal.reason });
}

/** Throw `EABORTED` naming `key` when `signal` has been aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, key: string): void {
  if (signal?.aborted) throw abortError(key, signal);
}

/**
 * The items of `source`, stopped with `EABORTED` as soon as `signal` aborts, even while
 * `source` is waiting for its next item. The source is then closed without waiting for it
 * (a stuck producer would otherwise hold the abort up).
 *
 * Each wait gets its own abort listener, removed when the wait settles. Racing every step
 * against one long-lived promise instead leaves a reaction per step on it, each holding that
 * step's result: a 700 MiB upload kept 500 MiB of chunks alive until it ended.
 */
export async function* abortable<T>(source: AsyncIterable<T>, signal: AbortSignal | undefined, key: string): AsyncGenerator<T> {
  if (signal === undefined) {
    yield* source;
    return;
  }
  throwIfAborted(signal, key);
  const it = source[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      const next = await nextOrAbort(it, signal, key);
      if (next.done) {
        finished = true;
        return;
      }
      yield next.value;
      throwIfAborted(signal, key);
    }
  } finally {
    if (!finished) void Promise.resolve(it.return?.()).catch(() => undefined);
  }
}

/** The next item of `it`, or `EABORTED` naming `key` as soon as `signal` aborts. */
function nextOrAbort<T>(it: AsyncIterator<T>, signal: AbortSignal, key: string): Promise<IteratorResult<T>> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(abortError(key, signal));
    signal.addEventListener('abort', onAbort, { once: true });
    it.next().then(
      (r) => {
        signal.removeEventListener('abort', onAbort);
        resolve(r);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
