/**
 * Pure round-trip properties, no rdiff: patching a basis with the delta from its own
 * signature gives the new data back, whatever the data, edits and signature options.
 */
import { fc, it } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { basisAndNewArb, sigOptionsArb } from '../helpers/arbitraries.js';
import { sameBytes } from '../helpers/bytes.js';
import { forEachEngine } from '../helpers/engines.js';
import { collect } from '../helpers/streams.js';

describe('patch(basis, delta(signature(basis), new)) = new', () => {
  forEachEngine((engine) => {
    it.prop([basisAndNewArb, sigOptionsArb, fc.constantFrom(undefined, 65533, 1, 100)], { numRuns: 200 })(
      'for any basis, edits, signature options and literal limit',
      async ({ basis, data }, options, maxLiteral) => {
        const sig = await collect(engine.signature(basis, options));
        const delta = await collect(engine.delta(sig, data, { maxLiteral }));
        expect(sameBytes(await collect(engine.patch(basis, delta)), data)).toBe('same');
      },
    );

    it.prop([basisAndNewArb], { numRuns: 100 })('a delta of unchanged data is never longer than 4 + 17·blocks + 1 bytes', async ({ basis }) => {
      const sig = await collect(engine.signature(basis));
      const delta = await collect(engine.delta(sig, basis));
      const blocks = Math.ceil(basis.length / sig.readUInt32BE(4));
      expect(delta.length).toBeLessThanOrEqual(5 + 17 * blocks);
    });
  });
});
