/**
 * Backup ids: `YYYYMMDDTHHMMSSmmmZ-NNN`, the UTC time of the backup to the millisecond, then a
 * sequence number.
 *
 * Ids sort by time as plain strings, so a directory listing is the order of the chain. Two
 * backups in the same millisecond get consecutive sequence numbers, and a new id is always
 * greater than the last committed one even when the clock went back (NTP step, a VM restored
 * from a snapshot): after `-999` the id moves on to the next millisecond. An id is also a
 * file name prefix, so only strings of exactly this form, naming a real instant, are ids:
 * nothing else can reach a path through one.
 */
import { BackupError } from '../errors.js';

const ID = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z-(\d{3})$/;

/** True when `value` is a backup id naming a real instant (no 13th month, no 25th hour). */
export function isBackupId(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const date = dateOf(value);
  return date !== undefined && stampOf(date) === value.slice(0, 19);
}

/** The time an id stands for: a backup's `createdAt`. `EPARAM` when `id` is not an id. */
export function idDate(id: string): Date {
  const date = isBackupId(id) ? dateOf(id) : undefined;
  if (date === undefined) throw new BackupError('EPARAM', `not a backup id: ${JSON.stringify(id)}`);
  return date;
}

/**
 * The id of a new backup taken at `now`: greater than `last` (the newest committed id of the
 * name, if any), with the next sequence number when `now` is not later than it.
 */
export function nextId(last: string | undefined, now: Date): string {
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new BackupError('EPARAM', 'the time of a new backup must be a valid Date');
  const stamp = stampOf(now);
  if (!/^\d{8}T\d{9}Z$/.test(stamp)) throw new BackupError('EPARAM', `${now.toISOString()} is outside the years an id can hold (0000 to 9999)`);
  const id = `${stamp}-000`;
  if (last === undefined) return id;
  const lastDate = idDate(last);
  if (id > last) return id;
  const seq = Number(last.slice(-3)) + 1;
  if (seq <= 999) return `${last.slice(0, -4)}-${String(seq).padStart(3, '0')}`;
  return nextId(undefined, new Date(lastDate.getTime() + 1));
}

function dateOf(id: string): Date | undefined {
  const m = ID.exec(id);
  if (!m) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(+m[1]!, +m[2]! - 1, +m[3]!);
  date.setUTCHours(+m[4]!, +m[5]!, +m[6]!, +m[7]!);
  return date;
}

/** `YYYYMMDDTHHMMSSmmmZ` of a date (with a sign and six year digits outside 0000..9999). */
function stampOf(date: Date): string {
  return date.toISOString().replace(/[-:.]/g, '');
}
