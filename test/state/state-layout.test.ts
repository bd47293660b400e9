/**
 * The line layout of a version-3 state, read: what a reader assembles is what `JSON.parse`
 * of the whole text gives, whatever the chunks the text arrives in; what is not laid out as a
 * state is refused naming the line, even when it is valid JSON; no line may grow without end.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { StateProblem } from '../../src/state/problem.js';
import type { StateEntry } from '../../src/state/schema.js';
import { entriesText, LineDocument, MAX_LINE, type LayoutSink } from '../../src/state/state-layout.js';

/** Rebuilds the document from what a {@link LineDocument} reports. */
class Rebuild implements LayoutSink {
  readonly doc: Record<string, unknown> = {};
  private list: unknown[] | undefined;
  field(key: string, value: unknown): void {
    this.doc[key] = value;
  }
  open(key: string): void {
    this.doc[key] = this.list = [];
  }
  elementBytes(): boolean {
    return false;
  }
  element(value: unknown): void {
    this.list!.push(value);
  }
  close(): void {
    this.list = undefined;
  }
}

/** `text` read in chunks of its UTF-8 cut at `cuts` (byte offsets): the document, or the problem. */
function read(text: string, cuts: number[] = []): Record<string, unknown> | string {
  const sink = new Rebuild();
  const doc = new LineDocument(sink);
  const bytes = Buffer.from(text);
  try {
    let at = 0;
    for (const cut of [...cuts].sort((a, b) => a - b)) {
      doc.write(bytes.subarray(at, cut));
      at = cut;
    }
    doc.write(bytes.subarray(at));
    doc.end();
    return sink.doc;
  } catch (e) {
    if (e instanceof StateProblem) return e.message;
    throw e;
  }
}

/** `fields` as a state lays them out: `warnings` and `entries` one element per line. */
function laidOut(fields: Record<string, unknown>): string {
  const parts = Object.entries(fields).map(([k, v]) =>
    (k === 'warnings' || k === 'entries') && Array.isArray(v) ? `${JSON.stringify(k)}:[\n${v.map((x) => JSON.stringify(x)).join(',\n')}${v.length ? '\n' : ''}]` : `${JSON.stringify(k)}:${JSON.stringify(v)}`,
  );
  return `{${parts.join(',')}}`;
}

describe('the line layout', () => {
  test.prop([
    fc.record({ a: fc.jsonValue(), warnings: fc.array(fc.jsonValue(), { maxLength: 4 }), entries: fc.array(fc.jsonValue(), { maxLength: 6 }), z: fc.jsonValue() }),
    fc.array(fc.nat(), { maxLength: 8 }),
  ])('reads what JSON.parse reads, in chunks of any size', (fields, cuts) => {
    const text = laidOut(fields);
    expect(read(text, cuts.map((c) => c % (Buffer.byteLength(text) + 1)))).toEqual(JSON.parse(text));
  });

  it('refuses, naming the line, text not laid out as a state, even valid JSON', () => {
    const cases: [string, string][] = [
      ['{"a":1,"entries":[\n1,\n2,\n]}', 'line 4: "]" after a comma'],
      ['{"a":1,"entries":[\n1\n2\n]}', 'line 3: expected "]" after the list\'s last element'],
      ['{"a":1,"entries":[\n]}\n', 'line 3: text after the end of the document'],
      ['{"a":1,\n"b":2}', 'line 1 is not valid JSON'],
      ['{"a":1,"entries":[1,\n2]}', 'line 1 is not valid JSON'],
      ['{"a":1,"entries":[\n1\n],"a":2}', 'line 3: field "a" is given twice'],
      ['{"entries":[\n1\n],"b":[\n]}', ''],
      ['{"a":{"entries":[\n1\n]}}', 'line 1 is not valid JSON'],
      ['{"a":[1],"entries":[\n]]}', 'line 2: expected "}" or "," after the end of a list'],
      ['{"entries":[],"b":1,"entries":[\n]}', 'line 1: expected a list to open at its end'],
      [' {"a":1}', 'line 1: expected "{", the start of a state'],
      ['{"a":1,"entries":[\n1', 'the document ends early (truncated)'],
    ];
    for (const [text, problem] of cases) {
      const got = read(text);
      if (problem === '') expect(got).toEqual(JSON.parse(text));
      else expect(got, text).toEqual(expect.stringContaining(problem));
    }
  });

  it(`refuses a line longer than ${MAX_LINE} bytes before it is whole`, () => {
    const doc = new LineDocument(new Rebuild());
    doc.write(Buffer.from('{"a":"'));
    expect(() => doc.write(Buffer.alloc(MAX_LINE, 'x'))).toThrow(/line 1 is longer than a state file may have/);
  });
});

describe('the lines of entries, written a batch at a time', () => {
  const piece = fc.constantFrom('a', '}', ',', '{', '"', ':', '\\', '"path"', '},{"path":', '\n', '\u00e9', '\u{1F600}', '\ud800');
  const entry = fc.record({ path: fc.string({ unit: piece, minLength: 1 }), target: fc.string({ unit: piece, minLength: 1 }), kind: fc.nat(2), steps: fc.nat(2) }).map(
    ({ path, target, kind, steps }): StateEntry => {
      const meta = { path, mode: 0o644, uid: 0, gid: 0, mtime: '0' };
      if (kind === 0) return { ...meta, type: 'dir', size: 0 };
      if (kind === 1) return { ...meta, type: 'symlink', size: 0, target };
      const content = ['20260101T080000000Z-000', '20260102T080000000Z-000'].slice(0, steps + 1);
      return { ...meta, type: 'file', size: 1, ctime: '0', ino: '1', hash: '0123456789abcdef', content, ...(steps > 0 ? { steps: Array.from({ length: steps }, () => ({ size: 1, hash: '0123456789abcdef' })) } : {}) };
    },
  );

  test.prop([fc.array(entry, { maxLength: 8 })])('are the lines of JSON.stringify of each entry, whatever their strings hold', (entries) => {
    expect(entriesText(entries)).toBe(entries.map((e) => JSON.stringify(e)).join(',\n'));
  });
});
