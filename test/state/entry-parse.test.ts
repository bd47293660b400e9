/**
 * The entry line reader against what it stands in for, `JSON.parse` of the line and the fast
 * check: whatever it reads is what those give, fields in the same order, and it reads every
 * line this release writes for an entry whose strings need no escape. Lines are those of random
 * valid entries, then one random change of their bytes (a byte replaced by another or by its
 * neighbour, inserted or deleted), so the reader meets near misses of every part of the layout.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { isExactEntry } from '../../src/state/entry-check.js';
import { EntryLineReader } from '../../src/state/entry-parse.js';

const A = '20260101T080000000Z-000';
const B = '20260102T080000000Z-001';
/** An id of no chain the reader knows. */
const OTHER = '20260103T080000000Z-000';
const reader = new EntryLineReader([A, B]);

const hex16 = fc.stringMatching(/^[0-9a-f]{16}$/);
const ns = fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String), fc.constantFrom('0', '-0', '1'));
const text = fc.oneof(
  fc.string({ minLength: 1 }),
  fc.string({ minLength: 1, unit: fc.constantFrom('a', '/', '"', '\\', '\0', '\u001f', '\u007f', '\u00e9', '\u4e2d', '\u{1F600}', '\ud800', '\u2028', '}', ',', '{', ':', '[') }),
);
const id = fc.constantFrom(A, B);
const meta = {
  path: text,
  mode: fc.oneof(fc.integer({ min: 0, max: 0o7777 }), fc.constantFrom(0, 0o7777)),
  uid: fc.oneof(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.constantFrom(0, 2 ** 32 - 1)),
  gid: fc.oneof(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.constantFrom(0, 2 ** 32 - 1)),
  mtime: ns,
};

const fileArb = fc
  .record({
    ...meta,
    size: fc.oneof(fc.maxSafeNat(), fc.constantFrom(0, Number.MAX_SAFE_INTEGER)),
    ctime: ns,
    ino: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String),
    hash: hex16,
    content: fc.array(id, { minLength: 1, maxLength: 3 }),
    steps: fc.option(fc.array(fc.record({ size: fc.maxSafeNat(), hash: hex16 }, { noNullPrototype: true }), { maxLength: 2 }), { nil: undefined }),
    sig: fc.option(id, { nil: undefined }),
    unstable: fc.option(fc.constant(true as const), { nil: undefined }),
  })
  .map(({ path, mode, uid, gid, mtime, size, ctime, ino, hash, content, steps, sig, unstable }) => ({
    path,
    type: 'file',
    mode,
    uid,
    gid,
    mtime,
    size,
    ctime,
    ino,
    hash,
    content,
    ...(steps !== undefined ? { steps } : {}),
    ...(sig !== undefined ? { sig } : {}),
    ...(unstable !== undefined ? { unstable } : {}),
  }));
const dirArb = fc.record(meta).map(({ path, mode, uid, gid, mtime }) => ({ path, type: 'dir', mode, uid, gid, mtime, size: 0 }));
const symlinkArb = fc
  .record({ ...meta, target: text.filter((s) => !s.includes('\0')) })
  .map(({ path, mode, uid, gid, mtime, target }) => ({ path, type: 'symlink', mode, uid, gid, mtime, size: 0, target }));
const entryArb: fc.Arbitrary<Record<string, unknown>> = fc.oneof(fileArb, dirArb, symlinkArb);

/** Bytes a change puts in: the layout's own, digits, and bytes no line may hold. */
const byteArb = fc.oneof(fc.constantFrom(...Buffer.from('{}[]",:-0189afgAFTZ\\ \n\x00\x1f\x7f\xc3\xa9', 'latin1')), fc.integer({ min: 0, max: 255 }));

/** `line` with one byte replaced (by `byte`, or by its neighbour below or above), inserted or deleted at `at`. */
function changed(line: Buffer, how: number, at: number, byte: number): Buffer {
  const i = at % (line.length + 1);
  const put = (b: number) => Buffer.concat([line.subarray(0, i), Buffer.from([b & 0xff]), line.subarray(i + 1)]);
  switch (how % 5) {
    case 0:
      return put(byte);
    case 1:
      return put((line[i] ?? 0) - 1);
    case 2:
      return put((line[i] ?? 0) + 1);
    case 3:
      return Buffer.concat([line.subarray(0, i), Buffer.from([byte]), line.subarray(i)]);
    default:
      return Buffer.concat([line.subarray(0, i), line.subarray(i + 1)]);
  }
}

/** What the reader gives for the whole of `line`. */
function read(line: Buffer) {
  return reader.read(line, 0, line.length);
}

/** `line` as `JSON.parse` gives it, or undefined when it is not UTF-8 JSON. */
function parsed(line: Buffer): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(line));
  } catch {
    return undefined;
  }
}

describe('the entry line reader', () => {
  test.prop([entryArb], { numRuns: 1000 })('reads the line of every entry whose strings need no escape, as JSON.parse does', (e) => {
    const json = JSON.stringify(e);
    const got = read(Buffer.from(json));
    if (json.includes('\\')) {
      if (got !== undefined) expect(JSON.stringify(got)).toBe(json);
      return;
    }
    expect(got).toBeDefined();
    expect(JSON.stringify(got)).toBe(json);
    expect(got).toEqual(e);
  });

  test.prop([entryArb, fc.nat(), fc.nat(), byteArb], { numRuns: 10000 })('reads nothing JSON.parse and the fast check would not give the same', (e, how, at, byte) => {
    const line = changed(Buffer.from(JSON.stringify(e)), how, at, byte);
    const got = read(line);
    if (got === undefined) return;
    const value = parsed(line);
    expect(isExactEntry(value)).toBe(true);
    expect(JSON.stringify(got)).toBe(JSON.stringify(value));
  });

  it('refuses near misses of every field', () => {
    const file = { path: 'f', type: 'file', mode: 0, uid: 0, gid: 0, mtime: '0', size: 1, ctime: '0', ino: '1', hash: '0123456789abcdef', content: [A] };
    const line = JSON.stringify(file);
    expect(read(Buffer.from(line))).toEqual(file);
    const misses: [string, string][] = [
      ['"mode":0', '"mode":4096'],
      ['"mode":0', '"mode":-0'],
      ['"mode":0', '"mode":00'],
      ['"mode":0', '"mode":0.0'],
      ['"mode":0', '"mode":1e2'],
      ['"uid":0', '"uid":4294967296'],
      ['"gid":0', '"gid":4294967296'],
      ['"size":1', '"size":9007199254740992'],
      ['"size":1', '"size":01'],
      ['"mtime":"0"', '"mtime":"00"'],
      ['"mtime":"0"', '"mtime":"-"'],
      ['"mtime":"0"', '"mtime":""'],
      ['"mtime":"0"', '"mtime":"--1"'],
      ['"mtime":"0"', '"mtime":"12345678901234567890"'],
      ['"mtime":"0"', '"mtime":0'],
      ['"ino":"1"', '"ino":"-1"'],
      ['"ino":"1"', '"ino":"123456789012345678901"'],
      ['"hash":"0123456789abcdef"', '"hash":"0123456789abcdeg"'],
      ['"hash":"0123456789abcdef"', '"hash":"0123456789ABCDEF"'],
      ['"hash":"0123456789abcdef"', '"hash":"0123456789abcde"'],
      ['"path":"f"', '"path":"f\\u0066"'],
      ['"path":"f"', '"path":"f\x1f"'],
      ['"path":"f"', '"path": "f"'],
      ['"content":["', '"content":[ "'],
      ['"content":["20260101T080000000Z-000"]', '"content":[]'],
      ['"content":["20260101T080000000Z-000"]', '"content":["20260101T080000000Z-000",]'],
      ['}', ',"unstable":false}'],
      ['}', ',"sig":null}'],
      ['}', ',"steps":[{"hash":"0123456789abcdef","size":1}]}'],
      ['}', '} '],
    ];
    for (const [from, to] of misses) {
      const bad = line.replace(from, to);
      expect(bad, to).not.toBe(line);
      expect(read(Buffer.from(bad)), bad).toBeUndefined();
    }
    const dir = '{"path":"d","type":"dir","mode":0,"uid":0,"gid":0,"mtime":"0","size":0}';
    expect(read(Buffer.from(dir))).toEqual(JSON.parse(dir));
    for (const bad of [dir.replace('"size":0', '"size":1'), dir.replace('}', ',"target":"x"}'), dir.replace('"dir"', '"Dir"')]) expect(read(Buffer.from(bad)), bad).toBeUndefined();
    const link = '{"path":"l","type":"symlink","mode":0,"uid":0,"gid":0,"mtime":"0","size":0,"target":"t"}';
    expect(read(Buffer.from(link))).toEqual(JSON.parse(link));
    for (const bad of [link.replace('"t"', '""'), link.replace('"t"', '"\\u0000"'), link.replace('}', ',"size":0}')]) expect(read(Buffer.from(bad)), bad).toBeUndefined();
  });

  it('reads only the given part of the bytes', () => {
    const line = JSON.stringify({ path: 'a', type: 'dir', mode: 0, uid: 0, gid: 0, mtime: '0', size: 0 });
    const bytes = Buffer.from(`x${line},\n{"path"`);
    expect(reader.read(bytes, 1, 1 + line.length)).toEqual(JSON.parse(line));
    expect(reader.read(bytes, 1, line.length)).toBeUndefined();
    expect(reader.read(bytes, 0, 1 + line.length)).toBeUndefined();
  });

  it('gives the chain\'s own id strings, one shared frozen content per lone id, and leaves ids of no chain to the schema', () => {
    const file = { path: 'f', type: 'file', mode: 0, uid: 0, gid: 0, mtime: '0', size: 1, ctime: '0', ino: '1', hash: '0123456789abcdef' };
    const one = read(Buffer.from(JSON.stringify({ ...file, content: [A], sig: B })));
    const two = read(Buffer.from(JSON.stringify({ ...file, path: 'g', content: [A] })));
    expect(one?.type === 'file' && two?.type === 'file').toBe(true);
    if (one?.type !== 'file' || two?.type !== 'file') return;
    expect(one.content).toBe(two.content);
    expect(Object.isFrozen(one.content)).toBe(true);
    expect(one.sig).toBe(B);
    const both = read(Buffer.from(JSON.stringify({ ...file, content: [A, B], steps: [{ size: 1, hash: '0123456789abcdef' }] })));
    expect(both?.type === 'file' && Object.isFrozen(both.content)).toBe(false);
    expect(read(Buffer.from(JSON.stringify({ ...file, content: [OTHER] })))).toBeUndefined();
    expect(read(Buffer.from(JSON.stringify({ ...file, content: [A], sig: OTHER })))).toBeUndefined();
  });
});
