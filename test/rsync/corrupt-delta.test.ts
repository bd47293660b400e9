/**
 * Every way a delta can be broken, through each engine's patch and through `rdiff patch` on
 * the same bytes: the error code must be the one whose exit code rdiff gives, a failed patch
 * must have produced exactly the bytes that did exist (rdiff's partial output is a prefix of
 * them), and nothing may hang or end short without an error. Each case runs with the basis
 * in memory and the delta whole, and with the basis as an open file and the delta one byte a
 * chunk, so truncation is also detected across chunk boundaries.
 */
import { open, readFile, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { isBackupError, type ErrorCode } from '../../src/errors.js';
import { sameBytes } from '../helpers/bytes.js';
import { randomData } from '../helpers/data.js';
import { forEachEngine } from '../helpers/engines.js';
import { RDIFF_EXIT, runRdiff } from '../helpers/rdiff.js';
import { collectOutcome, inChunks } from '../helpers/streams.js';
import { requireTool, useTempDir } from '../helpers/tools.js';

const BASIS = randomData(7, 100);
const MAGIC = [0x72, 0x73, 0x02, 0x36];
const ascii = (s: string) => [...new TextEncoder().encode(s)];
const u64 = (hi: number, lo: number) => [hi >>> 24, (hi >>> 16) & 0xff, (hi >>> 8) & 0xff, hi & 0xff, lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff];

interface Case {
  name: string;
  delta: number[];
  /** The error, or undefined when the delta is valid. */
  code?: ErrorCode;
  /** The complete output of a valid delta, or what must be written before the error. */
  output: Uint8Array;
  /** rdiff's exit codes when they depend on the file system rather than the delta. */
  rdiffExits?: number[];
}

const none = new Uint8Array(0);
const CASES: Case[] = [
  { name: 'empty file (inside the magic)', delta: [], code: 'ETRUNCATED', output: none },
  { name: 'three bytes of magic', delta: MAGIC.slice(0, 3), code: 'ETRUNCATED', output: none },
  { name: 'bad magic (a signature magic)', delta: [0x72, 0x73, 0x01, 0x36, 0], code: 'EBADMAGIC', output: none },
  { name: 'magic only, no END', delta: MAGIC, code: 'ETRUNCATED', output: none },
  { name: 'literal, then no END', delta: [...MAGIC, 3, ...ascii('abc')], code: 'ETRUNCATED', output: Uint8Array.from(ascii('abc')) },
  { name: 'inside literal data', delta: [...MAGIC, 5, ...ascii('abc')], code: 'ETRUNCATED', output: Uint8Array.from(ascii('abc')) },
  { name: 'inside a LITERAL_N1 length', delta: [...MAGIC, 0x41], code: 'ETRUNCATED', output: none },
  { name: 'inside a LITERAL_N2 length', delta: [...MAGIC, 0x42, 0x01], code: 'ETRUNCATED', output: none },
  { name: 'inside a COPY length', delta: [...MAGIC, 0x45, 0x00], code: 'ETRUNCATED', output: none },
  { name: 'inside a COPY_N4_N4 offset', delta: [...MAGIC, 0x4f, 0, 0], code: 'ETRUNCATED', output: none },
  { name: 'reserved opcode 0x55', delta: [...MAGIC, 0x55, 0], code: 'ECORRUPT', output: none },
  { name: 'reserved opcode 0xff after a literal', delta: [...MAGIC, 2, 1, 2, 0xff, 0], code: 'ECORRUPT', output: Uint8Array.of(1, 2) },
  { name: 'zero-length LITERAL_N1', delta: [...MAGIC, 0x41, 0, 0], code: 'ECORRUPT', output: none },
  { name: 'zero-length LITERAL_N4', delta: [...MAGIC, 0x43, 0, 0, 0, 0, 0], code: 'ECORRUPT', output: none },
  { name: 'zero-length COPY', delta: [...MAGIC, 0x45, 0, 0, 0], code: 'ECORRUPT', output: none },
  { name: 'COPY offset of 2^63', delta: [...MAGIC, 0x51, ...u64(0x80000000, 0), 1, 0], code: 'ECORRUPT', output: none },
  { name: 'LITERAL_N8 length of 2^63', delta: [...MAGIC, 0x44, ...u64(0x80000000, 1), 1, 2, 0], code: 'ECORRUPT', output: none },
  { name: 'COPY length of 2^63', delta: [...MAGIC, 0x48, 0, ...u64(0x80000000, 1), 0], code: 'ECORRUPT', output: none },
  { name: 'COPY past the end of the basis', delta: [...MAGIC, 0x45, 90, 20, 0], code: 'ETRUNCATED', output: BASIS.subarray(90) },
  { name: 'COPY entirely beyond the basis', delta: [...MAGIC, 0x46, 200, 0, 10, 0], code: 'ETRUNCATED', output: none },
  { name: 'COPY one byte too long', delta: [...MAGIC, 0x45, 0, 101, 0], code: 'ETRUNCATED', output: BASIS },
  // Node reads at the current file position when a position is not a safe integer, so an
  // unguarded offset of 2^53 silently copied the basis's first bytes.
  { name: 'COPY offset 2^53 from a file is past the end, never a read at the file position', delta: [...MAGIC, 0x51, ...u64(0x00200000, 0), 1, 0], code: 'ETRUNCATED', output: none, rdiffExits: [100, 103] },
  // rdiff's seek fails (exit 100) past the file system's largest file (ext4: 2^44).
  { name: 'COPY offset 2^62', delta: [...MAGIC, 0x51, ...u64(0x40000000, 0), 1, 0], code: 'ETRUNCATED', output: none, rdiffExits: [100, 103] },
  { name: 'COPY length 2^60', delta: [...MAGIC, 0x48, 50, ...u64(0x10000000, 0), 0], code: 'ETRUNCATED', output: BASIS.subarray(50) },
  { name: 'LITERAL_N8 length 2^60', delta: [...MAGIC, 0x44, ...u64(0x10000000, 0), 1, 2, 0], code: 'ETRUNCATED', output: Uint8Array.of(1, 2, 0) },
  { name: 'bytes after END are ignored', delta: [...MAGIC, 3, ...ascii('abc'), 0, ...ascii('garbage')], output: Uint8Array.from(ascii('abc')) },
  { name: 'a second END after END', delta: [...MAGIC, 0, 0], output: none },
  { name: 'LITERAL_N8 (never emitted, still valid)', delta: [...MAGIC, 0x44, ...u64(0, 2), 7, 8, 0], output: Uint8Array.of(7, 8) },
  { name: 'COPY_N8_N8 (never emitted, still valid)', delta: [...MAGIC, 0x54, ...u64(0, 95), ...u64(0, 5), 0], output: BASIS.subarray(95) },
  { name: 'COPY of the whole basis, exactly', delta: [...MAGIC, 0x45, 0, 100, 0], output: BASIS },
  {
    name: 'overlapping and backward COPYs',
    delta: [...MAGIC, 0x45, 50, 10, 0x45, 45, 10, 0x45, 0, 1, 0],
    output: Uint8Array.from([...BASIS.subarray(50, 60), ...BASIS.subarray(45, 55), BASIS[0]!]),
  },
];

const rdiff = requireTool('rdiff');

describe.skipIf(rdiff.skip)(`rdiff patch exits as our error codes say${rdiff.note}`, () => {
  const dir = useTempDir();
  it.each(CASES)('$name', async (c) => {
    await writeFile(dir.file('basis'), BASIS);
    await writeFile(dir.file('delta'), Uint8Array.from(c.delta));
    const r = await runRdiff(['-f', 'patch', dir.file('basis'), dir.file('delta'), dir.file('out')]);
    expect(c.rdiffExits ?? [c.code ? RDIFF_EXIT[c.code] : 0], r.stderr).toContain(r.code);
    const out = await readFile(dir.file('out'));
    if (c.code) expect(sameBytes(out, c.output.subarray(0, out.length)), 'rdiff partial output').toBe('same');
    else expect(sameBytes(out, c.output)).toBe('same');
  });
});

describe('corrupt deltas', () => {
  forEachEngine((engine) => {
    const dir = useTempDir();
    describe.each([
      ['basis in memory, whole delta', false],
      ['basis as an open file, delta one byte a chunk', true],
    ])('%s', (_, fromFile) => {
      it.each(CASES)('$name', { timeout: 10_000 }, async (c) => {
        const bytes = Uint8Array.from(c.delta);
        let outcome;
        if (fromFile) {
          await writeFile(dir.file('basis'), BASIS);
          const handle = await open(dir.file('basis'));
          try {
            outcome = await collectOutcome(engine.patch(handle, inChunks(bytes, [1])));
          } finally {
            await handle.close();
          }
        } else {
          outcome = await collectOutcome(engine.patch(BASIS, bytes));
        }
        if (!c.code) {
          expect(outcome.error).toBeUndefined();
          expect(sameBytes(outcome.bytes, c.output)).toBe('same');
          return;
        }
        expect(isBackupError(outcome.error, c.code), String(outcome.error)).toBe(true);
        expect((outcome.error as { exitCode: number }).exitCode).toBe(RDIFF_EXIT[c.code]);
        // librsync, like rdiff, may still hold what it had produced when it fails; the
        // TypeScript engine promises to hand out every byte that did exist.
        const want = engine.name === 'js' ? c.output : c.output.subarray(0, outcome.bytes.length);
        expect(sameBytes(outcome.bytes, want), 'output before the error').toBe('same');
      });
    });
  });
});
