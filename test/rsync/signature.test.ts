import { readFile, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { createStrongHasher } from '../../src/rsync/strong-sum.js';
import { signatureParams } from '../../src/rsync/format.js';
import { rabinKarpDigest } from '../../src/rsync/rabin-karp.js';
import { computeSignature, parseSignature, serializeSignature, signature, SignatureEncoder } from '../../src/rsync/signature.js';
import { sameBytes } from '../helpers/bytes.js';
import { Prng, randomData } from '../helpers/data.js';
import { forEachEngine } from '../helpers/engines.js';
import { runRdiff } from '../helpers/rdiff.js';
import { collect } from '../helpers/streams.js';
import { requireTool, useTempDir } from '../helpers/tools.js';

describe('signature layout', () => {
  const basis = randomData(51, 1000);

  it('an empty basis is the 12-byte header alone', async () => {
    const sig = await collect(signature(new Uint8Array(0)));
    expect(sig.toString('hex')).toBe('72730147' + '00000100' + '00000020');
  });

  it('has one record per block, the last one over the short block, strong sums truncated on the left', async () => {
    const sig = await computeSignature(basis, { blockLength: 300, strongLength: 5 });
    expect(sig.count).toBe(4);
    expect(sig.weakSums[3]).toBe(rabinKarpDigest(basis, 900, 1000));
    const full = (await createStrongHasher('blake2')).digest(basis, 900, 1000);
    expect([...sig.strongSums.subarray(15, 20)]).toEqual([...full.subarray(0, 5)]);
  });

  it('serializeSignature(parseSignature(bytes)) gives the bytes back', async () => {
    for (const options of [{}, { weak: 'rollsum' as const, strong: 'md4' as const, blockLength: 7, strongLength: 3 }]) {
      const bytes = await collect(signature(basis, options));
      expect(sameBytes(serializeSignature(await parseSignature(bytes)), bytes)).toBe('same');
    }
  });

  it('SignatureEncoder output does not depend on how the basis is pushed', async () => {
    const params = signatureParams({ fileSize: basis.length, blockLength: 64 });
    const whole = new SignatureEncoder(params, await createStrongHasher('blake2'));
    const expected = Buffer.concat([whole.push(basis), whole.end()]);
    const rng = new Prng(52);
    for (let round = 0; round < 20; round++) {
      const enc = new SignatureEncoder(params, await createStrongHasher('blake2'));
      const parts: Uint8Array[] = [];
      for (let at = 0; at < basis.length; ) {
        const n = rng.int(150);
        parts.push(enc.push(basis.subarray(at, at + n)));
        at += n;
      }
      parts.push(enc.end());
      expect(sameBytes(Buffer.concat(parts), expected)).toBe('same');
      expect(enc.blocks).toBe(16);
    }
  });
});

const rdiff = requireTool('rdiff');

describe.skipIf(rdiff.skip)(`signatures of long blocks${rdiff.note}`, () => {
  const dir = useTempDir();

  forEachEngine((engine) => {
    // The rollsum's s2 outgrew a double's exact range on blocks of more than ~8 MiB.
    it.each([
      ['-R rollsum', ['-R', 'rollsum'], 'rollsum' as const],
      ['RabinKarp', [], 'rabinkarp' as const],
    ])('%s with -b 16777216 over 16 MiB + 5 of 0xff equals rdiff', async (_, args, weak) => {
      const basis = new Uint8Array((16 << 20) + 5).fill(0xff);
      await writeFile(dir.file('ff'), basis);
      const r = await runRdiff(['-f', ...args, '-b', '16777216', 'signature', dir.file('ff'), dir.file('ff.sig')]);
      expect(r.code).toBe(0);
      const ours = await collect(engine.signature(basis, { weak, blockLength: 16777216 }));
      expect(sameBytes(ours, await readFile(dir.file('ff.sig')))).toBe('same');
    });
  });
});
