/**
 * A fast check of one state entry: true only for a value the entry schema accepts and would
 * return unchanged, with its fields in the schema's order.
 *
 * A state of a million entries is checked entry by entry each time it is written (and read,
 * for the lines `entry-parse.ts` leaves to `JSON.parse`); zod spends about 2 µs on an entry,
 * as long as parsing its JSON line. This check spends a fraction of that on the entries every
 * state is made of, and answers false for anything it does not vouch for: the caller then
 * asks the schema, which stays the one definition of a valid entry (and words the problem).
 * So this check may be stricter than the schema, never looser — a property test holds it to
 * that — and a read returns what the schema would.
 */
import { HEX16, ID_PATTERN, INODE, NS, UINT32_MAX, type StateEntry } from './schema.js';

interface Field {
  name: string;
  optional: boolean;
}

/** The fields of each kind of entry in schema order; `?` marks the optional ones. */
const FIELDS = {
  file: fields('path type mode uid gid mtime size ctime ino hash content steps? sig? unstable?'),
  dir: fields('path type mode uid gid mtime size'),
  symlink: fields('path type mode uid gid mtime size target'),
};

function fields(list: string): Field[] {
  return list.split(' ').map((f) => ({ name: f.replace('?', ''), optional: f.endsWith('?') }));
}

/** True when the schema accepts `value` as an entry and returns an equal copy, fields in the same order. */
export function isExactEntry(value: unknown): value is StateEntry {
  if (!isPlainObject(value)) return false;
  const e = value as Record<string, unknown>;
  const type = e.type;
  if (type !== 'file' && type !== 'dir' && type !== 'symlink') return false;
  if (!inOrder(Object.keys(e), FIELDS[type])) return false;
  if (typeof e.path !== 'string' || !inRange(e.mode, 0o7777) || !inRange(e.uid, UINT32_MAX) || !inRange(e.gid, UINT32_MAX) || !matches(e.mtime, NS)) return false;
  if (type === 'dir') return e.size === 0;
  if (type === 'symlink') return e.size === 0 && typeof e.target === 'string' && e.target !== '' && !e.target.includes('\0');
  if (!inRange(e.size, Number.MAX_SAFE_INTEGER) || !matches(e.ctime, NS) || !matches(e.ino, INODE) || !matches(e.hash, HEX16)) return false;
  if (!Array.isArray(e.content) || e.content.length === 0 || !all(e.content, isId)) return false;
  if ('steps' in e && !(Array.isArray(e.steps) && all(e.steps, isExactStep))) return false;
  if ('sig' in e && !matches(e.sig, ID_PATTERN)) return false;
  return !('unstable' in e) || e.unstable === true;
}

/** `test` holds for every element of `list`, holes included (`every` skips them, `JSON.stringify` writes them `null`). */
function all(list: readonly unknown[], test: (value: unknown) => boolean): boolean {
  for (let i = 0; i < list.length; i++) if (!test(list[i])) return false;
  return true;
}

function isId(value: unknown): boolean {
  return matches(value, ID_PATTERN);
}

function isExactStep(value: unknown): boolean {
  if (!isPlainObject(value)) return false;
  const s = value as Record<string, unknown>;
  const keys = Object.keys(s);
  return keys.length === 2 && keys[0] === 'size' && keys[1] === 'hash' && inRange(s.size, Number.MAX_SAFE_INTEGER) && matches(s.hash, HEX16);
}

/** `keys` are `fields` in order, the optional ones possibly left out, and nothing else. */
function inOrder(keys: readonly string[], fields: readonly Field[]): boolean {
  let k = 0;
  for (const field of fields) {
    if (keys[k] === field.name) k++;
    else if (!field.optional) return false;
  }
  return k === keys.length;
}

function isPlainObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

function inRange(value: unknown, max: number): boolean {
  return Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= max;
}

function matches(value: unknown, pattern: RegExp): boolean {
  return typeof value === 'string' && pattern.test(value);
}
