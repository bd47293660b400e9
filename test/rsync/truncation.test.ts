/**
 * A delta cut anywhere before its END must fail as truncated, never end quietly with a
 * short result: what was produced before the error is a prefix of the new data, and rdiff
 * exits 103 on the same bytes.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fc, it } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { isBackupError } from '../../src/errors.js';
import { basisAndNewArb } from '../helpers/arbitraries.js';
import { sameBytes } from '../helpers/bytes.js';
import { forEachEngine } from '../helpers/engines.js';
import { RDIFF_EXIT, rdiffBatch } from '../helpers/rdiff.js';
import { collect, collectOutcome } from '../helpers/streams.js';
import { requireTool, useTempDir } from '../helpers/tools.js';

const rdiff = requireTool('rdiff');

describe.skipIf(rdiff.skip)(`deltas cut short${rdiff.note}`, () => {
  const dir = useTempDir();

  forEachEngine((engine) => {
    it.prop([basisAndNewArb, fc.double({ min: 0, max: 1, noNaN: true }), fc.boolean()], { numRuns: 60 })(
      'are ETRUNCATED after a prefix of the new data, and rdiff exits 103',
      async ({ basis, data }, where, checkRdiff) => {
        const delta = await collect(engine.delta(await collect(engine.signature(basis, { blockLength: 64 })), data));
        const cut = delta.subarray(0, Math.floor(where * (delta.length - 1)));
        const outcome = await collectOutcome(engine.patch(basis, cut));
        expect(isBackupError(outcome.error, 'ETRUNCATED'), String(outcome.error)).toBe(true);
        expect(sameBytes(outcome.bytes, data.subarray(0, outcome.bytes.length)), 'output before the error').toBe('same');
        if (!checkRdiff) return;
        await writeFile(dir.file('basis'), basis);
        await writeFile(dir.file('cut'), cut);
        expect(await rdiffBatch(dir.path, [['patch', dir.file('basis'), dir.file('cut'), dir.file('out')]])).toEqual([RDIFF_EXIT.ETRUNCATED]);
        const partial = await readFile(dir.file('out'));
        expect(sameBytes(partial, data.subarray(0, partial.length)), 'rdiff output before the error').toBe('same');
      },
    );
  });
});
