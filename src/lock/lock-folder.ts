/**
 * A lock folder in a {@link Storage}: its keys, its lock objects read back, removals. Shared by
 * acquiring (`lock.ts`), holding (`held-lock.ts`) and `unlock.ts`, so all three read a lock
 * object the same way and wrap the storage's errors the same way.
 */
import { BackupError, isBackupError, wrapIoError } from '../errors.js';
import { listKeys, type Storage } from '../storage/storage.js';
import { encodeLockRecord, MAX_LOCK_BYTES, parseLockRecord, type LockRecord, type ParsedLock } from './lock-record.js';

/** The lock folder named by `prefix` (`locks`, `NAME/locks`, trailing `/` allowed); `EPARAM` when empty. */
export function lockFolder(prefix: string): string {
  const dir = prefix.replace(/\/+$/, '');
  if (dir === '') throw new BackupError('EPARAM', `invalid lock folder ${JSON.stringify(prefix)}`);
  return dir;
}

/** Every key under the lock folder `dir` (a folder holds a few). */
export async function lockKeys(storage: Storage, dir: string): Promise<string[]> {
  return listKeys(storage, `${dir}/`).catch((e: unknown) => {
    throw wrapIoError(e, dir, 'listing the lock folder');
  });
}

/**
 * The lock object `key` of the folder `dir`: its record, why it is not a valid one, or
 * undefined when it is gone (its run let go since the listing).
 */
export async function readLock(storage: Storage, dir: string, key: string): Promise<ParsedLock | undefined> {
  if (key.indexOf('/', dir.length + 1) >= 0) return { invalid: 'it is not directly in the lock folder' };
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of storage.load(key, { offset: 0, length: MAX_LOCK_BYTES + 1 })) {
      chunks.push(chunk);
      size += chunk.length;
      if (size > MAX_LOCK_BYTES) break;
    }
  } catch (e) {
    if (storage.isNotFound(e)) return undefined;
    return { invalid: `it cannot be read (${e instanceof Error ? e.message : String(e)})` };
  }
  return parseLockRecord(key, Buffer.concat(chunks));
}

/** Whether the object `key` exists; storage errors other than not-found are thrown. */
export async function lockExists(storage: Storage, key: string): Promise<boolean> {
  try {
    await storage.stat(key);
    return true;
  } catch (e) {
    if (storage.isNotFound(e)) return false;
    throw wrapIoError(e, key, 'checking the lock object');
  }
}

/**
 * Save the lock object `key` create-only. Its key is unique to this run, so an `EEXIST` can
 * only be this very save, retried after its reply was lost (the first try created it).
 */
export async function saveLock(storage: Storage, key: string, record: LockRecord, doing: string): Promise<void> {
  await storage.save(key, encodeLockRecord(record), { ifNoneMatch: true }).catch((e: unknown) => {
    if (!isBackupError(e, 'EEXIST')) throw wrapIoError(e, key, doing);
  });
}

/** Remove the lock object `key` (a missing one is not an error). */
export async function removeLock(storage: Storage, key: string): Promise<void> {
  await storage.remove(key).catch((e: unknown) => {
    throw wrapIoError(e, key, 'removing the lock object');
  });
}
