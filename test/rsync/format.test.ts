import { readFile, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { isqrt, minStrongLength, recommendedBlockLength, signatureMagic, signatureParams } from '../../src/rsync/format.js';
import { isBackupError } from '../../src/errors.js';
import { randomData } from '../helpers/data.js';
import { runRdiff } from '../helpers/rdiff.js';
import { requireTool, useTempDir } from '../helpers/tools.js';

const MiB = 2 ** 20;

// `src/rsync/README.md` §2.1: [size, block_len, blocks, min strong_len, default signature size].
const WORKED: [number, number, number, number, number][] = [
  [0, 256, 0, 5, 12],
  [1000, 256, 4, 6, 156],
  [65536, 256, 256, 6, 9228],
  [147455, 256, 576, 7, 20748],
  [147456, 384, 384, 6, 13836],
  [MiB, 1024, 1024, 7, 36876],
  [100_000_000, 9984, 10017, 7, 360624],
  [512 * MiB, 23168, 23173, 8, 834240],
  [1024 * MiB, 32768, 32768, 8, 1179660],
  [4096 * MiB, 65536, 65536, 8, 2359308],
];

describe('signatureParams worked values (rs_sig_args)', () => {
  it.each(WORKED)('basis of %i bytes', (size, blockLength, blocks, min, sigSize) => {
    const def = signatureParams({ fileSize: size });
    expect(def).toEqual({ magic: 0x72730147, weak: 'rabinkarp', strong: 'blake2', blockLength, strongLength: 32 });
    expect(Math.ceil(size / blockLength)).toBe(blocks);
    expect(12 + blocks * (4 + def.strongLength)).toBe(sigSize);
    expect(signatureParams({ fileSize: size, strongLength: -1 }).strongLength).toBe(min);
  });

  it('unknown size (stdin): 2048-byte blocks, minimum strong length 12', () => {
    expect(signatureParams().blockLength).toBe(2048);
    expect(signatureParams({ fileSize: -1, strongLength: -1 }).strongLength).toBe(12);
  });

  it('MD4 maximum is 16, BLAKE2 maximum 32', () => {
    expect(signatureParams({ strong: 'md4', fileSize: 10 }).strongLength).toBe(16);
    expect(signatureParams({ strong: 'md4', fileSize: 10, strongLength: 16 }).strongLength).toBe(16);
    expect(signatureParams({ strong: 'blake2', fileSize: 10, strongLength: 32 }).strongLength).toBe(32);
  });

  it('an explicit block length is kept and feeds the minimum strong length', () => {
    const p = signatureParams({ fileSize: 1_000_000, blockLength: 100, strongLength: -1 });
    expect(p.blockLength).toBe(100);
    expect(p.strongLength).toBe(minStrongLength(1_000_000, 100));
    expect(p.strongLength).toBe(2 + Math.floor((24 + 13 + 7) / 8));
  });

  it('a strong length below the minimum is allowed (rdiff only warns)', () => {
    expect(signatureParams({ fileSize: 1000, strongLength: 1 }).strongLength).toBe(1);
  });

  it('magics: rollsum 0x…3X, RabinKarp 0x…4X, MD4 0x…6, BLAKE2 0x…7', () => {
    expect(signatureMagic('rollsum', 'md4')).toBe(0x72730136);
    expect(signatureMagic('rollsum', 'blake2')).toBe(0x72730137);
    expect(signatureMagic('rabinkarp', 'md4')).toBe(0x72730146);
    expect(signatureMagic('rabinkarp', 'blake2')).toBe(0x72730147);
  });
});

describe('signatureParams errors', () => {
  it.each([
    ['strong length 33 with BLAKE2', { strongLength: 33 }],
    ['strong length 17 with MD4', { strong: 'md4' as const, strongLength: 17 }],
    ['strong length -2', { strongLength: -2 }],
    ['negative block length', { blockLength: -1 }],
    ['fractional block length', { blockLength: 2.5 }],
    ['unknown weak sum', { weak: 'adler' as never }],
  ])('%s is EPARAM', (_, options) => {
    let caught: unknown;
    try {
      signatureParams({ fileSize: 1000, ...options });
    } catch (e) {
      caught = e;
    }
    expect(isBackupError(caught, 'EPARAM'), String(caught)).toBe(true);
  });
});

describe('isqrt and recommendedBlockLength', () => {
  it('isqrt is exact around perfect squares up to 2^52', () => {
    for (const r of [1, 2, 3, 255, 256, 65535, 65536, 2 ** 26 - 1, 2 ** 26]) {
      expect(isqrt(r * r)).toBe(r);
      expect(isqrt(r * r - 1)).toBe(r - 1);
      expect(isqrt(r * r + 2 * r)).toBe(r);
    }
  });

  it('rounds √size down to a multiple of 128, 256 up to 64 KiB', () => {
    expect(recommendedBlockLength(65536)).toBe(256);
    expect(recommendedBlockLength(65537)).toBe(256);
    expect(recommendedBlockLength(128 * 128 * 9)).toBe(384);
    expect(recommendedBlockLength(128 * 128 * 9 - 1)).toBe(256);
  });
});

const rdiff = requireTool('rdiff');

describe.skipIf(rdiff.skip)(`signatureParams agrees with rdiff's signature header${rdiff.note}`, () => {
  const dir = useTempDir();
  const sizes = [0, 1, 1000, 65536, 65537, 147455, 147456, MiB + 7];
  const options: [string[], { strong?: 'md4'; strongLength?: number }][] = [
    [[], {}],
    [['-S', '-1'], { strongLength: -1 }],
    [['-H', 'md4', '-S', '-1'], { strong: 'md4', strongLength: -1 }],
    [['-S', '3'], { strongLength: 3 }],
  ];
  for (const size of sizes) {
    it(`basis of ${size} bytes`, async () => {
      const basis = dir.file(`basis-${size}`);
      await writeFile(basis, randomData(size, size));
      for (const [args, opts] of options) {
        const sig = dir.file(`sig-${size}`);
        const r = await runRdiff(['-f', ...args, 'signature', basis, sig]);
        expect(r.code).toBe(0);
        const header = (await readFile(sig)).subarray(0, 12);
        const p = signatureParams({ fileSize: size, ...opts });
        expect([header.readUInt32BE(0), header.readUInt32BE(4), header.readUInt32BE(8)], args.join(' ')).toEqual([
          p.magic,
          p.blockLength,
          p.strongLength,
        ]);
      }
    });
  }

  it.each([
    [['-S', '33'], { strongLength: 33 }],
    [['-H', 'md4', '-S', '17'], { strong: 'md4' as const, strongLength: 17 }],
    [['-S', '-2'], { strongLength: -2 }],
  ])('rdiff %j exits 108, as EPARAM maps to', async (args, opts) => {
    const basis = dir.file('basis-params');
    await writeFile(basis, randomData(1, 1000));
    const r = await runRdiff(['-f', ...args, 'signature', basis, dir.file('sig-params')]);
    let code = 0;
    try {
      signatureParams({ fileSize: 1000, ...opts });
    } catch (e) {
      code = isBackupError(e) ? e.exitCode : -1;
    }
    expect(code).toBe(108);
    expect(r.code).toBe(code);
  });
});
