/**
 * The fast entry check against the schema it stands in for: whatever it accepts, the schema
 * accepts and returns unchanged, fields in the same order (so a read gives what the schema
 * would). Entries are random valid ones of each kind, then one random change: a field
 * replaced by a hostile value, deleted, added, or the fields reordered.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { isExactEntry } from '../../src/state/entry-check.js';
import { stateEntrySchema } from '../../src/state/schema.js';
import { entryArbitrary } from '../helpers/state-entries.js';

const entryArb = entryArbitrary(fc.string({ minLength: 1 }), ['20260101T080000000Z-000', '20260102T080000000Z-001']);

const hostile = fc.oneof(
  fc.constantFrom<unknown>(null, true, -1, -0, 0, 1.5, 2 ** 53, 2 ** 32, 0o10000, NaN, '', 'abc', '-0', '01', '\0', [], {}, [null], ['20260101T080000000Z-000'], { size: 1, hash: '0123456789abcdef' }, 'dir', 'file', 'symlink'),
  fc.jsonValue({ maxDepth: 2 }),
);
const FIELDS = ['path', 'type', 'mode', 'uid', 'gid', 'mtime', 'size', 'ctime', 'ino', 'hash', 'content', 'steps', 'sig', 'unstable', 'target', '__proto__', 'x'];

/** `e` with one change, by `how`: a field replaced, deleted or added, a nested value changed, or the fields reordered. */
function changed(e: Record<string, unknown>, how: number, field: string, value: unknown, seed: number): Record<string, unknown> {
  const copy = structuredClone(e);
  switch (how % 5) {
    case 0:
      Object.defineProperty(copy, field, { value, enumerable: true, configurable: true, writable: true });
      return copy;
    case 1:
      delete copy[field];
      return copy;
    case 2: {
      const keys = Object.keys(copy);
      const [a, b] = [seed % keys.length, (seed >> 4) % keys.length];
      [keys[a], keys[b]] = [keys[b]!, keys[a]!];
      return Object.fromEntries(keys.map((k) => [k, copy[k]]));
    }
    case 3:
      if (Array.isArray(copy.content)) copy.content[seed % copy.content.length] = value;
      return copy;
    default:
      if (Array.isArray(copy.steps) && copy.steps.length > 0) (copy.steps[seed % copy.steps.length] as Record<string, unknown>)[seed % 2 ? 'size' : 'hash'] = value;
      else copy.steps = [value];
      return copy;
  }
}

describe('the fast entry check', () => {
  test.prop([entryArb], { numRuns: 500 })('accepts every valid entry in schema order, as the schema does', (e) => {
    expect(stateEntrySchema.safeParse(e).success).toBe(true);
    expect(isExactEntry(e)).toBe(true);
  });

  test.prop([entryArb, fc.nat(), fc.constantFrom(...FIELDS), hostile, fc.nat()], { numRuns: 3000 })(
    'accepts nothing the schema refuses or would return otherwise',
    (e, how, field, value, seed) => {
      const v = changed(e, how, field, value, seed);
      if (!isExactEntry(v)) return;
      const parsed = stateEntrySchema.safeParse(v);
      expect(parsed.success).toBe(true);
      expect(JSON.stringify(parsed.data)).toBe(JSON.stringify(v));
      expect(parsed.data).toEqual(v);
    },
  );

  it('leaves to the schema what it does not vouch for: fields out of order, a field set to undefined, an object of a class', () => {
    const dir = { path: 'a', type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: '0', size: 0 };
    expect(isExactEntry(dir)).toBe(true);
    const reordered = { type: 'dir', path: 'a', mode: 0o755, uid: 0, gid: 0, mtime: '0', size: 0 };
    expect(isExactEntry(reordered)).toBe(false);
    expect(Object.keys(stateEntrySchema.parse(reordered))).toEqual(Object.keys(dir));
    const file = { path: 'f', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: '0', size: 1, ctime: '0', ino: '1', hash: '0123456789abcdef', content: ['20260101T080000000Z-000'], sig: undefined };
    expect(isExactEntry(file)).toBe(false);
    expect(isExactEntry(Object.assign(Object.create({ inherited: 1 }), dir))).toBe(false);
    // A hole is no id: JSON.stringify writes it null, which no read accepts.
    const holes = { ...file, content: [, '20260101T080000000Z-000'], sig: '20260101T080000000Z-000' };
    expect(isExactEntry(holes)).toBe(false);
    expect(stateEntrySchema.safeParse(holes).success).toBe(false);
    expect(isExactEntry({ ...holes, content: ['20260101T080000000Z-000'], steps: new Array(1) })).toBe(false);
  });
});
