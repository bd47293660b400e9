/**
 * Property tests of the state file: random valid states (random chains, trees and file
 * histories, names with non-ASCII and astral characters so code-unit order matters)
 * round-trip through serialize and read; and one random mutation of a valid state (a value
 * replaced by any JSON value, a field or element deleted, a field added), sealed with a
 * correct digest, is either still a valid state or ECORRUPT — never a raw TypeError or
 * SyntaxError from deep inside a reader.
 */
import { writeFile } from 'node:fs/promises';
import { fc, test } from '@fast-check/vitest';
import { afterAll, describe, expect } from 'vitest';
import { BackupError } from '../../src/errors.js';
import { artifactFile, idDate, nextId, readStateFile, serializeState, type BackupState, type StateEntry } from '../../src/state/index.js';
import { seal, sealPlain } from '../helpers/seal.js';
import { useTempDir } from '../helpers/tools.js';

type Role = 'sigvault' | 'files' | 'deltas';
const ROLES: Role[] = ['sigvault', 'files', 'deltas'];

const hex16 = fc.stringMatching(/^[0-9a-f]{16}$/);
const ns = fc.bigInt({ min: -(2n ** 62n), max: 2n ** 63n - 1n }).map(String);
const count = fc.maxSafeNat();
const segment = fc
  .string({ unit: fc.constantFrom('a', 'b', 'Z', '-', '.', ' ', 'é', '中', '😀', '\u{10FFFF}'), minLength: 1, maxLength: 3 })
  .filter((s) => s !== '.' && s !== '..');

const linkPlan = fc.record({ gapMs: fc.integer({ min: 0, max: 1e10 }), roles: fc.subarray(ROLES), size: count, hash: hex16, entries: count });
const leafPlan = fc.record({
  kind: fc.constantFrom('file', 'symlink', 'dir'),
  mode: fc.integer({ min: 0, max: 0o7777 }),
  uid: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  gid: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  mtime: ns,
  ctime: ns,
  ino: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String),
  size: count,
  hash: hex16,
  target: fc.string({ minLength: 1 }).filter((s) => !s.includes('\0')),
  picks: fc.array(fc.boolean(), { maxLength: 6 }),
  steps: fc.array(fc.record({ size: count, hash: hex16 }), { minLength: 6, maxLength: 6 }),
  sig: fc.nat(),
  unstable: fc.boolean(),
});

/** A valid state of a random chain and tree. */
const stateArb: fc.Arbitrary<BackupState> = fc
  .record({
    name: fc.string({ minLength: 1 }).filter((s) => s !== '.' && s !== '..' && !/[/\0]/.test(s)),
    source: fc.string(),
    compression: fc.constantFrom('gzip' as const, 'none' as const),
    checksum: fc.boolean(),
    start: fc.date({ min: new Date('1970-01-01'), max: new Date('2200-01-01'), noInvalidDate: true }),
    links: fc.array(linkPlan, { minLength: 1, maxLength: 5 }),
    paths: fc.uniqueArray(fc.array(segment, { minLength: 1, maxLength: 3 }), { maxLength: 25, selector: (p) => p.join('/') }),
    leaves: fc.infiniteStream(leafPlan),
    stats: fc.record({ scanned: count, created: count, modified: count, deleted: count, unchanged: count, storedWhole: count, storedDelta: count, bytesRead: count, bytesWritten: count, durationMs: count }),
    warnings: fc.array(fc.record({ code: fc.string(), path: fc.string(), message: fc.string() }), { maxLength: 3 }),
    parentDigest: hex16,
  })
  .map((p): BackupState => {
    const ids: string[] = [];
    let at = p.start.getTime();
    for (const l of p.links) {
      at += l.gapMs;
      ids.push(nextId(ids.at(-1), new Date(Math.min(at, Date.UTC(9000, 0)))));
    }
    const chain = p.links.map((l, i) => {
      const compression = i % 2 === 0 ? p.compression : 'none';
      const artifacts = l.roles
        .filter((r) => i > 0 || r !== 'deltas')
        .map((role) => ({ role, file: artifactFile(ids[i]!, role, role === 'sigvault' ? 'none' : compression), size: l.size, hash: l.hash, compression: role === 'sigvault' ? ('none' as const) : compression, entries: l.entries }));
      return { id: ids[i]!, kind: i === 0 ? ('full' as const) : ('incremental' as const), createdAt: idDate(ids[i]!).toISOString(), artifacts };
    });
    const has = (i: number, role: Role) => chain[i]!.artifacts.some((a) => a.role === role);
    // Every proper prefix of a path is a directory; the rest are leaves of a random kind.
    const all = new Set<string>();
    const dirs = new Set<string>();
    for (const segs of p.paths) {
      for (let k = 1; k <= segs.length; k++) all.add(segs.slice(0, k).join('/'));
      for (let k = 1; k < segs.length; k++) dirs.add(segs.slice(0, k).join('/'));
    }
    const leaves = p.leaves[Symbol.iterator]();
    const entries = [...all].sort().map((path): StateEntry => {
      const l = leaves.next().value!;
      const meta = { mode: l.mode, uid: l.uid, gid: l.gid, mtime: l.mtime };
      const wholeIn = chain.findIndex((_, i) => has(i, 'files'));
      if (dirs.has(path) || l.kind === 'dir' || (l.kind === 'file' && wholeIn < 0)) return { path, type: 'dir', ...meta, size: 0 };
      if (l.kind === 'symlink') return { path, type: 'symlink', ...meta, size: 0, target: l.target };
      const content = [ids[wholeIn]!];
      chain.forEach((_, i) => {
        if (i > wholeIn && has(i, 'deltas') && l.picks[i]) content.push(ids[i]!);
      });
      const vaults = chain.flatMap((link, i) => (has(i, 'sigvault') ? [link.id] : []));
      return {
        path,
        type: 'file',
        ...meta,
        size: l.size,
        ctime: l.ctime,
        ino: l.ino,
        hash: l.hash,
        content,
        ...(content.length > 1 ? { steps: l.steps.slice(0, content.length - 1) } : {}),
        ...(vaults.length > 0 && l.sig % 3 > 0 ? { sig: vaults[l.sig % vaults.length]! } : {}),
        ...(l.unstable ? { unstable: true as const } : {}),
      };
    });
    const id = ids.at(-1)!;
    return {
      format: 'incremental-backups-tools/state',
      version: 3,
      name: p.name,
      id,
      kind: chain.length === 1 ? 'full' : 'incremental',
      parent: chain.length === 1 ? null : { id: ids.at(-2)!, digest: p.parentDigest },
      createdAt: idDate(id).toISOString(),
      source: p.source,
      compression: p.compression,
      checksum: p.checksum,
      chain,
      warnings: p.warnings,
      entries,
      stats: p.stats,
    };
  });

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface Mutation {
  /** Which kind of field (`.entries[].content`), modulo their number. */
  kind: number;
  /** Which occurrence of that kind, modulo their number. */
  which: number;
  how: 'replace' | 'delete' | 'add';
  /** The new value (replace, or an element added to an array). */
  value: Json;
  /** The name of a field added to an object. */
  key: string;
}

const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.nat(),
  which: fc.nat(),
  how: fc.constantFrom('replace' as const, 'delete' as const, 'add' as const),
  value: fc.oneof(fc.constantFrom<Json>(null, true, -1, 1.5, 2 ** 53, '', 'abc', '../x', [], {}, [null], { path: 1 }), fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>),
  key: fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', 'toString', 'digest', 'steps', 'target', 'sig', 'ctime')),
});

type Place = [Json[] | Record<string, Json>, string | number];

/** Every place in a JSON value (a container and a key of it), by kind: its path with indexes as `[]`. */
function placesByKind(value: Json, kind = '', out = new Map<string, Place[]>()): Map<string, Place[]> {
  if (value === null || typeof value !== 'object') return out;
  const children: [string | number, Json][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  for (const [key, child] of children) {
    const childKind = typeof key === 'number' ? `${kind}[]` : `${kind}.${key}`;
    out.set(childKind, [...(out.get(childKind) ?? []), [value, key]]);
    placesByKind(child, childKind, out);
  }
  return out;
}

/**
 * `state` with one random change somewhere in it. Kinds of field are equally likely, not
 * places (nearly all of a state's places are entry fields), so every rule of the schema and
 * of the invariants gets its share of hostile values.
 */
function mutate(state: BackupState, m: Mutation): Json {
  const root = JSON.parse(JSON.stringify(state)) as Json;
  const kinds = [...placesByKind(root).values()];
  const places = kinds[m.kind % kinds.length]!;
  const [container, key] = places[m.which % places.length]!;
  if (m.how === 'replace') (container as Record<string | number, Json>)[key] = m.value;
  else if (m.how === 'delete') Array.isArray(container) ? container.splice(key as number, 1) : delete container[key as string];
  else if (Array.isArray(container)) container.splice(key as number, 0, m.value);
  else Object.defineProperty(container, m.key, { value: m.value, enumerable: true, configurable: true, writable: true });
  return root;
}

const tmp = useTempDir();

describe('state files, properties', () => {
  test.prop([stateArb], { numRuns: 150 })('random valid states round-trip through serialize and read', async (state) => {
    const { bytes, digest } = await serializeState(state);
    const path = tmp.file(`${state.id}.state.json.gz`);
    await writeFile(path, bytes);
    const read = await readStateFile(path, { id: state.id, name: state.name });
    expect(read).toEqual({ state, digest });
    expect((await serializeState(read.state)).bytes).toEqual(bytes);
  });

  test.prop([stateArb, mutationArb], { numRuns: 1000 })('one random mutation gives a valid state or ECORRUPT, never a raw TypeError', async (state, m) => {
    await readMutated(mutate(state, m), state, seal);
  });

  test.prop([stateArb, mutationArb], { numRuns: 300 })('the same in a version-2 (plain JSON) file', async (state, m) => {
    await readMutated(mutate({ ...state, version: 2 as unknown as 3 }, m), state, (value) => sealPlain(value));
  });
});

/** How the reads of mutated states ended: both must happen, or the property says nothing. */
const outcomes = { accepted: 0, refused: 0 };
afterAll(() => {
  expect(outcomes.accepted).toBeGreaterThan(0);
  expect(outcomes.refused).toBeGreaterThan(0);
});

/** Read `mutated` (of `state`), sealed by `sealer`: a valid state a write accepts, or ECORRUPT naming the file. */
async function readMutated(mutated: Json, state: BackupState, sealer: (value: object) => Promise<Buffer>): Promise<void> {
  const path = tmp.file(`${state.id}.state.json.gz`);
  await writeFile(path, await sealer(mutated as object));
  try {
    const { state: read } = await readStateFile(path, { id: state.id, name: state.name });
    // What a read accepts, a write accepts: the two share one definition of a valid state.
    await serializeState({ ...read, version: 3 });
    outcomes.accepted++;
  } catch (e) {
    if (!(e instanceof BackupError) || e.code !== 'ECORRUPT') throw e;
    outcomes.refused++;
    expect(e.path).toBe(path);
    expect(e.message.startsWith(`backup state ${path} is invalid: `)).toBe(true);
  }
}
