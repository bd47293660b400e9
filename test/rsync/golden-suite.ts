/**
 * The golden conformance suite: for every signature kind, block length and strong length,
 * over every basis and version of the corpus, the engine must produce rdiff's signature
 * bytes and rdiff's delta bytes, rdiff must patch the engine's delta back to the new file,
 * and the engine must patch rdiff's delta back to it. The corpus is written once; rdiff
 * runs in two batches per parameter set, whose outputs are deleted once its tests are done.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';
import { sameBytes } from '../helpers/bytes.js';
import { goldenCorpus, type Family, type SigKind } from '../helpers/corpus.js';
import { forEachEngine } from '../helpers/engines.js';
import { rdiffBatch } from '../helpers/rdiff.js';
import { collect } from '../helpers/streams.js';
import { requireTool, useTempDir, type TempDir } from '../helpers/tools.js';

const BLOCK_LENGTHS = [0, 256, 777, 1000];
const STRONG_LENGTHS = [0, -1, 8];

interface CaseResult {
  ours: Buffer;
  theirs: Buffer;
  rdiffPatchCode: number;
  rdiffPatched: Buffer;
}

function paramSet(engine: Engine, dir: TempDir, corpus: Family[], kind: SigKind, blockLength: number, strongLength: number): void {
  const tag = `${kind.name}-b${blockLength}-S${strongLength}`;
  const args = [...kind.args, '-b', String(blockLength), '-S', String(strongLength)];
  const options = { weak: kind.weak, strong: kind.strong, blockLength, strongLength };
  const sigs = new Map<string, { ours: Buffer; theirs: Buffer }>();
  const deltas = new Map<string, CaseResult>();
  let sub = '';

  beforeAll(async () => {
    sub = dir.file(tag);
    await mkdir(sub);
    const f = (name: string) => `${sub}/${name}`;
    const first: string[][] = [];
    for (const { basis, versions } of corpus) {
      first.push([...args, 'signature', dir.file(basis.name), f(`${basis.name}.sig`)]);
      for (const v of versions) {
        first.push(['delta', f(`${basis.name}.sig`), dir.file(`${basis.name}.${v.name}`), f(`${basis.name}.${v.name}.rdelta`)]);
      }
    }
    const codes = await rdiffBatch(sub, first);
    expect(codes.every((c) => c === 0), `rdiff exit codes ${codes.join(',')}`).toBe(true);
    const second: string[][] = [];
    for (const { basis, versions } of corpus) {
      const theirSig = await readFile(f(`${basis.name}.sig`));
      sigs.set(basis.name, { ours: await collect(engine.signature(basis.data, options)), theirs: theirSig });
      for (const v of versions) {
        const key = `${basis.name}.${v.name}`;
        const ours = await collect(engine.delta(theirSig, v.data));
        await writeFile(f(`${key}.delta`), ours);
        second.push(['patch', dir.file(basis.name), f(`${key}.delta`), f(`${key}.out`)]);
        deltas.set(key, { ours, theirs: await readFile(f(`${key}.rdelta`)), rdiffPatchCode: -1, rdiffPatched: Buffer.alloc(0) });
      }
    }
    const patchCodes = await rdiffBatch(sub, second);
    let i = 0;
    for (const { basis, versions } of corpus) {
      for (const v of versions) {
        const r = deltas.get(`${basis.name}.${v.name}`)!;
        r.rdiffPatchCode = patchCodes[i++]!;
        if (r.rdiffPatchCode === 0) r.rdiffPatched = await readFile(f(`${basis.name}.${v.name}.out`));
      }
    }
  });

  afterAll(async () => {
    sigs.clear();
    deltas.clear();
    if (sub) await rm(sub, { recursive: true, force: true });
  });

  describe(tag, () => {
    for (const { basis, versions } of corpus) {
      it(`signature of ${basis.name} equals rdiff's`, () => {
        const s = sigs.get(basis.name)!;
        expect(sameBytes(s.ours, s.theirs)).toBe('same');
      });
      for (const v of versions) {
        it(`${basis.name} → ${v.name}: rdiff's delta bytes, and both patch back`, async () => {
          const r = deltas.get(`${basis.name}.${v.name}`)!;
          expect(sameBytes(r.ours, r.theirs), 'delta').toBe('same');
          expect(r.rdiffPatchCode, 'rdiff patch exit code on our delta').toBe(0);
          expect(sameBytes(r.rdiffPatched, v.data), 'rdiff patch of our delta').toBe('same');
          const patched = await collect(engine.patch(basis.data, r.theirs));
          expect(sameBytes(patched, v.data), 'our patch of rdiff delta').toBe('same');
        });
      }
    }
  });
}

/** Declare the golden suite for `kinds`, once per engine. */
export function goldenSuite(kinds: SigKind[]): void {
  const rdiff = requireTool('rdiff');
  describe.skipIf(rdiff.skip)(`golden conformance with rdiff${rdiff.note}`, () => {
    const corpus = goldenCorpus();
    forEachEngine((engine) => {
      const dir = useTempDir();
      beforeAll(async () => {
        for (const { basis, versions } of corpus) {
          await writeFile(dir.file(basis.name), basis.data);
          for (const v of versions) await writeFile(dir.file(`${basis.name}.${v.name}`), v.data);
        }
      });
      for (const kind of kinds) {
        for (const b of BLOCK_LENGTHS) {
          for (const s of STRONG_LENGTHS) paramSet(engine, dir, corpus, kind, b, s);
        }
      }
    });
  });
}
