/**
 * librsync's results reach callers as the same BackupError codes the TypeScript engine
 * throws for the same input: truncated, corrupt and bad-magic signatures (through delta) and
 * deltas (through patch), and bad options, which TypeScript rejects before C sees them.
 * Messages name the input and carry librsync's own explanation.
 *
 * The cases are those where both engines agree with rdiff. (Known difference, reported to
 * the TypeScript engine's owner: a header with an unknown magic and also a block length of
 * 0 or a strong length over 32 is ECORRUPT in rdiff and the native engine, which check the
 * lengths first, and EBADMAGIC in the TypeScript engine.)
 */
import { open, writeFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';
import { jsEngine } from '../../src/engine/js-engine.js';
import { isBackupError } from '../../src/errors.js';
import { randomData } from '../helpers/data.js';
import { collect, collectOutcome, inChunks } from '../helpers/streams.js';
import { useTempDir } from '../helpers/tools.js';
import { describeNative } from './native.js';

const BASIS = randomData(11, 5000);
const NEW = randomData(12, 3000);
const u32 = (v: number) => [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
const header = (magic: number, blockLength: number, strongLength: number) => [...u32(magic), ...u32(blockLength), ...u32(strongLength)];
const RK_BLAKE2 = 0x72730147;
const RK_MD4 = 0x72730146;
const DELTA = [0x72, 0x73, 0x02, 0x36];

const SIGNATURES: { name: string; bytes: number[]; code: string }[] = [
  { name: 'empty signature', bytes: [], code: 'ETRUNCATED' },
  { name: 'signature cut inside its magic', bytes: [0x72, 0x73, 0x01], code: 'ETRUNCATED' },
  { name: 'signature cut inside its header', bytes: header(RK_BLAKE2, 2048, 32).slice(0, 9), code: 'ETRUNCATED' },
  { name: 'a delta magic in a signature', bytes: header(0x72730236, 2048, 32), code: 'EBADMAGIC' },
  { name: 'unknown magic, plausible header', bytes: header(0x01020304, 2048, 32), code: 'EBADMAGIC' },
  { name: 'unknown magic cut inside the header', bytes: [1, 2, 3, 4, 5], code: 'ETRUNCATED' },
  { name: 'block length 0', bytes: header(RK_BLAKE2, 0, 32), code: 'ECORRUPT' },
  { name: 'strong length 33', bytes: header(RK_BLAKE2, 2048, 33), code: 'ECORRUPT' },
  { name: 'MD4 strong length 20', bytes: header(RK_MD4, 2048, 20), code: 'EPARAM' },
  { name: 'record cut inside its strong sum', bytes: [...header(RK_BLAKE2, 2048, 32), 1, 2, 3, 4, 5, 6], code: 'ETRUNCATED' },
];

const DELTAS: { name: string; bytes: number[]; code: string }[] = [
  { name: 'empty delta', bytes: [], code: 'ETRUNCATED' },
  { name: 'a signature magic in a delta', bytes: [...u32(RK_BLAKE2), 0], code: 'EBADMAGIC' },
  { name: 'delta without END', bytes: [...DELTA, 3, 1, 2, 3], code: 'ETRUNCATED' },
  { name: 'delta cut inside literal data', bytes: [...DELTA, 0x41, 200, 1, 2], code: 'ETRUNCATED' },
  { name: 'reserved opcode', bytes: [...DELTA, 0x60, 0], code: 'ECORRUPT' },
  { name: 'zero-length COPY', bytes: [...DELTA, 0x45, 0, 0, 0], code: 'ECORRUPT' },
  { name: 'COPY past the end of the basis', bytes: [...DELTA, 0x46, 0, 0x20, 0x00, 0], code: 'ETRUNCATED' },
];

async function failure(run: () => AsyncIterable<Uint8Array>): Promise<{ code?: string; message: string; bytes: Buffer }> {
  const outcome = await collectOutcome(run());
  const error = outcome.error;
  if (error === undefined) return { message: 'no error', bytes: outcome.bytes };
  expect(isBackupError(error), `not a BackupError: ${String(error)}`).toBe(true);
  return { code: (error as { code: string }).code, message: (error as Error).message, bytes: outcome.bytes };
}

describeNative('native engine: errors map to the TypeScript engine codes', ({ engine, addon }) => {
  const dir = useTempDir();
  const both: [string, Engine][] = [
    ['js', jsEngine],
    ['native', engine],
  ];

  for (const c of SIGNATURES) {
    it(`${c.name}: ${c.code} from delta, whole or one byte a chunk`, async () => {
      const sig = Uint8Array.from(c.bytes);
      for (const [name, e] of both) {
        const whole = await failure(() => e.delta(sig, NEW));
        expect(whole.code, `${name} engine: ${whole.message}`).toBe(c.code);
        const chunked = await failure(() => e.delta(inChunks(sig, [1]), inChunks(NEW, [7])));
        expect(chunked.code, `${name} engine, chunked: ${chunked.message}`).toBe(c.code);
      }
      expect((await failure(() => engine.delta(sig, NEW))).message).toMatch(/^reading the signature: .*\(librsync result \d+\)$/);
    });
  }

  for (const c of DELTAS) {
    it(`${c.name}: ${c.code} from patch, basis in memory or an open file`, async () => {
      const delta = Uint8Array.from(c.bytes);
      const basisPath = dir.file('basis');
      await writeFile(basisPath, BASIS);
      for (const [name, e] of both) {
        const inMemory = await failure(() => e.patch(BASIS, delta));
        expect(inMemory.code, `${name} engine: ${inMemory.message}`).toBe(c.code);
        const handle = await open(basisPath, 'r');
        try {
          const fromFile = await failure(() => e.patch(handle, inChunks(delta, [1])));
          expect(fromFile.code, `${name} engine, file basis: ${fromFile.message}`).toBe(c.code);
          expect(fromFile.bytes.equals(inMemory.bytes), 'same partial output either way').toBe(true);
        } finally {
          await handle.close();
        }
      }
    });
  }

  it('a COPY past the end of the basis says so and keeps the bytes that existed', async () => {
    const delta = Uint8Array.from([...DELTA, 0x46, 0x64, 0x13, 0x88, 0]); // COPY(100, 5000)
    const js = await failure(() => jsEngine.patch(BASIS, delta));
    const native = await failure(() => engine.patch(BASIS, delta));
    expect(native.code).toBe('ETRUNCATED');
    expect(native.message).toMatch(/past the end of the basis/);
    expect(native.bytes.equals(js.bytes)).toBe(true);
    expect(native.bytes.equals(Buffer.from(BASIS.subarray(100)))).toBe(true);
  });

  it('a basis file opened for writing only is an EIO naming the basis', async () => {
    const path = dir.file('write-only');
    await writeFile(path, BASIS);
    const handle = await open(path, 'r');
    const writeOnly = await open(path, 'a');
    try {
      const delta = Uint8Array.from([...DELTA, 0x45, 0, 10, 0]);
      expect((await collect(engine.patch(handle, delta))).length).toBe(10);
      const e = await failure(() => engine.patch(writeOnly, delta));
      expect(e.code).toBe('EIO');
      expect(e.message).toMatch(/^applying the delta: .*reading the basis file: Bad file descriptor/);
    } finally {
      await handle.close();
      await writeOnly.close();
    }
  });

  it('bad options are refused in TypeScript with the same codes, before any job starts', async () => {
    const cases: [string, () => AsyncIterable<Uint8Array>, (e: Engine) => () => AsyncIterable<Uint8Array>][] = [
      ['strong length 33', () => engine.signature(BASIS, { strongLength: 33 }), (e) => () => e.signature(BASIS, { strongLength: 33 })],
      ['MD4 strong length 17', () => engine.signature(BASIS, { strong: 'md4', strongLength: 17 }), (e) => () => e.signature(BASIS, { strong: 'md4', strongLength: 17 })],
      ['negative block length', () => engine.signature(BASIS, { blockLength: -5 }), (e) => () => e.signature(BASIS, { blockLength: -5 })],
      ['unknown weak sum', () => engine.signature(BASIS, { weak: 'adler' as 'rollsum' }), (e) => () => e.signature(BASIS, { weak: 'adler' as 'rollsum' })],
      ['maxLiteral 0', () => engine.delta(Uint8Array.from(header(RK_BLAKE2, 256, 32)), NEW, { maxLiteral: 0 }), (e) => () => e.delta(Uint8Array.from(header(RK_BLAKE2, 256, 32)), NEW, { maxLiteral: 0 })],
      ['a string as input', () => engine.signature('text' as unknown as Uint8Array), (e) => () => e.signature('text' as unknown as Uint8Array)],
    ];
    for (const [name, native, js] of cases) {
      const n = await failure(native);
      const j = await failure(js(jsEngine));
      expect(n.code, `${name}: ${n.message}`).toBe(j.code);
      expect(n.code, name).toMatch(/^EPARAM$/);
    }
    expect(addon.liveJobs()).toBe(0);
  });
});
