/**
 * `at`: which backup of a chain a restore means, read the same way by the API and the CLI.
 *
 * The CLI hands the user's string to the API unchanged, so there is one parser and one
 * behaviour: a string the API refuses, the CLI refuses with the same code and message.
 *
 * Accepted forms:
 * - nothing: the latest backup;
 * - a backup id (`YYYYMMDDTHHMMSSmmmZ-NNN`, see `ids.ts`): that backup;
 * - an ISO 8601 date `YYYY-MM-DD` or date-time `YYYY-MM-DDTHH:MM[:SS[.fff]]`, optionally
 *   followed by `Z` or `±HH:MM`: the last backup at or before it;
 * - a valid `Date`: the last backup at or before it.
 *
 * Two readings a user has to know:
 * - Without a zone the time is local time (the process's `TZ`), as restic and borg read it:
 *   people type the time on their wall clock. In a daylight-saving gap it moves forward, as
 *   `Date` does.
 * - A time of reduced precision names a period, as ISO 8601 reads it, and `at` means the end
 *   of that period: `2024-05-01` is the whole of that day (so the backup taken that evening
 *   counts), `…T10:30` the whole minute, `…T10:30:15` the whole second. Fractions beyond
 *   milliseconds are cut, since ids hold milliseconds. (JavaScript's `Date` parser reads a bare
 *   date as UTC midnight and a zoneless date-time as local time; we do not use it.)
 *
 * Anything else (`yesterday`, an empty string, `2024-02-30`, an invalid `Date`, a number) is
 * `EPARAM`, naming `at` and the forms above, rather than a guess.
 */
import { BackupError } from '../errors.js';
import { isBackupId } from './ids.js';

/** The backup `at` names, before it is looked up in a chain. */
export type At =
  /** The newest backup. */
  | { kind: 'latest' }
  /** The backup with this id. */
  | { kind: 'id'; id: string }
  /** The last backup taken at or before this instant. */
  | { kind: 'time'; time: Date };

/** The accepted forms, as the `EPARAM` message lists them. */
const FORMS =
  'a backup id (YYYYMMDDTHHMMSSmmmZ-NNN), a date (YYYY-MM-DD: the end of that day, local time), ' +
  'a date-time (YYYY-MM-DDTHH:MM[:SS[.fff]], followed by Z or ±HH:MM, else local time) or a valid Date';

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/**
 * Read `at` (a restore's point in time).
 *
 * @param at - `undefined`, a backup id, an ISO 8601 date or date-time, or a `Date`.
 * @returns The latest backup, an id, or an instant (a new `Date`, never the caller's).
 * @throws {@link BackupError} `EPARAM` for anything else, naming `at` and the accepted forms.
 */
export function parseAt(at: string | Date | undefined): At {
  if (at === undefined) return { kind: 'latest' };
  if (at instanceof Date) {
    if (Number.isNaN(at.getTime())) throw refused('an invalid Date');
    return { kind: 'time', time: new Date(at.getTime()) };
  }
  if (typeof at !== 'string') throw refused(`a ${typeof at}`);
  if (isBackupId(at)) return { kind: 'id', id: at };
  const time = isoEnd(at);
  if (time === undefined) throw refused(JSON.stringify(at));
  return { kind: 'time', time };
}

function refused(got: string): BackupError {
  return new BackupError('EPARAM', `\`at\` must be ${FORMS}; got ${got}`);
}

/** The last millisecond of the period an ISO 8601 date or date-time names, or undefined. */
function isoEnd(text: string): Date | undefined {
  const m = ISO.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, fraction, zone] = m;
  const year = +y!;
  const month = +mo!;
  const day = +d!;
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return undefined;
  if (h !== undefined && (+h > 23 || +mi! > 59 || (s !== undefined && +s > 59))) return undefined;
  if (zone !== undefined && zone !== 'Z' && (+zone.slice(1, 3) > 23 || +zone.slice(4) > 59)) return undefined;

  // The start of the next period, built field by field so Date carries the overflow (the
  // 31st + 1 day, a 23-hour day in local time); the answer is one millisecond before it.
  const next = [year, month - 1, day, +(h ?? 0), +(mi ?? 0), +(s ?? 0), fraction === undefined ? 0 : +fraction.padEnd(3, '0').slice(0, 3)];
  if (h === undefined) next[2] += 1;
  else if (s === undefined) next[4] += 1;
  else if (fraction === undefined) next[5] += 1;
  else next[6] += fraction.length >= 3 ? 1 : 10 ** (3 - fraction.length);

  const date = new Date(0);
  if (zone === undefined) {
    date.setFullYear(next[0], next[1], next[2]);
    date.setHours(next[3], next[4], next[5], next[6]);
  } else {
    date.setUTCFullYear(next[0], next[1], next[2]);
    date.setUTCHours(next[3], next[4], next[5], next[6]);
    if (zone !== 'Z') {
      const sign = zone[0] === '-' ? -1 : 1;
      date.setTime(date.getTime() - sign * (+zone.slice(1, 3) * 60 + +zone.slice(4)) * 60_000);
    }
  }
  return new Date(date.getTime() - 1);
}

function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}
