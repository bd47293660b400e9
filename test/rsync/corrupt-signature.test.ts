/**
 * Every way a signature can be broken, through each engine's delta and through `rdiff delta`
 * on the same bytes: the error code must be the one whose exit code rdiff gives, and where
 * rdiff accepts the signature (stray bytes, a strong length of 0, a huge block length) the
 * delta must be rdiff's, byte for byte.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { isBackupError, type ErrorCode } from '../../src/errors.js';
import { signature } from '../../src/rsync/signature.js';
import { sameBytes } from '../helpers/bytes.js';
import { randomData, scatteredOverwrites } from '../helpers/data.js';
import { forEachEngine } from '../helpers/engines.js';
import { RDIFF_EXIT, runRdiff } from '../helpers/rdiff.js';
import { collect, collectOutcome, inChunks } from '../helpers/streams.js';
import { requireTool, useTempDir } from '../helpers/tools.js';

const BASIS = randomData(8, 1000);
const NEW = scatteredOverwrites(BASIS, 9, 3);

const u32 = (v: number) => [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
const header = (magic: number, blockLength: number, strongLength: number) => [...u32(magic), ...u32(blockLength), ...u32(strongLength)];
const RK_BLAKE2 = 0x72730147;

interface Case {
  name: string;
  /** The signature bytes, given the real records of BASIS with -b 256 and -S 8 / -S 32. */
  sig: (records8: number[], records32: number[]) => number[];
  /** The error, or undefined when rdiff accepts the signature. */
  code?: ErrorCode;
}

const CASES: Case[] = [
  { name: 'empty file', sig: () => [], code: 'ETRUNCATED' },
  { name: 'inside the magic', sig: () => [0x72, 0x73], code: 'ETRUNCATED' },
  { name: 'inside the header', sig: () => header(RK_BLAKE2, 256, 8).slice(0, 8), code: 'ETRUNCATED' },
  { name: 'one byte short of the header', sig: () => header(RK_BLAKE2, 256, 8).slice(0, 11), code: 'ETRUNCATED' },
  // rdiff reads all 12 header bytes before it looks at the magic.
  { name: 'a delta magic cut inside the header is truncation, not bad magic', sig: () => [0x72, 0x73, 0x02, 0x36, 0, 0], code: 'ETRUNCATED' },
  { name: 'header only (an empty basis)', sig: () => header(RK_BLAKE2, 256, 8) },
  { name: 'header and 3 stray bytes', sig: () => [...header(RK_BLAKE2, 256, 8), 1, 2, 3] },
  { name: 'records and 1 stray byte', sig: (r) => [...header(RK_BLAKE2, 256, 8), ...r, 9] },
  { name: 'records and 3 stray bytes', sig: (r) => [...header(RK_BLAKE2, 256, 8), ...r, 9, 9, 9] },
  // Four stray bytes are a weak sum whose strong sum is missing, which rdiff rejects.
  { name: 'a weak sum with no strong sum after the last record', sig: (r) => [...header(RK_BLAKE2, 256, 8), ...r, 1, 2, 3, 4], code: 'ETRUNCATED' },
  { name: 'inside the strong sum of the first record', sig: (r) => [...header(RK_BLAKE2, 256, 8), ...r.slice(0, 7)], code: 'ETRUNCATED' },
  { name: 'inside the strong sum of the last record', sig: (r) => [...header(RK_BLAKE2, 256, 8), ...r.slice(0, -1)], code: 'ETRUNCATED' },
  { name: 'bad magic (the delta magic)', sig: (r) => [...header(0x72730236, 256, 8), ...r], code: 'EBADMAGIC' },
  { name: 'bad magic (weak nibble 3, strong nibble 8)', sig: (r) => [...header(0x72730138, 256, 8), ...r], code: 'EBADMAGIC' },
  { name: 'block length 0', sig: (r) => [...header(RK_BLAKE2, 0, 8), ...r], code: 'ECORRUPT' },
  { name: 'block length 2^31 (negative in librsync)', sig: (r) => [...header(RK_BLAKE2, 0x80000000, 8), ...r], code: 'ECORRUPT' },
  { name: 'block length 2^32-1', sig: (r) => [...header(RK_BLAKE2, 0xffffffff, 8), ...r], code: 'ECORRUPT' },
  { name: 'block length 2^31-1 (valid)', sig: (r) => [...header(RK_BLAKE2, 0x7fffffff, 8), ...r.slice(0, 12)] },
  { name: 'strong length 33', sig: (r) => [...header(RK_BLAKE2, 256, 33), ...r], code: 'ECORRUPT' },
  { name: 'strong length 2^32-1', sig: (r) => [...header(RK_BLAKE2, 256, 0xffffffff), ...r], code: 'ECORRUPT' },
  { name: 'strong length 17 with MD4', sig: (r) => [...header(0x72730136, 256, 17), ...r], code: 'EPARAM' },
  { name: 'strong length 32 with RabinKarp+MD4', sig: (r) => [...header(0x72730146, 256, 32), ...r], code: 'EPARAM' },
  { name: 'strong length 0 means the full 32 bytes', sig: (_, r32) => [...header(RK_BLAKE2, 256, 0), ...r32] },
];

let records8: number[] = [];
let records32: number[] = [];
beforeAll(async () => {
  records8 = [...(await collect(signature(BASIS, { blockLength: 256, strongLength: 8 }))).subarray(12)];
  records32 = [...(await collect(signature(BASIS, { blockLength: 256, strongLength: 32 }))).subarray(12)];
});

const rdiff = requireTool('rdiff');

describe.skipIf(rdiff.skip)(`corrupt signatures${rdiff.note}`, () => {
  const dir = useTempDir();
  const rdiffDeltas = new Map<string, { code: number; delta: Buffer }>();

  beforeAll(async () => {
    await writeFile(dir.file('new'), NEW);
    for (const [i, c] of CASES.entries()) {
      await writeFile(dir.file(`sig${i}`), Uint8Array.from(c.sig(records8, records32)));
      const r = await runRdiff(['-f', 'delta', dir.file(`sig${i}`), dir.file('new'), dir.file(`delta${i}`)]);
      rdiffDeltas.set(c.name, { code: r.code, delta: r.code === 0 ? await readFile(dir.file(`delta${i}`)) : Buffer.alloc(0) });
    }
  });

  it.each(CASES)('rdiff delta: $name', (c) => {
    expect(rdiffDeltas.get(c.name)!.code).toBe(c.code ? RDIFF_EXIT[c.code] : 0);
  });

  forEachEngine((engine) => {
    it.each(CASES)('$name', { timeout: 10_000 }, async (c) => {
      const sig = Uint8Array.from(c.sig(records8, records32));
      for (const chunking of [[sig.length || 1], [1], [5, 3]]) {
        const outcome = await collectOutcome(engine.delta(inChunks(sig, chunking), NEW));
        if (c.code) {
          expect(isBackupError(outcome.error, c.code), `${String(outcome.error)} (chunks ${chunking})`).toBe(true);
          expect((outcome.error as { exitCode: number }).exitCode).toBe(RDIFF_EXIT[c.code]);
        } else {
          expect(outcome.error, `chunks ${chunking}`).toBeUndefined();
          expect(sameBytes(outcome.bytes, rdiffDeltas.get(c.name)!.delta), `chunks ${chunking}`).toBe('same');
        }
      }
    });
  });
});
