/**
 * The literal-run limit: rdiff 2.3.2 cuts a run of unmatched bytes every 32768 bytes
 * (`42 80 00`), 2.3.3 and later every 65533 (`42 ff fd`). The default must give 2.3.2's
 * bytes; `maxLiteral: 65533` gives the newer layout, which must still patch to the same file
 * with both our patch and rdiff's.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { isBackupError } from '../../src/errors.js';
import { deltaCommands, sameBytes } from '../helpers/bytes.js';
import { randomData } from '../helpers/data.js';
import { forEachEngine } from '../helpers/engines.js';
import { runRdiff } from '../helpers/rdiff.js';
import { collect, collectOutcome } from '../helpers/streams.js';
import { requireTool, useTempDir } from '../helpers/tools.js';

const BASIS = randomData(21, 200_000);
// 150 001 bytes of no match between two matching stretches, so runs are cut mid-file too.
const NEW = Uint8Array.from([...BASIS.subarray(0, 20_000), ...randomData(22, 150_001), ...BASIS.subarray(100_000)]);

const literalLengths = (delta: Uint8Array) => deltaCommands(delta).flatMap((c) => ('literal' in c ? [c.literal] : []));

const rdiff = requireTool('rdiff');

describe.skipIf(rdiff.skip)(`literal runs${rdiff.note}`, () => {
  const dir = useTempDir();

  forEachEngine((engine) => {
    it('default: cut at 32768, byte-identical to rdiff 2.3.2', async () => {
      await writeFile(dir.file('basis'), BASIS);
      await writeFile(dir.file('new'), NEW);
      const sig = await collect(engine.signature(BASIS));
      await writeFile(dir.file('sig'), sig);
      const r = await runRdiff(['-f', 'delta', dir.file('sig'), dir.file('new'), dir.file('rdelta')]);
      expect(r.code).toBe(0);
      const ours = await collect(engine.delta(sig, NEW));
      expect(sameBytes(ours, await readFile(dir.file('rdelta')))).toBe('same');
      const lengths = literalLengths(ours);
      expect(lengths.slice(0, 4)).toEqual([32768, 32768, 32768, 32768]);
      expect(lengths.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(150_001);
      expect(Math.max(...lengths)).toBe(32768);
    });

    it('a file of no match at all is file + 5 + 3·ceil(file/32768) bytes', async () => {
      const unrelated = randomData(23, 100_000);
      const delta = await collect(engine.delta(await collect(engine.signature(BASIS)), unrelated));
      expect(delta.length).toBe(100_000 + 5 + 3 * Math.ceil(100_000 / 32768));
    });

    it('maxLiteral 65533: cut at 65533 (42 ff fd), and both patches give the new file back', async () => {
      const sig = await collect(engine.signature(BASIS));
      const delta = await collect(engine.delta(sig, NEW, { maxLiteral: 65533 }));
      const lengths = literalLengths(delta);
      expect(lengths.slice(0, 2)).toEqual([65533, 65533]);
      expect(Buffer.from(delta).indexOf(Buffer.from([0x42, 0xff, 0xfd]))).toBeGreaterThan(0);
      expect(sameBytes(await collect(engine.patch(BASIS, delta)), NEW)).toBe('same');
      await writeFile(dir.file('basis'), BASIS);
      await writeFile(dir.file('delta65533'), delta);
      const r = await runRdiff(['-f', 'patch', dir.file('basis'), dir.file('delta65533'), dir.file('out')]);
      expect(r.code).toBe(0);
      expect(sameBytes(await readFile(dir.file('out')), NEW)).toBe('same');
    });

    it('maxLiteral 0 and 2^32 are EPARAM', async () => {
      const sig = await collect(engine.signature(BASIS));
      for (const maxLiteral of [0, 2 ** 32]) {
        const outcome = await collectOutcome(engine.delta(sig, NEW, { maxLiteral }));
        expect(isBackupError(outcome.error, 'EPARAM'), String(outcome.error)).toBe(true);
      }
    });
  });
});
