/**
 * The lock layer: one run of a backup name (or of a whole repository) at a time, in the work
 * directory or in any Storage, by lock objects each run writes for itself and refreshes while
 * it holds the lock (see `lock.ts`, `held-lock.ts`); stale ones are reported and removed by
 * `unlock` (`staleness.ts`, `unlock.ts`).
 */
export { type HeldLock } from './held-lock.js';
export { acquireLock, type LockOptions, type LockWarning } from './lock.js';
export { LOCK_FORMAT, LOCK_VERSION, type LockRecord } from './lock-record.js';
export { DEFAULT_REFRESH_MS, DEFAULT_STALE_MS } from './staleness.js';
export { unlock, type UnlockedLock, type UnlockOptions, type UnlockResult } from './unlock.js';
