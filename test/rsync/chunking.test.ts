/**
 * Output never depends on where input chunk boundaries fall: the signature, the delta and
 * the patch of data fed as a stream of arbitrary chunks are byte-identical to those of the
 * same data given whole. This is what lets the engines run over files and sockets.
 */
import { it } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { basisAndNewArb, chunkSizesArb, sigOptionsArb } from '../helpers/arbitraries.js';
import { sameBytes } from '../helpers/bytes.js';
import { forEachEngine } from '../helpers/engines.js';
import { collect, inChunks } from '../helpers/streams.js';

describe('chunk boundaries do not change output', () => {
  forEachEngine((engine) => {
    it.prop([basisAndNewArb, sigOptionsArb, chunkSizesArb, chunkSizesArb, chunkSizesArb, chunkSizesArb], { numRuns: 100 })(
      'signature, delta and patch over re-chunked streams',
      async ({ basis, data }, options, basisSizes, sigSizes, newSizes, deltaSizes) => {
        const sig = await collect(engine.signature(basis, options));
        const sigStreamed = await collect(engine.signature(inChunks(basis, basisSizes), { ...options, fileSize: basis.length }));
        expect(sameBytes(sigStreamed, sig), 'signature').toBe('same');
        const delta = await collect(engine.delta(sig, data));
        const deltaStreamed = await collect(engine.delta(inChunks(sig, sigSizes), inChunks(data, newSizes)));
        expect(sameBytes(deltaStreamed, delta), 'delta').toBe('same');
        expect(sameBytes(await collect(engine.patch(basis, inChunks(delta, deltaSizes))), data), 'patch').toBe('same');
      },
    );

    it.prop([basisAndNewArb, chunkSizesArb], { numRuns: 25 })('one byte at a time for the new data', async ({ basis, data }, sigSizes) => {
      const sig = await collect(engine.signature(basis, { blockLength: 64 }));
      const head = data.subarray(0, 400);
      const delta = await collect(engine.delta(sig, head));
      expect(sameBytes(await collect(engine.delta(inChunks(sig, sigSizes), inChunks(head, [1]))), delta)).toBe('same');
    });
  });
});
