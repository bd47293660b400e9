/**
 * When a lock is stale: restic's two times, refresh and stale.
 *
 * A holder writes its lock object anew every {@link DEFAULT_REFRESH_MS} (5 min) while it holds
 * the lock. A lock object whose newest write (`refreshedAt`, else `createdAt`) is more than
 * {@link DEFAULT_STALE_MS} (30 min) old is *stale*: its run stopped refreshing it, most likely
 * because it died on a host that cannot be checked from here (or was suspended, or lost its
 * network). A stale lock is never taken over automatically (as restic without
 * `--remove-stale`); it is named as stale in the ELOCKED error and `unlock` removes it.
 *
 * Clocks. A lock's age is the reader's clock minus the time the writer put in the object, so
 * it is off by the skew between the two hosts' clocks (the storage's own times are not used:
 * not every backend gives them). A holder whose refreshes succeed writes a new time at least
 * every `refreshMs` (plus the time a refresh takes), so a reader whose clock is up to
 * `staleMs - refreshMs` (25 min) ahead never sees it stale. A holder that cannot refresh gives
 * the lock up once its newest object is `staleMs - refreshMs` old by its own clocks (see
 * `held-lock.ts`), which leaves a skew of up to `refreshMs` (5 min) before another host could
 * take the lock for stale while its holder still counts it as held. A clock behind its peers'
 * only makes their locks look younger: a lock dated in the future is not stale.
 */
import { BackupError } from '../errors.js';
import { freshAt, type LockRecord } from './lock-record.js';

/** How often a held lock is refreshed by default, in ms (restic's 5 minutes). */
export const DEFAULT_REFRESH_MS = 5 * 60_000;

/** After how long without a refresh a lock is stale by default, in ms (restic's 30 minutes). */
export const DEFAULT_STALE_MS = 30 * 60_000;

/** The refresh and stale times in force, checked. */
export interface LockTimes {
  /** How often a held lock is written anew, in ms. */
  refreshMs: number;
  /** After how long without a refresh a lock is stale, in ms. */
  staleMs: number;
}

/** The times in `options` (defaults filled in); `EPARAM` unless `staleMs` is at least twice `refreshMs`. */
export function lockTimes(options: { refreshMs?: number | undefined; staleMs?: number | undefined }): LockTimes {
  const refreshMs = options.refreshMs ?? DEFAULT_REFRESH_MS;
  const staleMs = options.staleMs ?? DEFAULT_STALE_MS;
  if (!(refreshMs > 0) || !Number.isFinite(refreshMs)) {
    throw new BackupError('EPARAM', `invalid lock refresh interval ${String(refreshMs)} (ms, more than 0)`);
  }
  // A holder must get at least one refresh in before its lock could look stale.
  if (!(staleMs >= 2 * refreshMs) || !Number.isFinite(staleMs)) {
    throw new BackupError('EPARAM', `invalid lock stale time ${String(staleMs)} (ms, at least twice the refresh interval ${refreshMs})`);
  }
  return { refreshMs, staleMs };
}

/** How long ago `record` was last written, by this host's clock against its writer's (never negative). */
export function lockAge(record: LockRecord, nowMs = Date.now()): number {
  return Math.max(0, nowMs - freshAt(record));
}

/** Whether `record` has not been refreshed for more than `staleMs`. */
export function isStale(record: LockRecord, staleMs: number, nowMs = Date.now()): boolean {
  return lockAge(record, nowMs) > staleMs;
}

/** A duration for messages: `45 s`, `31 min`, `2 h 5 min`, `3 d 4 h`. */
export function formatAge(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 120) return s < 1 ? `${Math.round(ms)} ms` : `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 120) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return `${h} h ${min % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}
