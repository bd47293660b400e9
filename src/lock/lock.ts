/**
 * One run at a time: a lock made of lock objects in any {@link Storage} (restic's design).
 *
 * Every run writes a lock object of its own, under a key nobody else can pick (see
 * `lock-record.ts`), into a lock folder: `NAME/locks/` for one backup name, `locks/` for a
 * whole repository, in the work directory or in a bucket alike. Nothing is ever overwritten
 * (saves are create-only), renamed or compare-and-deleted, so the only thing asked of a
 * backend is what every {@link Storage} gives: save, list, load, remove, with a list
 * that shows every object whose save completed before the list began and was not removed
 * (the local file system does; so does S3 since 2020). Two locks *conflict* when either is
 * exclusive; shared locks (restore) coexist with each other but not with an exclusive one
 * (prune, backup).
 *
 * Acquiring:
 *  1. save our lock object;
 *  2. list the folder and read each other lock. A lock whose holder is provably dead (see
 *     `io/process-liveness.ts`) is removed with an ESTALELOCK warning; one that cannot be read
 *     or is invalid counts as held by an unknown run. If no conflicting lock is left, we hold
 *     the lock;
 *  3. otherwise remove ours, wait a random moment, list again. If a conflicting lock seen in
 *     step 2 is still there, its run is established: fail with ELOCKED naming it, or, with a
 *     timeout, poll until it is gone (then go back to 1) or the time is up. If none of them is
 *     left, they were contenders that backed off like us: go back to 1 (a bounded number of
 *     times, with a longer random wait each time).
 *
 * Why two runs never both hold conflicting locks. Say A and B both do, and A's save completed
 * first. B's step-2 list began after B's save completed, so after A's save: it showed one of
 * A's lock objects, unless all had been removed. A removes its own lock object only when it
 * does not hold (backing off, failing, releasing) or after saving its refreshed successor
 * (`held-lock.ts`); another run removes it only when A is provably dead. So B saw a lock of
 * A, a live conflicting one, and did not take the lock. A lock removed by `unlock` (as stale)
 * or by hand is outside this argument, as it is for restic; its holder finds out at its next
 * refresh or `assertHeld()`, before it commits.
 *
 * Why, of two simultaneous runs with no timeout, at least one wins. Both saw the other in step
 * 2 (or one of them already holds). A gives up only if its second list, made after removing
 * its own lock, still shows B's; then B removes its lock after that list, and B's own second
 * list, later still, cannot show A's: B goes back to step 1 and finds nothing in its way. So
 * in each round at most one gives up, and only when the other will win; both retrying means
 * their random waits overlapped again, which grows less likely with every round as the waits
 * double; the bound (after {@link MAX_CONTENDED_ROUNDS} such rounds) is never reached in
 * practice.
 *
 * A run killed with SIGKILL cannot release its lock: the dead-holder takeover exists for that.
 * A lock on another host is never taken over, even when it is stale (`staleness.ts`): the
 * ELOCKED error names it as stale, and `unlock` (`ibt unlock`) removes it. Locks are compared
 * across rounds by their id, not their key, since a refresh changes the key.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { BackupError, type WarningCode } from '../errors.js';
import { holderIsDead } from '../io/process-liveness.js';
import type { Storage } from '../storage/storage.js';
import { StoredLock, type HeldLock } from './held-lock.js';
import { lockFolder, lockKeys, readLock, removeLock, saveLock } from './lock-folder.js';
import { describeHolder, freshAt, holderOf, lockKey, newLockRecord, type ParsedLock } from './lock-record.js';
import { formatAge, isStale, lockAge, lockTimes, type LockTimes } from './staleness.js';

/** Contention rounds (all contenders backed off) before giving up, once any timeout is over. */
export const MAX_CONTENDED_ROUNDS = 12;

/** Shortest upper bound of the random wait after backing off, in ms. */
const MIN_JITTER_MS = 5;
/** Longest upper bound of the random wait after backing off, in ms. */
const MAX_JITTER_MS = 2_000;
/** First and longest interval between polls while waiting for a holder, in ms. */
const FIRST_POLL_MS = 25;
const MAX_POLL_MS = 1_000;

/** A lock folder's lock taken over from a dead holder. */
export interface LockWarning {
  /** Always `ESTALELOCK`. */
  code: Extract<WarningCode, 'ESTALELOCK'>;
  /** The key of the lock object that was removed. */
  path: string;
  /** Which run held it and why it is known to be dead. */
  message: string;
}

/** Options of {@link acquireLock}. */
export interface LockOptions {
  /** What the run does ("backup", "prune"), recorded in the lock and shown to the runs it blocks. */
  operation: string;
  /** An exclusive lock (the default) conflicts with every other; a shared one only with exclusive ones. */
  exclusive?: boolean;
  /** How long to wait for a holder to let go, in ms; 0 (the default) fails at once with ELOCKED. */
  timeoutMs?: number;
  /** Where the lock folder is (the work directory, a bucket), for messages: keys are shown below it. */
  where?: string;
  /** What the lock guards, for messages (e.g. `backup name "docs"`); default the lock folder. */
  subject?: string;
  /** Stops acquiring: the call rejects with EABORTED and leaves no lock object behind. */
  signal?: AbortSignal;
  /** Receives a warning for each lock of a dead holder that was removed. */
  onWarning?: (warning: LockWarning) => void;
  /** How often the held lock is written anew, in ms; default `DEFAULT_REFRESH_MS` (5 min). */
  refreshMs?: number;
  /**
   * After how long without a refresh a lock is stale, in ms; default `DEFAULT_STALE_MS`
   * (30 min), at least twice `refreshMs`. Every run sharing a lock folder should use the same.
   */
  staleMs?: number;
  /**
   * Receives each failed refresh that will be retried (the lock is not lost yet; see
   * {@link HeldLock.signal} for when it is).
   */
  onRefreshError?: (error: BackupError) => void;
}

interface Context {
  storage: Storage;
  dir: string;
  exclusive: boolean;
  /** " in WHERE", or empty. */
  where: string;
  /** What the lock guards, and where, for messages. */
  subject: string;
  /** A lock object's key as a person finds it (below `where`). */
  show: (key: string) => string;
  times: LockTimes;
  onWarning?: (warning: LockWarning) => void;
}

/** A conflicting lock object: its record, or why it could not be read. */
type Conflict = { key: string } & ParsedLock;

/**
 * Take the lock whose lock objects live under `prefix` (`NAME/locks` for a backup name,
 * `locks` for a whole repository) in `storage`, by the protocol in this module's header, and
 * keep it refreshed until it is released (see {@link HeldLock}).
 *
 * Rejects with `ELOCKED` naming the holder (operation, pid, host, user, since when, whether
 * its lock is stale and for how long, and the key of its lock object) when another run holds a
 * conflicting lock past `timeoutMs`, with `EABORTED` when `signal` fires, `EPARAM` for a bad
 * prefix or option, and with the storage's error (`EIO`...) when it fails.
 */
export async function acquireLock(storage: Storage, prefix: string, options: LockOptions): Promise<HeldLock> {
  const dir = lockFolder(prefix);
  const times = lockTimes(options);
  const timeoutMs = options.timeoutMs ?? 0;
  if (!(timeoutMs >= 0) || !Number.isFinite(timeoutMs)) {
    throw new BackupError('EPARAM', `invalid lock timeout ${String(timeoutMs)} (ms, 0 or more)`);
  }
  if (options.operation.length === 0 || options.operation.length > 200) {
    throw new BackupError('EPARAM', `invalid lock operation ${JSON.stringify(options.operation)} (1 to 200 characters)`);
  }
  const ctx: Context = {
    storage,
    dir,
    exclusive: options.exclusive ?? true,
    where: options.where === undefined ? '' : ` in ${options.where}`,
    subject: `${options.subject ?? dir}${options.where === undefined ? '' : ` in ${options.where}`}`,
    show: (key) => (options.where === undefined ? key : `${options.where.replace(/\/+$/, '')}/${key}`),
    times,
  };
  if (options.onWarning) ctx.onWarning = options.onWarning;
  const { signal } = options;
  const deadline = performance.now() + timeoutMs;
  let own: string | undefined;
  try {
    for (let contended = 0; ; ) {
      checkAbort(ctx, signal);
      const record = await newLockRecord(options.operation, ctx.exclusive);
      const key = lockKey(dir, record);
      const started = performance.now();
      own = key;
      await saveLock(storage, key, record, 'saving the lock object');
      const seen = await conflicts(ctx, key, signal);
      if (seen.length === 0) {
        const { subject, show } = ctx;
        return new StoredLock({ storage, dir, subject, show, times, onRefreshError: options.onRefreshError }, key, record, started).start();
      }
      await removeLock(storage, key);
      own = undefined;
      const jitterCap = Math.min(MAX_JITTER_MS, Math.max(MIN_JITTER_MS, 2 * (performance.now() - started)) * 2 ** contended);
      await pause(ctx, Math.random() * jitterCap, signal);
      let still = remaining(await conflicts(ctx, undefined, signal), seen);
      if (still.length === 0) {
        if (++contended >= MAX_CONTENDED_ROUNDS && performance.now() >= deadline) throw contendedError(ctx, contended);
        continue;
      }
      for (let poll = FIRST_POLL_MS; still.length > 0; poll = Math.min(2 * poll, MAX_POLL_MS)) {
        const left = deadline - performance.now();
        if (left <= 0) throw lockedError(ctx, still[0]!, timeoutMs);
        await pause(ctx, Math.min(left, poll * (0.5 + Math.random())), signal);
        still = remaining(await conflicts(ctx, undefined, signal), still);
      }
    }
  } catch (e) {
    if (own !== undefined) await removeLock(storage, own).catch(() => undefined);
    throw e;
  }
}

/**
 * The live locks under the folder that conflict with ours (other than `own`), after removing
 * those of dead holders. Lock objects are read one after the other: a folder holds a few.
 * The listing must show `own`, saved just before: a backend whose listing lags behind its
 * writes would void the argument in this module's header, so it is refused rather than used.
 */
async function conflicts(ctx: Context, own: string | undefined, signal: AbortSignal | undefined): Promise<Conflict[]> {
  const keys = await lockKeys(ctx.storage, ctx.dir);
  if (own !== undefined && !keys.includes(own)) {
    throw new BackupError(
      'EIO',
      `the storage${ctx.where} did not list the lock object ${own} it had just saved: its listing lags behind its ` +
        'writes, and no lock can be built on such a listing',
      { path: own },
    );
  }
  const found: Conflict[] = [];
  for (const key of keys) {
    if (key === own) continue;
    checkAbort(ctx, signal);
    const lock = await readLock(ctx.storage, ctx.dir, key);
    if (lock === undefined) continue;
    if ('invalid' in lock) {
      found.push({ key, ...lock });
      continue;
    }
    const { record } = lock;
    if (await holderIsDead(holderOf(record), freshAt(record))) {
      await removeLock(ctx.storage, key);
      ctx.onWarning?.({
        code: 'ESTALELOCK',
        path: key,
        message: `removed the lock ${key}${ctx.where}: its holder, ${describeHolder(record)}, is no longer running`,
      });
      continue;
    }
    if (ctx.exclusive || record.exclusive) found.push({ key, record });
  }
  return found;
}

/** The conflicts of `before` that `now` still shows: the same lock, even if refreshed under a new key since. */
function remaining(now: Conflict[], before: Conflict[]): Conflict[] {
  const ids = new Set(before.map(identity));
  return now.filter((c) => ids.has(identity(c)));
}

function identity(conflict: Conflict): string {
  return 'record' in conflict ? `id ${conflict.record.id}` : `key ${conflict.key}`;
}

function checkAbort(ctx: Context, signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortedError(ctx, signal.reason);
}

async function pause(ctx: Context, ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await sleep(ms, undefined, signal ? { signal } : {});
  } catch (e) {
    throw abortedError(ctx, e);
  }
}

function abortedError(ctx: Context, cause: unknown): BackupError {
  return new BackupError('EABORTED', `taking the lock of ${ctx.subject}: aborted`, { path: ctx.dir, cause });
}

function lockedError(ctx: Context, holder: Conflict, timeoutMs: number): BackupError {
  const waited = timeoutMs > 0 ? ` (waited ${timeoutMs} ms)` : '';
  let message: string;
  if (!('record' in holder)) {
    message =
      `${ctx.subject} is locked${waited} by an unknown run: the lock object ${ctx.show(holder.key)} is not valid ` +
      `(${holder.invalid}). If no other run is active, remove ${ctx.show(holder.key)}`;
  } else if (isStale(holder.record, ctx.times.staleMs)) {
    message =
      `${ctx.subject} is locked${waited} by a stale lock: ${describeHolder(holder.record)} has not refreshed it for ` +
      `${formatAge(lockAge(holder.record))} (a lock is stale after ${formatAge(ctx.times.staleMs)}; lock object ` +
      `${ctx.show(holder.key)}). Its run most likely died on a host that cannot be checked from here. If that run ` +
      'is no longer running, remove the stale lock with `ibt unlock` (it removes stale locks only)';
  } else {
    message =
      `${ctx.subject} is locked${waited} by ${describeHolder(holder.record)} (lock object ${ctx.show(holder.key)}): ` +
      `wait for it to finish or set a lock timeout. If that run is no longer running (a run on another host ` +
      `or in another container cannot be checked from here), remove ${ctx.show(holder.key)}`;
  }
  return new BackupError('ELOCKED', message, { path: holder.key });
}

function contendedError(ctx: Context, rounds: number): BackupError {
  return new BackupError(
    'ELOCKED',
    `${ctx.subject}: could not take the lock, other runs kept starting at the same moment (${rounds} rounds); try again`,
    { path: ctx.dir },
  );
}
