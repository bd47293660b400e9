/**
 * A basis whose size is not known in advance (rdiff reading a pipe): rdiff then uses
 * 2048-byte blocks and a minimum strong length of 12. A stream without `fileSize` must give
 * the same signature as `rdiff signature` of stdin, and `fileSize` must give that of a file.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { sameBytes } from '../helpers/bytes.js';
import { logText } from '../helpers/data.js';
import { forEachEngine } from '../helpers/engines.js';
import { runRdiff } from '../helpers/rdiff.js';
import { collect, randomChunks } from '../helpers/streams.js';
import { requireTool, useTempDir } from '../helpers/tools.js';

const BASIS = logText(31, 300_001);

const rdiff = requireTool('rdiff');

describe.skipIf(rdiff.skip)(`signatures of a basis of unknown size${rdiff.note}`, () => {
  const dir = useTempDir();

  forEachEngine((engine) => {
    it.each([
      [[], {}],
      [['-S', '-1'], { strongLength: -1 }],
      [['-R', 'rollsum', '-H', 'md4', '-S', '-1'], { weak: 'rollsum' as const, strong: 'md4' as const, strongLength: -1 }],
    ])('rdiff %j reading stdin', async (args, options) => {
      const r = await runRdiff([...args, 'signature', '-', '-'], { input: BASIS });
      expect(r.code).toBe(0);
      expect(r.stdout.readUInt32BE(4)).toBe(2048);
      const ours = await collect(engine.signature(randomChunks(BASIS, 32), options));
      expect(sameBytes(ours, r.stdout)).toBe('same');
    });

    it('a stream with fileSize gives the signature of a file', async () => {
      await writeFile(dir.file('basis'), BASIS);
      const r = await runRdiff(['-f', '-S', '-1', 'signature', dir.file('basis'), dir.file('sig')]);
      expect(r.code).toBe(0);
      const ours = await collect(engine.signature(randomChunks(BASIS, 33), { fileSize: BASIS.length, strongLength: -1 }));
      expect(sameBytes(ours, await readFile(dir.file('sig')))).toBe('same');
    });

    it('rdiff delta reading the new file from stdin gives the same delta', async () => {
      const sig = await collect(engine.signature(BASIS.subarray(1000)));
      await writeFile(dir.file('sig2'), sig);
      const r = await runRdiff(['delta', dir.file('sig2'), '-', '-'], { input: BASIS });
      expect(r.code).toBe(0);
      expect(sameBytes(await collect(engine.delta(sig, randomChunks(BASIS, 34))), r.stdout)).toBe('same');
    });
  });
});
