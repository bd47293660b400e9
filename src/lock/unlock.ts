/**
 * `unlock`: remove the locks nobody holds any more, as `restic unlock` does.
 *
 * By default it removes what can be shown to be abandoned: stale locks, of any host (not
 * refreshed for `staleMs`, see `staleness.ts`), and locks whose holder is provably dead on
 * this host (`io/process-liveness.ts`). A fresh lock of another host, a live process's lock
 * and an invalid lock object (whose age cannot be read) are kept and reported, so a person can
 * decide; `all` removes every lock object in the folder, for when they know no run is active.
 * A holder whose lock was removed finds out at its next refresh or `assertHeld()` and does
 * not commit (`held-lock.ts`).
 */
import { BackupError } from '../errors.js';
import { holderIsDead } from '../io/process-liveness.js';
import type { Storage } from '../storage/storage.js';
import { lockFolder, lockKeys, readLock, removeLock } from './lock-folder.js';
import { describeHolder, freshAt, holderOf } from './lock-record.js';
import { DEFAULT_STALE_MS, formatAge, isStale, lockAge } from './staleness.js';

/** Options of {@link unlock}. */
export interface UnlockOptions {
  /** Remove every lock object, held or not; default false (only stale locks and those of dead holders). */
  all?: boolean;
  /** After how long without a refresh a lock is stale, in ms; default `DEFAULT_STALE_MS` (30 min). */
  staleMs?: number;
  /** Where the lock folder is (the work directory, a bucket): {@link UnlockedLock.shown} names keys below it. */
  where?: string;
  /** Receives each lock object as soon as it has been removed. */
  onRemoved?: (lock: UnlockedLock) => void;
}

/** A lock object `unlock` removed or kept. */
export interface UnlockedLock {
  /** Its key in the storage. */
  key: string;
  /** Its key as a person finds it: below `where` when that was given. */
  shown: string;
  /** Which run it belongs to (operation, pid, host, user, since when), or why it is not a valid lock object. */
  holder: string;
  /** Why it was removed or kept (`stale: not refreshed for 41 min`, `its holder is no longer running`...). */
  reason: string;
}

/** What an unlock did (`unlockBackups`, `ibt unlock`). */
export interface UnlockResult {
  /** The lock objects removed, in key order. */
  removed: UnlockedLock[];
  /** The lock objects left in place, in key order, with why. */
  kept: UnlockedLock[];
}

/**
 * Remove the stale locks and the locks of provably dead holders under `prefix` (`NAME/locks`,
 * or `locks` for the repository), or with `all` every lock object there. Rejects with
 * `EPARAM` for a bad prefix or `staleMs`, and with the storage's error (`EIO`...) when it fails.
 */
export async function unlock(storage: Storage, prefix: string, options: UnlockOptions = {}): Promise<UnlockResult> {
  const dir = lockFolder(prefix);
  const staleMs = options.staleMs ?? DEFAULT_STALE_MS;
  if (!(staleMs > 0) || !Number.isFinite(staleMs)) throw new BackupError('EPARAM', `invalid lock stale time ${String(staleMs)} (ms, more than 0)`);
  const where = options.where?.replace(/\/+$/, '');
  const result: UnlockResult = { removed: [], kept: [] };
  for (const key of await lockKeys(storage, dir)) {
    const lock = await readLock(storage, dir, key);
    if (lock === undefined) continue;
    let holder: string;
    let remove: string | undefined;
    let keep: string | undefined;
    if ('invalid' in lock) {
      holder = `an unknown run (not a valid lock object: ${lock.invalid})`;
      keep = 'not a valid lock object, so its age is unknown; remove it with `all` if no run is active';
    } else {
      const { record } = lock;
      holder = describeHolder(record);
      if (isStale(record, staleMs)) remove = `stale: not refreshed for ${formatAge(lockAge(record))}`;
      else if (await holderIsDead(holderOf(record), freshAt(record))) remove = 'its holder is no longer running';
      else keep = `in use: written ${formatAge(lockAge(record))} ago, stale after ${formatAge(staleMs)}`;
    }
    if (options.all && remove === undefined) remove = 'all locks were asked to be removed';
    const entry: UnlockedLock = { key, shown: where === undefined ? key : `${where}/${key}`, holder, reason: (remove ?? keep)! };
    if (remove === undefined) {
      result.kept.push(entry);
      continue;
    }
    await removeLock(storage, key);
    result.removed.push(entry);
    options.onRemoved?.(entry);
  }
  return result;
}
