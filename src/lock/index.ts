/**
 * The lock layer: one run of a backup name at a time, in the work directory or in any
 * Storage, by lock objects each run writes for itself (see `lock.ts`).
 */
export { acquireLock, type HeldLock, type LockOptions, type LockWarning } from './lock.js';
export { LOCK_FORMAT, LOCK_VERSION, type LockRecord } from './lock-record.js';
