/**
 * Random bases, random edits and random signature options, checked against the real rdiff:
 * our signature is rdiff's, our delta from it is rdiff's, rdiff patches our delta to the new
 * data, and we patch rdiff's delta to it. Runs are bounded because each spawns rdiff three
 * times.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fc, it } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { basisAndNewArb, rdiffSigArgs, sigOptionsArb } from '../helpers/arbitraries.js';
import { sameBytes } from '../helpers/bytes.js';
import { forEachEngine } from '../helpers/engines.js';
import { rdiffBatch } from '../helpers/rdiff.js';
import { collect } from '../helpers/streams.js';
import { requireTool, useTempDir } from '../helpers/tools.js';

const rdiff = requireTool('rdiff');

describe.skipIf(rdiff.skip)(`random edits against rdiff${rdiff.note}`, () => {
  const dir = useTempDir();

  forEachEngine((engine) => {
    it.prop([basisAndNewArb, sigOptionsArb], { numRuns: 60 })('signature, delta and both patches agree with rdiff', async ({ basis, data }, options) => {
      const f = dir.file;
      await writeFile(f('basis'), basis);
      await writeFile(f('new'), data);
      const ourSig = await collect(engine.signature(basis, options));
      const codes = await rdiffBatch(dir.path, [
        [...rdiffSigArgs(options), 'signature', f('basis'), f('sig')],
        ['delta', f('sig'), f('new'), f('rdelta')],
      ]);
      expect(codes).toEqual([0, 0]);
      expect(sameBytes(ourSig, await readFile(f('sig'))), 'signature').toBe('same');
      const ourDelta = await collect(engine.delta(ourSig, data));
      const theirDelta = await readFile(f('rdelta'));
      expect(sameBytes(ourDelta, theirDelta), 'delta').toBe('same');
      await writeFile(f('delta'), ourDelta);
      expect(await rdiffBatch(dir.path, [['patch', f('basis'), f('delta'), f('out')]])).toEqual([0]);
      expect(sameBytes(await readFile(f('out')), data), 'rdiff patch of our delta').toBe('same');
      expect(sameBytes(await collect(engine.patch(basis, theirDelta)), data), 'our patch of rdiff delta').toBe('same');
    });

    // With 1- and 2-byte strong sums and tiny alphabets, weak and strong collisions are
    // common, so false matches happen: which block a window matches must still be rdiff's.
    it.prop([basisAndNewArb, sigOptionsArb, fc.constantFrom(1, 2)], { numRuns: 40 })(
      'with false matches from short strong sums, the delta is still rdiff\'s',
      async ({ basis, data }, options, strongLength) => {
        const f = dir.file;
        const short = { ...options, strongLength, blockLength: Math.min(options.blockLength, 8) };
        await writeFile(f('basis'), basis);
        await writeFile(f('new'), data);
        const codes = await rdiffBatch(dir.path, [
          [...rdiffSigArgs(short), 'signature', f('basis'), f('sig')],
          ['delta', f('sig'), f('new'), f('rdelta')],
        ]);
        expect(codes).toEqual([0, 0]);
        const ourSig = await collect(engine.signature(basis, short));
        expect(sameBytes(ourSig, await readFile(f('sig'))), 'signature').toBe('same');
        expect(sameBytes(await collect(engine.delta(ourSig, data)), await readFile(f('rdelta'))), 'delta').toBe('same');
      },
    );
  });
});
