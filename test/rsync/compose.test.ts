/**
 * Composing a chain of deltas must give, byte for byte, what patching the versions one after
 * the other gives (`patch` is the oracle), and refuse what `patch` refuses: random bases and
 * random chains of deltas (COPYs anywhere, overlapping, backwards; literals; literal-only
 * deltas; empty versions; chains of one), deltas made from random edits by our encoder and by
 * the real `rdiff`. Then what the composition checks without applying anything: each
 * version's size against the recorded one (a bomb is stopped at its first command), COPYs past
 * the version before, the errors naming the delta's artifact, and the piece limit.
 */
import { open, readFile, writeFile, type FileHandle } from 'node:fs/promises';
import { fc, it } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { BackupError, isBackupError } from '../../src/errors.js';
import { applyComposition, changedRanges, checkDelta, DeltaComposer, DELTA_MAGIC, delta, patch, signature } from '../../src/rsync/index.js';
import { DeltaWriter } from '../../src/rsync/delta-writer.js';
import { basisArb } from '../helpers/arbitraries.js';
import { sameBytes } from '../helpers/bytes.js';
import { applyEdits, Prng, randomData, type Edit } from '../helpers/data.js';
import { failure } from '../helpers/failure.js';
import { rdiffBatch } from '../helpers/rdiff.js';
import { collect, collectOutcome } from '../helpers/streams.js';
import { requireTool, useTempDir } from '../helpers/tools.js';

/** A delta command to encode: a COPY of the version before, or literal bytes. */
type Cmd = { copy: [offset: number, length: number] } | { literal: Uint8Array };

function encode(cmds: readonly Cmd[]): Uint8Array {
  const w = new DeltaWriter();
  for (const c of cmds) {
    if ('copy' in c) w.copy(c.copy[0], c.copy[1]);
    else w.literal(c.literal, 0, c.literal.length);
  }
  w.end();
  return Buffer.concat(w.take(true));
}

/** A command to make over a version of some size: fractions pick where a COPY starts and how long it is. */
type CmdSpec = { at: number; len: number } | Uint8Array;

/** Random commands; {@link cmdsFor} fits them to a version. */
const cmdsArb: fc.Arbitrary<CmdSpec[]> = fc.array(
  fc.oneof(
    fc.record({ at: fc.double({ min: 0, max: 1, noNaN: true }), len: fc.double({ min: 0, max: 1, noNaN: true }) }),
    fc.uint8Array({ minLength: 1, maxLength: 200 }),
  ),
  { maxLength: 12 },
);

/** The commands `spec` stands for over a version of `size` bytes (no COPY of an empty one). */
function cmdsFor(spec: readonly CmdSpec[], size: number): Cmd[] {
  const out: Cmd[] = [];
  for (const s of spec) {
    if (s instanceof Uint8Array) out.push({ literal: s });
    else if (size > 0) {
      const offset = Math.min(size - 1, Math.floor(s.at * size));
      out.push({ copy: [offset, 1 + Math.floor(s.len * (size - offset - 1))] });
    }
  }
  return out;
}

/** Patch `deltas` one after the other from `basis`: the oracle. */
async function sequential(basis: Uint8Array, deltas: readonly Uint8Array[]): Promise<Uint8Array[]> {
  const versions = [basis];
  for (const d of deltas) versions.push(await collect(patch(versions.at(-1)!, d)));
  return versions;
}

/** Compose `deltas` over `basis`, with each version's size from `versions`, and apply the result. */
async function composed(versions: readonly Uint8Array[], deltas: readonly Uint8Array[]): Promise<Buffer> {
  const c = new DeltaComposer(versions[0]!.length);
  for (const [i, d] of deltas.entries()) expect(await c.add(d, { size: versions[i + 1]!.length })).toBe(true);
  expect(c.size).toBe(versions.at(-1)!.length);
  return collect(applyComposition(c, versions[0]!, deltas));
}

const dirs = useTempDir();

/** The bytes of the open file `h`, read from its start in chunks of 64 KiB. */
async function* chunksOf(h: FileHandle): AsyncGenerator<Uint8Array> {
  for (let at = 0; ; ) {
    const { bytesRead, buffer } = await h.read(Buffer.alloc(65536), 0, 65536, at);
    if (bytesRead === 0) return;
    yield buffer.subarray(0, bytesRead);
    at += bytesRead;
  }
}

describe('composing deltas equals patching them one after the other', () => {
  it.prop([basisArb, fc.array(cmdsArb, { minLength: 1, maxLength: 6 })], { numRuns: 300 })('random COPYs and literals, chains of 1 to 6', async (basis, chain) => {
    const deltas: Uint8Array[] = [];
    let size = basis.length;
    let version = basis;
    for (const spec of chain) {
      const d = encode(cmdsFor(spec, size));
      deltas.push(d);
      version = await collect(patch(version, d));
      size = version.length;
    }
    const versions = await sequential(basis, deltas);
    expect(sameBytes(await composed(versions, deltas), versions.at(-1)!)).toBe('same');
  });

  it.prop([fc.array(fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 5 }), { minLength: 1, maxLength: 5 })])('literal-only deltas, over an empty basis', async (chain) => {
    const deltas = chain.map((lits) => encode(lits.map((literal) => ({ literal }))));
    const versions = await sequential(new Uint8Array(0), deltas);
    expect(sameBytes(await composed(versions, deltas), versions.at(-1)!)).toBe('same');
  });

  const editArb: fc.Arbitrary<Edit> = fc.record({
    at: fc.nat(),
    remove: fc.integer({ min: 0, max: 2000 }),
    insert: fc.uint8Array({ maxLength: 500 }),
  });

  it.prop([basisArb, fc.array(fc.array(editArb, { maxLength: 4 }), { minLength: 1, maxLength: 5 }), fc.constantFrom(0, 1, 16, 256)], { numRuns: 100 })(
    'deltas our encoder makes from random edits',
    async (basis, chain, blockLength) => {
      const versions = [basis];
      const deltas: Uint8Array[] = [];
      for (const edits of chain) {
        const before = versions.at(-1)!;
        const after = applyEdits(before, edits);
        deltas.push(await collect(delta(await collect(signature(before, { blockLength })), after)));
        versions.push(after);
      }
      const replayed = await sequential(basis, deltas);
      for (const [i, v] of versions.entries()) expect(sameBytes(replayed[i]!, v), `version ${i}`).toBe('same');
      expect(sameBytes(await composed(versions, deltas), versions.at(-1)!)).toBe('same');
    },
  );

  it('empty versions anywhere in the chain', async () => {
    const data = randomData(3, 5000);
    const deltas = [encode([]), encode([{ literal: data }]), encode([]), encode([])];
    const versions = await sequential(data, deltas);
    expect(versions.map((v) => v.length)).toEqual([5000, 0, 5000, 0, 0]);
    expect(await composed(versions, deltas)).toEqual(Buffer.alloc(0));
    expect(await composed(versions.slice(0, 3), deltas.slice(0, 2))).toEqual(Buffer.from(data));
  });

  it('a COPY of zero length is ECORRUPT, as patch says', async () => {
    const zero = Buffer.from([0x72, 0x73, 0x02, 0x36, 0x45, 0, 0, 0]);
    const theirs = await collectOutcome(patch(Buffer.alloc(10), zero));
    expect(isBackupError(theirs.error, 'ECORRUPT')).toBe(true);
    const err = await failure(new DeltaComposer(10).add(zero, { size: 0 }, 'inc.deltas.tar'));
    expect(err.code).toBe('ECORRUPT');
    expect(err.message).toContain('zero-length copy');
    expect(err.path).toBe('inc.deltas.tar');
  });

  it.prop([fc.uint8Array({ maxLength: 3000 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 255 })])(
    'a damaged delta (cut short, a byte changed) is refused by the composition whenever patch refuses it, with the same code',
    async (basis, keep, flip, byte) => {
      const good = encode([{ copy: [0, Math.max(1, basis.length)] }, { literal: Uint8Array.of(1, 2, 3) }, { copy: [0, 1] }]);
      const bad = Buffer.from(good.subarray(0, keep));
      if (flip < bad.length) bad[flip] = byte;
      const theirs = await collectOutcome(patch(basis, bad));
      const compose = (size: number): Promise<unknown> =>
        new DeltaComposer(basis.length).add(bad, { size }).then(
          () => undefined,
          (e: unknown) => e,
        );
      if (theirs.error === undefined) expect(await compose(theirs.bytes.length)).toBeUndefined();
      // With no size to keep to, only the decoding can fail, and as patch's does.
      else expect(((await compose(Number.MAX_SAFE_INTEGER)) as BackupError | undefined)?.code).toBe((theirs.error as BackupError).code);
    },
  );

  it('reads the basis and the deltas from open files as from buffers', async () => {
    const dir = dirs;
    const rng = new Prng(8);
    const basis = randomData(1, 3 << 20);
    const deltas: Uint8Array[] = [];
    let version: Uint8Array = basis;
    for (let i = 0; i < 4; i++) {
      const cmds: Cmd[] = [];
      for (let j = 0; j < 30; j++) {
        const offset = rng.int(version.length - 1);
        cmds.push(rng.int(2) ? { copy: [offset, 1 + rng.int(Math.min(2 << 20, version.length - offset - 1))] } : { literal: rng.bytes(1 + rng.int(300_000)) });
      }
      deltas.push(encode(cmds));
      version = await collect(patch(version, deltas.at(-1)!));
    }
    const versions = await sequential(basis, deltas);
    const names = ['basis', ...deltas.map((_, i) => `d${i}`)];
    await Promise.all([basis, ...deltas].map((b, i) => writeFile(dir.file(names[i]!), b)));
    const handles = await Promise.all(names.map((n) => open(dir.file(n))));
    try {
      const c = new DeltaComposer(basis.length);
      for (const [i, h] of handles.slice(1).entries()) await c.add(chunksOf(h), { size: versions[i + 1]!.length });
      const out = await collect(applyComposition(c, handles[0]!, handles.slice(1)));
      expect(sameBytes(out, versions.at(-1)!)).toBe('same');
    } finally {
      await Promise.all(handles.map((h) => h.close()));
    }
  });
});

/** An edit in place: ranges overwritten (fractions of the version), then the length changed. */
const inPlaceArb = fc.record({
  spans: fc.array(fc.record({ at: fc.double({ min: 0, max: 1, noNaN: true }), data: fc.uint8Array({ minLength: 1, maxLength: 300 }) }), { maxLength: 5 }),
  grow: fc.integer({ min: -500, max: 500 }),
});

/** A delta that overwrites the spans of `edit` in a version of `size` bytes and changes its length: every COPY at its own offset. */
function inPlaceDelta(edit: { spans: { at: number; data: Uint8Array }[]; grow: number }, size: number): Uint8Array {
  const next = Math.max(0, size + edit.grow);
  const cmds: Cmd[] = [];
  let pos = 0;
  for (const span of [...edit.spans].sort((a, b) => a.at - b.at)) {
    const at = Math.max(pos, Math.floor(span.at * next));
    const data = span.data.subarray(0, Math.max(0, next - at));
    if (data.length === 0) continue;
    if (at > pos) cmds.push(at <= size ? { copy: [pos, at - pos] } : { literal: new Uint8Array(at - pos) });
    cmds.push({ literal: data });
    pos = at + data.length;
  }
  if (next > pos) {
    const copied = Math.max(0, Math.min(next, size) - pos);
    if (copied > 0) cmds.push({ copy: [pos, copied] });
    if (next > pos + copied) cmds.push({ literal: new Uint8Array(next - pos - copied).fill(5) });
  }
  return encode(cmds);
}

describe('a composition that only overwrites ranges and changes the length', () => {
  it.prop([basisArb, fc.array(inPlaceArb, { minLength: 1, maxLength: 6 })], { numRuns: 200 })('written over a copy of its basis, gives what patching one after the other gives', async (basis, chain) => {
    const deltas: Uint8Array[] = [];
    let size = basis.length;
    for (const edit of chain) {
      deltas.push(inPlaceDelta(edit, size));
      size = Math.max(0, size + edit.grow);
    }
    const versions = await sequential(basis, deltas);
    const c = new DeltaComposer(basis.length);
    for (const [i, d] of deltas.entries()) await c.add(d, { size: versions[i + 1]!.length });
    expect(c.inPlace).toBe(true);
    const file = Buffer.alloc(Math.max(basis.length, c.size) + 100, 0xee);
    file.set(basis);
    let end = basis.length;
    for await (const r of changedRanges(c, deltas)) {
      expect(r.bytes.length).toBeGreaterThan(0);
      expect(r.at).toBeGreaterThanOrEqual(0);
      file.set(r.bytes, r.at);
      end = Math.max(end, r.at + r.bytes.length);
    }
    expect(end).toBeLessThanOrEqual(Math.max(c.size, basis.length));
    expect(sameBytes(file.subarray(0, c.size), versions.at(-1)!)).toBe('same');
  });

  it('a composition that moves data of its basis is not in place, and has no ranges to write over it', async () => {
    const c = new DeltaComposer(100);
    await c.add(encode([{ copy: [10, 90] }, { copy: [0, 10] }]), { size: 100 });
    expect(c.inPlace).toBe(false);
    expect((await collectOutcome((async function* () {
      for await (const r of changedRanges(c, [new Uint8Array(0)])) yield r.bytes;
    })())).error).toMatchObject({ code: 'EPARAM' });
  });

  it('joins adjacent literal pieces into ranges of up to 1 MiB', async () => {
    const lits = Array.from({ length: 40 }, (_, i) => ({ literal: new Uint8Array(65536).fill(i) }));
    const d = encode(lits);
    const c = new DeltaComposer(0);
    await c.add(d, { size: 40 * 65536 });
    const ranges = [];
    for await (const r of changedRanges(c, [d])) ranges.push([r.at, r.bytes.length]);
    expect(ranges).toEqual([
      [0, 1 << 20],
      [1 << 20, 1 << 20],
      [2 << 20, 8 * 65536],
    ]);
  });
});

const rdiff = requireTool('rdiff');

describe.skipIf(rdiff.skip)(`deltas made by rdiff${rdiff.note}`, () => {
  it.prop([basisArb, fc.array(fc.array(fc.record({ at: fc.nat(), remove: fc.integer({ min: 0, max: 600 }), insert: fc.uint8Array({ maxLength: 300 }) }), { maxLength: 4 }), { minLength: 1, maxLength: 4 })], {
    numRuns: 25,
  })('compose to what rdiff patches one after the other', async (basis, chain) => {
    const f = dirs.file;
    const versions = [basis];
    for (const edits of chain) versions.push(applyEdits(versions.at(-1)!, edits));
    await Promise.all(versions.map((v, i) => writeFile(f(`v${i}`), v)));
    const cmds: string[][] = [];
    for (let i = 1; i < versions.length; i++) {
      cmds.push(['-b', '64', 'signature', f(`v${i - 1}`), f(`s${i}`)], ['delta', f(`s${i}`), f(`v${i}`), f(`d${i}`)], ['patch', f(`v${i - 1}`), f(`d${i}`), f(`p${i}`)]);
    }
    expect(new Set(await rdiffBatch(dirs.path, cmds))).toEqual(new Set([0]));
    const deltas = await Promise.all(versions.slice(1).map((_, i) => readFile(f(`d${i + 1}`))));
    for (let i = 1; i < versions.length; i++) expect(sameBytes(await readFile(f(`p${i}`)), versions[i]!)).toBe('same');
    expect(sameBytes(await composed(versions, deltas), versions.at(-1)!)).toBe('same');
  });
});

describe('what a composition checks before anything is written', () => {
  const basis = randomData(5, 10_000);

  it('a delta that would expand past its recorded size fails at the command that passes it, naming the artifact', async () => {
    // A 1 GiB literal announced by its first command: the literal data is never needed.
    const head = Buffer.alloc(13);
    head.writeUInt32BE(DELTA_MAGIC, 0);
    head[4] = 0x44;
    head.writeBigUInt64BE(BigInt(1024 ** 3), 5);
    async function* bomb(): AsyncGenerator<Uint8Array> {
      yield head;
      for (let i = 0; i < 1024; i++) yield Buffer.alloc(1 << 20, 1);
    }
    const c = new DeltaComposer(basis.length);
    const err = await failure(c.add(bomb(), { size: 6, wrongSize: (got) => new BackupError('ECORRUPT', `gives ${got ?? 'more than 6'} bytes`) }, 'inc.deltas.tar.gz'));
    expect(err.code).toBe('ECORRUPT');
    expect(err.message).toContain('more than 6');
    expect(err.path).toBe('inc.deltas.tar.gz');
    expect(c.deltas).toBe(0);
    expect(c.size).toBe(basis.length);
  });

  it('a delta giving fewer bytes than recorded fails with the size it gives', async () => {
    const err = await failure(checkDelta(encode([{ copy: [0, 100] }]), { basisSize: basis.length, size: 101 }));
    expect(err.code).toBe('ECORRUPT');
    expect(err.message).toContain('gives 100 bytes where 101 are recorded');
  });

  it('a COPY past the end of the version before is ETRUNCATED naming the delta artifact, at any depth of the chain', async () => {
    const c = new DeltaComposer(basis.length);
    expect(await c.add(encode([{ copy: [0, 5000] }]), { size: 5000 }, 'a.deltas.tar')).toBe(true);
    // Within the basis, past the version it applies to:
    const err = await failure(c.add(encode([{ copy: [4000, 1001] }]), { size: 1001 }, 'b.deltas.tar'));
    expect(err.code).toBe('ETRUNCATED');
    expect(err.message).toContain('past the end of the basis (5000 bytes)');
    expect(err.path).toBe('b.deltas.tar');
    expect(err.message).toContain('b.deltas.tar');
  });

  it('checkDelta gives the errors of a composition, and counts commands', async () => {
    expect(await checkDelta(encode([{ copy: [0, 10] }, { literal: Uint8Array.of(1) }]), { basisSize: 10, size: 11 })).toBe(2);
    expect((await failure(checkDelta(encode([{ copy: [5, 10] }]), { basisSize: 10, size: 10 }))).code).toBe('ETRUNCATED');
    expect((await failure(checkDelta(Uint8Array.of(1, 2, 3, 4, 0), { basisSize: 0, size: 0 }))).code).toBe('EBADMAGIC');
  });

  it('a delta that would pass maxPieces is refused and leaves the composition as it was; composing on from the version written gives the same file', async () => {
    // Ten one-byte edits, then the file doubled three times: the pieces double with it.
    const v1 = Buffer.from(basis);
    const edits: Cmd[] = [];
    for (let i = 0; i < 10; i++) edits.push({ copy: [i * 1000, 999] }, { literal: Uint8Array.of(i) });
    const deltas = [encode(edits)];
    const versions: Uint8Array[] = [basis, await collect(patch(v1, deltas[0]!))];
    for (let i = 0; i < 3; i++) {
      const n = versions.at(-1)!.length;
      deltas.push(encode([{ copy: [0, n] }, { copy: [0, n] }]));
      versions.push(await collect(patch(versions.at(-1)!, deltas.at(-1)!)));
    }
    const c = new DeltaComposer(basis.length, { maxPieces: 50 });
    expect(await c.add(deltas[0]!, { size: versions[1]!.length })).toBe(true);
    expect(c.pieceCount).toBe(20);
    expect(await c.add(deltas[1]!, { size: versions[2]!.length })).toBe(true);
    expect(c.pieceCount).toBe(40);
    expect(await c.add(deltas[2]!, { size: versions[3]!.length })).toBe(false);
    expect([c.deltas, c.pieceCount, c.size]).toEqual([2, 40, versions[2]!.length]);
    const v2 = await collect(applyComposition(c, basis, deltas));
    expect(sameBytes(v2, versions[2]!)).toBe('same');
    // A delta with more commands than that is refused even as the first one: it is patched alone.
    expect(await new DeltaComposer(basis.length, { maxPieces: 19 }).add(deltas[0]!, { size: versions[1]!.length })).toBe(false);
    const rest = new DeltaComposer(v2.length, { maxPieces: 50 });
    for (const i of [2, 3]) expect(await rest.add(deltas[i]!, { size: versions[i + 1]!.length })).toBe(true);
    expect(sameBytes(await collect(applyComposition(rest, v2, deltas.slice(2))), versions[4]!)).toBe('same');
  });

  it('a composition of an image edited in place is one piece per edit, not per delta', async () => {
    // What a disk image changed in ten backups composes to: the edits, between COPYs of the basis.
    const image = randomData(9, 1 << 20);
    let c = new DeltaComposer(image.length);
    for (let i = 0; i < 10; i++) {
      const at = i * 65536 + 1000;
      expect(await c.add(encode([{ copy: [0, at] }, { literal: randomData(i, 4096) }, { copy: [at + 4096, image.length - at - 4096] }]), { size: image.length })).toBe(true);
    }
    expect(c.pieceCount).toBe(21);
    expect(c.inPlace).toBe(true);
    expect(c.changedBytes()).toBe(10 * 4096);
    expect(c.changedBytes(65536 * 5)).toBe(5 * 4096);
    expect(c.changedBytes(1000 + 2048)).toBe(2048);
    c = new DeltaComposer(0);
    expect([...c.list()]).toEqual([]);
  });

  it('applying needs every delta the composition reads', async () => {
    const c = new DeltaComposer(3);
    await c.add(encode([{ literal: Uint8Array.of(1) }]), { size: 1 });
    expect((await collectOutcome(applyComposition(c, Uint8Array.of(0, 0, 0), []))).error).toMatchObject({ code: 'EPARAM' });
    expect((await collectOutcome(applyComposition(c, Uint8Array.of(0, 0, 0), [Uint8Array.of(1)]))).error).toMatchObject({ code: 'ETRUNCATED' });
  });
});
