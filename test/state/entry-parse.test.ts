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
import { awkwardText, byteArb, changedByte, entryArbitrary } from '../helpers/state-entries.js';

const A = '20260101T080000000Z-000';
const B = '20260102T080000000Z-001';
/** An id of no chain the reader knows. */
const OTHER = '20260103T080000000Z-000';
const reader = new EntryLineReader([A, B]);

const entryArb = entryArbitrary(awkwardText, [A, B]);

/** The bytes of `line`, whole: arguments of a read. */
function whole(line: string, encoding: BufferEncoding = 'utf8'): [Buffer, number, number] {
  const bytes = Buffer.from(line, encoding);
  return [bytes, 0, bytes.length];
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
    const line = changedByte(Buffer.from(JSON.stringify(e)), how, at, byte);
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

  it('looks an id up among all of a long chain\'s, the one read before or any other (regression: ids searched for through the chain)', () => {
    const ids = Array.from({ length: 400 }, (_, i) => `2026${String(1 + (i % 12)).padStart(2, '0')}01T080000000Z-${String(i).padStart(3, '0')}`);
    const long = new EntryLineReader(ids);
    const file = { path: 'f', type: 'file', mode: 0, uid: 0, gid: 0, mtime: '0', size: 1, ctime: '0', ino: '1', hash: '0123456789abcdef' };
    const contentOf = (ids: string[], sig?: string) => {
      const e = long.read(...whole(JSON.stringify({ ...file, content: ids, ...(sig ? { sig } : {}) })));
      return e?.type === 'file' ? [e.content, e.sig] : undefined;
    };
    for (const k of [0, 0, 399, 1, 398, 200, 200, 13]) {
      const got = contentOf([ids[k]!], ids[(k * 7) % 400]);
      expect(got?.[0]).toEqual([ids[k]]);
      expect((got?.[0] as string[])[0]).toBe(ids[k]);
      expect(got?.[1]).toBe(ids[(k * 7) % 400]);
    }
    expect(contentOf([ids[3]!, ids[399]!])?.[0]).toEqual([ids[3], ids[399]]);
    // Near misses of the id read last, and of others: a byte changed, or not ASCII.
    contentOf([ids[5]!]);
    for (const bad of [`${ids[5]!.slice(0, -1)}9`, `${ids[5]!.slice(0, -1)}x`, `${ids[5]!.slice(0, -1)}\u00e9`, ids[5]!.replace('2026', '2025')]) {
      expect(ids).not.toContain(bad);
      expect(contentOf([bad]), bad).toBeUndefined();
      expect(contentOf([ids[5]!])?.[0]).toEqual([ids[5]]);
    }
    expect(long.read(...whole(`{"path":"f","type":"file","mode":0,"uid":0,"gid":0,"mtime":"0","size":1,"ctime":"0","ino":"1","hash":"0123456789abcdef","content":["${ids[5]!.slice(0, -1)}\xe9"]}`, 'latin1'))).toBeUndefined();
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
