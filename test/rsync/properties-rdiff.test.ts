/**
 * Random bases, random edits and random signature options, checked against the real rdiff:
 * our signature is rdiff's, our delta from it is rdiff's, rdiff patches our delta to the new
 * data, and we patch rdiff's delta to it. Runs are bounded because each spawns rdiff three
 * times.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { it } from '@fast-check/vitest';
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
  });
});
