/**
 * A lock object: which run holds (or held) a lock, written once under a key of its own and
 * never changed, so no backend needs an overwrite, a rename or a compare-and-delete to use it.
 * A holder refreshes its lock by writing a new object (same id, a later `refreshedAt`) under a
 * new key and then removing the old one (`held-lock.ts`).
 *
 * The key is `DIR/<time>-<id>.json` (a compact UTC time, the newest of `createdAt` and
 * `refreshedAt`, then 128 random bits), so listing DIR shows the locks oldest first and two
 * runs can never write the same key. The record says
 * who wrote it in the terms `process-liveness.ts` needs to prove a holder dead (host, boot id,
 * pid namespace, pid, start time) and in the terms a person needs to find it (user, operation,
 * time). Everything read back is validated: a lock that fails is not ignored but counted as
 * held by an unknown run, because ignoring it could let two runs in.
 */
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { z } from 'zod';
import { currentProcess, type ProcessIdentity } from '../io/process-liveness.js';

/** The `format` field of every lock object. */
export const LOCK_FORMAT = 'ibt-lock';

/** The version of the lock object this library writes and reads. */
export const LOCK_VERSION = 1;

/** Lock objects larger than this are not read (they cannot be ours). */
export const MAX_LOCK_BYTES = 16 * 1024;

const text = (max: number) => z.string().min(1).max(max);

// Unknown fields are dropped, not refused: a field added without a version bump must not
// block older readers. Fields that change meaning bump LOCK_VERSION.
const lockRecordSchema = z.object({
  format: z.literal(LOCK_FORMAT),
  version: z.literal(LOCK_VERSION),
  id: z.string().regex(/^[0-9a-f]{32}$/),
  operation: text(200),
  exclusive: z.boolean(),
  hostname: text(255),
  pid: z.int().positive(),
  startTicks: z.int().nonnegative().optional(),
  bootId: text(64).optional(),
  pidNamespace: text(64).optional(),
  user: z.string().max(255),
  createdAt: z.iso.datetime(),
  // Added with refreshing: absent in a lock that was never refreshed (and in older writers').
  refreshedAt: z.iso.datetime().optional(),
});

/** What a lock object holds. */
export type LockRecord = z.infer<typeof lockRecordSchema>;

/** A fresh record for a lock the current process is about to write. */
export async function newLockRecord(operation: string, exclusive: boolean): Promise<LockRecord> {
  const me = await currentProcess();
  return {
    format: LOCK_FORMAT,
    version: LOCK_VERSION,
    id: randomBytes(16).toString('hex'),
    operation,
    exclusive,
    ...me,
    user: userName(),
    createdAt: new Date().toISOString(),
  };
}

function userName(): string {
  try {
    return userInfo().username;
  } catch {
    // No passwd entry (a container running under an arbitrary uid).
    return process.getuid ? `uid ${process.getuid()}` : '';
  }
}

const KEY_NAME = /^(\d{8}T\d{9}Z)-([0-9a-f]{32})\.json$/;

/** When `record` was last written (created or refreshed), in ms since the epoch, by its writer's clock. */
export function freshAt(record: LockRecord): number {
  return Date.parse(record.refreshedAt ?? record.createdAt);
}

/**
 * `record` refreshed now: the same lock with a later `refreshedAt`. The time is strictly later
 * than the record's own, even if the clock stood still or went back, so the new key differs.
 */
export function refreshedRecord(record: LockRecord): LockRecord {
  const at = Math.max(Date.now(), freshAt(record) + 1);
  return { ...record, refreshedAt: new Date(at).toISOString() };
}

/** The key of `record` in the lock folder `dir`. */
export function lockKey(dir: string, record: LockRecord): string {
  const stamp = (record.refreshedAt ?? record.createdAt).replace(/[-:.]/g, '');
  return `${dir}/${stamp}-${record.id}.json`;
}

/** The bytes of `record` as stored. */
export function encodeLockRecord(record: LockRecord): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(record, null, 2)}\n`);
}

/** A lock object read back: its record, or why it is not a valid one. */
export type ParsedLock = { record: LockRecord } | { invalid: string };

/** Parse and validate the lock object stored under `key`. */
export function parseLockRecord(key: string, bytes: Uint8Array): ParsedLock {
  const name = KEY_NAME.exec(key.slice(key.lastIndexOf('/') + 1));
  if (!name) return { invalid: 'its name is not <time>-<id>.json' };
  if (bytes.length > MAX_LOCK_BYTES) return { invalid: `it is larger than ${MAX_LOCK_BYTES} bytes` };
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return { invalid: 'it is not JSON' };
  }
  const version = (json as { version?: unknown } | null)?.version;
  if (typeof version === 'number' && version > LOCK_VERSION) {
    return { invalid: `it has version ${version}, written by a newer version of this library` };
  }
  const parsed = lockRecordSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { invalid: `field ${issue.path.join('.') || '(root)'}: ${issue.message}` };
  }
  if (parsed.data.id !== name[2]) return { invalid: `its id ${parsed.data.id} differs from its name` };
  return { record: parsed.data };
}

/** The identity of the process that wrote `record`. */
export function holderOf(record: LockRecord): ProcessIdentity {
  const { hostname, pid, startTicks, bootId, pidNamespace } = record;
  const holder: ProcessIdentity = { hostname, pid };
  if (startTicks !== undefined) holder.startTicks = startTicks;
  if (bootId !== undefined) holder.bootId = bootId;
  if (pidNamespace !== undefined) holder.pidNamespace = pidNamespace;
  return holder;
}

/** `record`'s holder in words, for messages: operation, pid, host, user, since when and when last refreshed. */
export function describeHolder(record: LockRecord): string {
  const user = record.user ? `, user ${JSON.stringify(record.user)}` : '';
  const mode = record.exclusive ? 'exclusive' : 'shared';
  const refreshed = record.refreshedAt === undefined ? '' : ` (refreshed ${record.refreshedAt})`;
  return `${JSON.stringify(record.operation)} (${mode}) of pid ${record.pid} on host ${JSON.stringify(record.hostname)}${user}, since ${record.createdAt}${refreshed}`;
}
