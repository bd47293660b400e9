/**
 * The byte range a load asks for, checked once for every backend: offsets and lengths are
 * non-negative integers, a range may run past the end of the object (it then gives the bytes
 * there are, possibly none), and a zero length asks for nothing. Backends, and the retry
 * wrapper resuming a load, share this reading so they agree on the edge cases.
 */
import { BackupError } from '../errors.js';
import type { LoadRange } from './storage.js';

/** A resolved load range: `start` and the end (exclusive), or no end for "to the end of the object". */
export interface ByteSpan {
  /** First byte. */
  start: number;
  /** One past the last byte wanted; undefined for the end of the object. */
  end?: number;
}

/** The span `range` names for `key`; `EPARAM` when an offset or length is not a non-negative integer. */
export function spanOf(key: string, range: LoadRange = {}): ByteSpan {
  const start = range.offset ?? 0;
  const length = range.length;
  const bad = (n: number | undefined) => n !== undefined && !(Number.isSafeInteger(n) && n >= 0);
  if (bad(start) || bad(length)) {
    throw new BackupError('EPARAM', `invalid range of ${key}: offset ${String(range.offset)}, length ${String(range.length)}`, { path: key });
  }
  return length === undefined ? { start } : { start, end: start + length };
}
