/**
 * The entry lines of whole states, read two ways: with the fast path (an entry line read from
 * its bytes, `entry-parse.ts`) and with the schema path (every line through `JSON.parse`, the
 * fast check and the schema). Random states whose strings are awkward (escapes, controls, lone
 * surrogates, U+2028, a BOM, the layout's own punctuation) round-trip through the writer and
 * both reads, the fast path taking every line without an escape. Then the bytes of one entry
 * line are changed (a byte replaced, inserted or deleted; or a hostile piece put in: escapes,
 * invalid UTF-8, `__proto__`, a field given twice, huge numbers, deep nesting), the text cut in
 * random chunks: both reads accept the same state or refuse it with the same problem, which a
 * read of the file reports as `ECORRUPT` with that problem.
 */
import { gunzipSync } from 'node:zlib';
import { writeFile } from 'node:fs/promises';
import { fc, test } from '@fast-check/vitest';
import { afterAll, describe, expect } from 'vitest';
import { BackupError } from '../../src/errors.js';
import { artifactFile, idDate, readStateFile, serializeState, type BackupState, type StateEntry } from '../../src/state/index.js';
import { StateProblem } from '../../src/state/problem.js';
import { StateAssembly } from '../../src/state/state-assembly.js';
import { SEAL_SIZE } from '../../src/state/state-container.js';
import { entriesText, headText, LineDocument, tailText } from '../../src/state/state-layout.js';
import { sealText } from '../helpers/seal.js';
import { awkwardText, byteArb, changedByte, entryArbitrary } from '../helpers/state-entries.js';
import { useTempDir } from '../helpers/tools.js';

const A = '20260101T080000000Z-000';
const B = '20260102T080000000Z-000';
const EXPECT = { id: B, name: 'src' };

/** A name of one path segment, awkward: no `/` or NUL, not `.` or `..`. */
const segment = awkwardText.map((s) => s.replaceAll('/', 'a').replaceAll('\0', 'b')).filter((s) => s !== '.' && s !== '..');

/** An entry of the state, at `name` or `d/name`, with a history the chain allows. */
const placedArb = fc.record({ inDir: fc.boolean(), name: segment, entry: entryArbitrary(awkwardText, [A, B]), history: fc.nat(2), sig: fc.nat(2) });
type Placed = typeof placedArb extends fc.Arbitrary<infer T> ? T : never;
const pathOf = (p: Placed) => (p.inDir ? `d/${p.name}` : p.name);

/** Incremental `B` on top of full `A`, its entries in a directory `d` and at the top. */
const stateArb: fc.Arbitrary<BackupState> = fc
  .uniqueArray(placedArb, { selector: pathOf, maxLength: 12 })
  .map((placed): BackupState => {
    const entries = placed.filter((p) => pathOf(p) !== 'd').map((p) => entryAt(pathOf(p), p));
    entries.push({ path: 'd', type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: '0', size: 0 });
    entries.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
    const link = (id: string, kind: 'full' | 'incremental', roles: ('sigvault' | 'files' | 'deltas')[]) => ({
      id,
      kind,
      createdAt: idDate(id).toISOString(),
      artifacts: roles.map((role) => {
        const compression = role === 'sigvault' ? ('none' as const) : ('gzip' as const);
        return { role, file: artifactFile(id, role, compression), size: 1, hash: '0123456789abcdef', compression, entries: 1 };
      }),
    });
    return {
      format: 'incremental-backups-tools/state',
      version: 3,
      name: 'src',
      id: B,
      kind: 'incremental',
      parent: { id: A, digest: 'fedcba9876543210' },
      createdAt: idDate(B).toISOString(),
      source: '/src',
      compression: 'gzip',
      checksum: false,
      chain: [link(A, 'full', ['sigvault', 'files']), link(B, 'incremental', ['sigvault', 'files', 'deltas'])],
      warnings: [],
      entries,
      stats: { scanned: 0, created: 0, modified: 0, deleted: 0, unchanged: 0, storedWhole: 0, storedDelta: 0, bytesRead: 0, bytesWritten: 0, durationMs: 0 },
    };
  });

/** `p.entry` at `path`; a file's content, steps and sig made to fit the chain, fields in schema order. */
function entryAt(path: string, p: Placed): StateEntry {
  const e = { ...p.entry, path } as StateEntry;
  if (e.type !== 'file') return e;
  const { steps, sig, unstable, ...fields } = e;
  const content = [[A], [B], [A, B]][p.history]!;
  return {
    ...fields,
    content,
    ...(content.length > 1 ? { steps: [steps?.[0] ?? { size: 0, hash: '0123456789abcdef' }] } : {}),
    ...(p.sig > 0 ? { sig: p.sig === 1 ? A : B } : {}),
    ...(unstable ? { unstable } : {}),
  } as StateEntry;
}

/** The assembly of the schema path: no line is read from its bytes. */
class SchemaPath extends StateAssembly {
  override elementBytes(): boolean {
    return false;
  }
}

/** The assembly of the fast path, counting the lines offered to it and those it read from their bytes. */
class FastPath extends StateAssembly {
  offered = 0;
  taken = 0;
  override elementBytes(bytes: Buffer, start: number, end: number): boolean {
    const took = super.elementBytes(bytes, start, end);
    this.offered++;
    if (took) this.taken++;
    return took;
  }
}

/** How a read of a text ended: the state as JSON, or the problem. */
type Outcome = { state: string } | { problem: string };

/** `text` (a document without its closing `}`) read by `assembly` in chunks cut at `cuts`, as a state file's reader does. */
function readText(assembly: StateAssembly, text: Buffer, cuts: readonly number[] = []): Outcome {
  const doc = new LineDocument(assembly);
  try {
    let at = 0;
    for (const cut of [...cuts.map((c) => c % (text.length + 1))].sort((x, y) => x - y)) {
      doc.write(text.subarray(at, cut));
      at = cut;
    }
    doc.write(text.subarray(at));
    doc.write(Buffer.from('}'));
    doc.end();
    return { state: JSON.stringify(assembly.finish()) };
  } catch (e) {
    if (e instanceof StateProblem) return { problem: e.message };
    throw e;
  }
}

/** The text of `state`'s file as its reader sees it: the body and tail, without the seal and the closing `}`. */
async function textOf(state: BackupState): Promise<Buffer> {
  const { bytes } = await serializeState(state);
  return gunzipSync(bytes.subarray(0, bytes.length - SEAL_SIZE));
}

/** The same text from the layout alone (what the writer writes, without compressing it). */
function laidOut(state: BackupState): Buffer {
  const { entries, stats, ...head } = state;
  return Buffer.from(`${headText(head)}${entriesText(entries)}\n${tailText(stats)}`);
}

/** Pieces a change puts in a line: escapes, bytes that are no UTF-8, fields, numbers and nesting a line of this release never holds. */
const hostilePiece = fc.constantFrom(
  ...['\\u0061', '\\ud800', '\\"', '\\/', '\\u0000', '"__proto__":{},', '"path":"x",', '"size":0,', '"x":1,', '1e400', '123456789012345678901234567890', '-0', '0.0', ' ', '\r', ','].map((s) => Buffer.from(s)),
  Buffer.from(`"x":${'['.repeat(100_000)}${']'.repeat(100_000)},`),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0xef, 0xbb, 0xbf]),
  Buffer.from([0xc3]),
  Buffer.from([0xf4, 0x90, 0x80, 0x80]),
);

/** `line` with `piece` in place of `removed` bytes: at the start of a field (after a `{` or `,`) when `atField`, else anywhere. */
function spliced(line: Buffer, piece: Buffer, at: number, removed: number, atField: boolean): Buffer {
  const starts = [...line.keys()].filter((i) => line[i] === 0x7b || line[i] === 0x2c).map((i) => i + 1);
  const i = atField && starts.length > 0 ? starts[at % starts.length]! : at % (line.length + 1);
  return Buffer.concat([line.subarray(0, i), piece, line.subarray(Math.min(line.length, i + removed))]);
}

const OTHER = '20260103T080000000Z-000';
const HASH = '0123456789abcdef';
/** Values at and past the limits of each field (and of fields of other kinds), for a line that keeps the layout otherwise. */
const LIMITS: [string, unknown[]][] = [
  ['path', ['', 'a\0', '/a', '..', 'd/', 'a\\b', '\ufeffa']],
  ['type', ['Dir', 'file', 'dir', 'symlink']],
  ['mode', [0o7777, 0o10000, -1, 1.5]],
  ['uid', [2 ** 32 - 1, 2 ** 32, -1]],
  ['gid', [2 ** 32 - 1, 2 ** 32, 2 ** 53]],
  ['mtime', ['-0', '00', '-', '', '9'.repeat(19), '1'.repeat(20), `-${'9'.repeat(19)}`, `-${'1'.repeat(20)}`, 0]],
  ['size', [Number.MAX_SAFE_INTEGER, 2 ** 53, -1, 0, 1]],
  ['ctime', ['-1', '01', '9'.repeat(20)]],
  ['ino', ['-1', '18446744073709551615', '1'.repeat(21), '00', 1]],
  ['hash', [HASH.toUpperCase(), HASH.slice(1), `${HASH}0`, null]],
  ['content', [[], [A, A], [B, A], [OTHER], [A, B, A], A]],
  ['content.0', [OTHER, `${A} `, '', null]],
  ['steps', [[], [{ size: 1, hash: HASH }], [{ hash: HASH, size: 1 }], [{ size: 1, hash: HASH, x: 1 }], [null]]],
  ['steps.0.size', [-1, 2 ** 53, '1']],
  ['sig', [OTHER, '', A, null]],
  ['unstable', [false, true, null, 1]],
  ['target', ['', 'a\0b', 't']],
  ['x', [1]],
];

const changeArb = fc.oneof(
  fc.record({ kind: fc.constant('byte' as const), how: fc.nat(), at: fc.nat(), byte: byteArb }),
  fc.record({ kind: fc.constant('piece' as const), piece: hostilePiece, at: fc.nat(), removed: fc.nat(8), atField: fc.boolean() }),
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('value' as const), field: fc.nat(LIMITS.length - 1), value: fc.nat() }) },
);
type Change = typeof changeArb extends fc.Arbitrary<infer T> ? T : never;

/** `text` with entry line `which` (modulo their number) changed by `change`. */
function changedText(text: Buffer, which: number, change: Change): Buffer {
  const lines: Buffer[] = [];
  for (let at = 0; at <= text.length; ) {
    const nl = text.indexOf(0x0a, at);
    lines.push(text.subarray(at, nl === -1 ? text.length : nl));
    at = nl === -1 ? text.length + 1 : nl + 1;
  }
  const first = lines.findIndex((l) => l.toString().endsWith('"entries":[')) + 1;
  const last = lines.findIndex((l, i) => i >= first && l[0] === 0x5d);
  const k = first + (which % (last - first));
  const line = lines[k]!;
  const comma = line.at(-1) === 0x2c ? 1 : 0;
  const entry = line.subarray(0, line.length - comma);
  const changed =
    change.kind === 'byte'
      ? changedByte(entry, change.how, change.at, change.byte)
      : change.kind === 'piece'
        ? spliced(entry, change.piece, change.at, change.removed, change.atField)
        : withLimit(entry, change.field, change.value);
  lines[k] = Buffer.concat([changed, line.subarray(line.length - comma)]);
  return Buffer.concat(lines.flatMap((l, i) => (i === 0 ? [l] : [Buffer.from('\n'), l])));
}

/** The entry of `line` with one field (or an element of it) set to a value of {@link LIMITS}, in its place. */
function withLimit(line: Buffer, field: number, value: number): Buffer {
  const [path, values] = LIMITS[field]!;
  const entry = JSON.parse(line.toString()) as Record<string, unknown>;
  const keys = path.split('.');
  let target = entry;
  for (const key of keys.slice(0, -1)) {
    const next = target[key];
    if (next === null || typeof next !== 'object') return line;
    target = next as Record<string, unknown>;
  }
  target[keys.at(-1)!] = values[value % values.length];
  return Buffer.from(JSON.stringify(entry));
}

const tmp = useTempDir();

/** How the changed states ended: both must happen, and lines must go both ways, or the property says little. */
const seen = { accepted: 0, refused: 0, fastLines: 0, schemaLines: 0 };
afterAll(() => {
  expect(seen.accepted).toBeGreaterThan(0);
  expect(seen.refused).toBeGreaterThan(0);
  expect(seen.fastLines).toBeGreaterThan(0);
  expect(seen.schemaLines).toBeGreaterThan(0);
});

describe('entry lines, the fast path against the schema path', () => {
  test.prop([stateArb], { numRuns: 200 })('states with awkward strings round-trip through the writer and both reads, the fast path taking every line without an escape', async (state) => {
    const text = await textOf(state);
    expect(text).toEqual(laidOut(state));
    const fast = new FastPath(EXPECT);
    expect(readText(fast, text)).toEqual({ state: JSON.stringify(state) });
    expect(readText(new SchemaPath(EXPECT), text)).toEqual({ state: JSON.stringify(state) });
    expect(fast.taken).toBe(state.entries.filter((e) => !JSON.stringify(e).includes('\\')).length);
  });

  test.prop([stateArb, fc.nat(), changeArb, fc.array(fc.nat(), { maxLength: 4 })], { numRuns: 600 })(
    'one changed entry line: both reads give the same state or the same problem, whatever the chunks, and a read of the file ECORRUPT with it',
    async (state, which, change, cuts) => {
      const text = changedText(laidOut(state), which, change);
      const fast = new FastPath(EXPECT);
      const schema = readText(new SchemaPath(EXPECT), text, cuts);
      expect(readText(fast, text, cuts)).toEqual(schema);
      seen.fastLines += fast.taken;
      seen.schemaLines += fast.offered - fast.taken;
      const whole = readText(new SchemaPath(EXPECT), text);
      const path = tmp.file(artifactFile(B, 'state', 'none'));
      await writeFile(path, await sealText(text));
      try {
        const read = await readStateFile(path, EXPECT);
        expect({ state: JSON.stringify(read.state) }).toEqual(whole);
        seen.accepted++;
      } catch (e) {
        if (!(e instanceof BackupError) || e.code !== 'ECORRUPT') throw e;
        expect('problem' in whole && e.message).toBe(`backup state ${path} is invalid: ${'problem' in whole ? whole.problem : ''}`);
        seen.refused++;
      }
    },
  );
});
