/**
 * A lock this run holds, kept fresh until it is released, and the proof a run asks for before
 * it commits.
 *
 * Refreshing (every `refreshMs`, on a timer that does not keep the process alive): save a new
 * lock object (same id, a later `refreshedAt`, so a new key; create-only), check that the old
 * one is still there, then remove the old one. Another run therefore always sees at least one
 * of our objects, and a refresh never opens a gap a concurrent acquirer could slip through.
 * The check is what makes a lock that *was* removed (by `unlock`, by hand, or as stale while
 * this process was suspended) count as lost rather than silently re-created: objects are only
 * ever removed, never re-added, so an object found present has been present since it was
 * written, and no conflicting run can have taken the lock meanwhile (`lock.ts`).
 *
 * Losing the lock. The lock is lost when one of our objects is found gone, or when refreshes
 * keep failing until our newest object is `staleMs - refreshMs` old (the holder gives up
 * before other hosts can see its lock as stale; see `staleness.ts` for the clock skew this
 * tolerates). Failed refreshes before that are reported (`onRefreshError`) and retried at the
 * next interval. A late refresh that succeeds (after the machine slept) keeps the lock: the
 * check above proves nobody removed it meanwhile. A lost lock
 * aborts {@link HeldLock.signal} and makes {@link HeldLock.assertHeld} throw; its objects stay
 * until `release()`, so a run that keeps working after losing its lock still blocks new ones.
 *
 * Ages are measured on both the monotonic clock (immune to clock steps) and the wall clock
 * (which keeps counting while the machine sleeps), and the larger one is used.
 */
import { performance } from 'node:perf_hooks';
import { BackupError, wrapIoError } from '../errors.js';
import type { Storage } from '../storage/storage.js';
import { lockExists, removeLock, saveLock } from './lock-folder.js';
import { freshAt, lockKey, refreshedRecord, type LockRecord } from './lock-record.js';
import { formatAge, type LockTimes } from './staleness.js';

/** A lock this run holds. */
export interface HeldLock {
  /** The key of this run's current lock object (it changes at every refresh). */
  readonly key: string;
  /** What this run's current lock object says. */
  readonly record: LockRecord;
  /**
   * Aborted when the lock is lost (its object was removed, or it could not be refreshed in
   * time), with the `ELOCKED` error saying why as its reason. Never aborted by `release()`.
   */
  readonly signal: AbortSignal;
  /**
   * Prove the lock is still held, just before a commit: resolves when this run's lock object
   * is present and fresh (it is refreshed here if a refresh is due), and rejects with
   * `ELOCKED` ("lost the lock of ...") otherwise; the lock then counts as lost. A run must not
   * commit when it rejects.
   */
  assertHeld(): Promise<void>;
  /** Stop refreshing and remove this run's lock objects. Calling it again (or after it succeeded) does nothing. */
  release(): Promise<void>;
}

/** What a {@link StoredLock} needs to know about its folder and how to speak of it. */
export interface HeldLockContext {
  storage: Storage;
  dir: string;
  /** What the lock guards, and where, for messages. */
  subject: string;
  /** A lock object's key as a person finds it (below the storage's location). */
  show: (key: string) => string;
  times: LockTimes;
  onRefreshError?: ((error: BackupError) => void) | undefined;
}

/** A held lock in a {@link Storage}, refreshed on a timer from {@link StoredLock.start} on. */
export class StoredLock implements HeldLock {
  readonly #ctx: HeldLockContext;
  #key: string;
  #record: LockRecord;
  /** performance.now() when the current record's time was taken. */
  #freshPerf: number;
  /** Our objects other than the current one whose removal failed or whose save may have landed. */
  readonly #leftovers = new Set<string>();
  readonly #lost = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  /** Refreshes, checks and the release run one at a time, in this chain. */
  #queue: Promise<unknown> = Promise.resolve();
  #released = false;
  #releasing: Promise<void> | undefined;

  constructor(ctx: HeldLockContext, key: string, record: LockRecord, freshPerf: number) {
    this.#ctx = ctx;
    this.#key = key;
    this.#record = record;
    this.#freshPerf = freshPerf;
  }

  get key(): string {
    return this.#key;
  }

  get record(): LockRecord {
    return this.#record;
  }

  get signal(): AbortSignal {
    return this.#lost.signal;
  }

  /** Start refreshing. */
  start(): this {
    this.#schedule();
    return this;
  }

  assertHeld(): Promise<void> {
    return this.#serial(async () => {
      if (this.#released) throw new BackupError('EINTERNAL', `the lock of ${this.#ctx.subject} was released before the check that it is held`);
      if (!this.#lost.signal.aborted) {
        try {
          if (this.#age() >= this.#ctx.times.refreshMs) await this.#refresh();
          else if (!(await lockExists(this.#ctx.storage, this.#key))) this.#lose(this.#removedError(this.#key));
        } catch (e) {
          this.#lose(this.#lostError(`its lock object ${this.#ctx.show(this.#key)} could not be checked`, e));
        }
      }
      if (this.#lost.signal.aborted) throw this.#lost.signal.reason as BackupError;
    });
  }

  release(): Promise<void> {
    this.#released = true;
    clearTimeout(this.#timer);
    this.#releasing ??= this.#serial(async () => {
      const keys = [this.#key, ...this.#leftovers];
      const failures = await Promise.allSettled(keys.map((key) => removeLock(this.#ctx.storage, key)));
      keys.forEach((key, i) => {
        if (failures[i]!.status === 'fulfilled') this.#leftovers.delete(key);
        else this.#leftovers.add(key);
      });
      const failed = failures.find((f) => f.status === 'rejected');
      if (failed) throw failed.reason;
    }).catch((e: unknown) => {
      this.#releasing = undefined;
      throw e;
    });
    return this.#releasing;
  }

  #schedule(): void {
    this.#timer = setTimeout(() => void this.#serial(() => this.#tick()), this.#ctx.times.refreshMs);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    if (this.#released || this.#lost.signal.aborted) return;
    try {
      await this.#refresh();
    } catch (e) {
      const error = wrapIoError(e, this.#key, 'refreshing the lock object');
      const giveUpMs = this.#ctx.times.staleMs - this.#ctx.times.refreshMs;
      if (this.#age() >= giveUpMs) {
        this.#lose(
          this.#lostError(`it could not be refreshed for ${formatAge(this.#age())} (a lock is stale after ${formatAge(this.#ctx.times.staleMs)})`, error),
        );
      } else {
        this.#ctx.onRefreshError?.(error);
      }
    }
    if (!this.#released && !this.#lost.signal.aborted) this.#schedule();
  }

  /** Write the lock anew under a new key and remove the old object (see the module header). */
  async #refresh(): Promise<void> {
    const { storage, dir } = this.#ctx;
    const record = refreshedRecord(this.#record);
    const taken = performance.now();
    const key = lockKey(dir, record);
    this.#leftovers.add(key);
    await saveLock(storage, key, record, 'saving the refreshed lock object');
    const old = this.#key;
    if (!(await lockExists(storage, old))) {
      this.#lose(this.#removedError(old));
      return;
    }
    this.#leftovers.delete(key);
    this.#leftovers.add(old);
    this.#key = key;
    this.#record = record;
    this.#freshPerf = taken;
    for (const leftover of this.#leftovers) {
      // A removal that fails now is tried again at the next refresh and at the release.
      await removeLock(storage, leftover).then(
        () => this.#leftovers.delete(leftover),
        () => undefined,
      );
    }
  }

  /** How old our current object is, by the larger of the monotonic and the wall-clock measure. */
  #age(): number {
    return Math.max(performance.now() - this.#freshPerf, Date.now() - freshAt(this.#record));
  }

  #lose(error: BackupError): void {
    clearTimeout(this.#timer);
    if (!this.#lost.signal.aborted) this.#lost.abort(error);
  }

  #removedError(key: string): BackupError {
    return this.#lostError(
      `its lock object ${this.#ctx.show(key)} was removed (by \`ibt unlock\`, by hand, or as stale), and another run may have taken the lock since`,
    );
  }

  #lostError(why: string, cause?: unknown): BackupError {
    const detail = cause === undefined ? '' : `: ${cause instanceof Error ? cause.message : String(cause)}`;
    return new BackupError('ELOCKED', `lost the lock of ${this.#ctx.subject}: ${why}${detail}. This run must not commit`, {
      path: this.#key,
      ...(cause === undefined ? {} : { cause }),
    });
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}
