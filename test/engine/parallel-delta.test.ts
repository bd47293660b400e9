// The parallel delta must write exactly the bytes of the one-thread encoder, whichever scans
// the segments: the TypeScript engine's worker threads, or librsync jobs on the libuv pool
// (the native engine's delta). Segments here are tiny (a few blocks), so every input crosses
// many boundaries, and the inputs are built to make matches straddle them at shifted
// alignments — the case the stitcher resyncs.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { computeSignature, delta, serializeSignature, type Signature } from '../../src/rsync/index.js';
import { parallelDelta, poolScanner, stitchedDelta, type SegmentScanner } from '../../src/engine/parallel-delta.js';
import { adaptiveScanner, librsyncScanner } from '../../src/engine/native-delta.js';
import { workerPool } from '../../src/engine/worker-pool.js';
import { loadAddon } from '../../src/io/native-addon.js';
import { collect } from '../helpers/streams.js';
import { onCi } from '../helpers/tools.js';

function chunked(data: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}

/** A parallel delta of `data` in `segment`-byte segments, the first `localBytes` scanned on the calling thread. */
type Run = (sig: Signature, data: Uint8Array[], maxLiteral: number | undefined, segment: number | undefined, localBytes: number) => AsyncIterable<Uint8Array>;

const pool = workerPool();
const addon = loadAddon().addon;

const scanners: [string, Run | undefined, string][] = [
  [
    'worker threads',
    pool && ((sig, data, maxLiteral, segment, localBytes) => parallelDelta(sig, data, { maxLiteral }, segment, localBytes)),
    'no worker pool (one core, IBT_THREADS=1, or dist/ not built: npm run build)',
  ],
  [
    'librsync on the libuv pool',
    addon &&
      ((sig, data, maxLiteral, segment, localBytes) =>
        stitchedDelta(sig, data, { maxLiteral }, librsyncScanner(addon, serializeSignature(sig), 2), { segmentBytes: segment, localBytes, tailToScanner: true })),
    'the native addon is not built (npm run build:native)',
  ],
];

it.runIf(onCi)('CI has a worker pool of at least two threads and the native addon', () => {
  expect(pool?.size).toBeGreaterThanOrEqual(2);
  expect(addon).toBeDefined();
});

describe.each(scanners)('parallel delta, segments scanned by %s', (_, run, why) => {
  async function expectSame(sig: Signature, data: Uint8Array, segment: number | undefined, chunk: number, maxLiteral?: number, localBytes = 0): Promise<void> {
    const want = await collect(delta(sig, data, { maxLiteral }));
    const got = await collect(run!(sig, chunked(data, chunk), maxLiteral, segment, localBytes));
    expect(got.equals(want)).toBe(true);
  }

  it.skipIf(!run)(`matches the one-thread encoder on edited, shifted and repetitive data${run ? '' : ` — skipped: ${why}`}`, async () => {
    const seedBytes = fc.uint8Array({ minLength: 1, maxLength: 64 });
    const edit = fc.record({
      at: fc.nat(),
      kind: fc.constantFrom('insert', 'delete', 'overwrite', 'repeat'),
      bytes: seedBytes,
      len: fc.integer({ min: 1, max: 300 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ minLength: 0, maxLength: 6000 }),
          fc
            .tuple(fc.uint8Array({ minLength: 1, maxLength: 100 }), fc.integer({ min: 1, max: 200 }))
            .map(([unit, times]) => new Uint8Array(Buffer.concat(Array.from({ length: times }, () => unit)))),
        ),
        fc.array(edit, { maxLength: 8 }),
        fc.constantFrom(1, 7, 32, 64, 100),
        fc.integer({ min: 1, max: 700 }),
        fc.integer({ min: 1, max: 900 }),
        fc.constantFrom(undefined, 40, 65533),
        fc.constantFrom('rabinkarp', 'rollsum'),
        fc.oneof(fc.constant(0), fc.nat(5000)),
        async (basis, edits, blockLength, segment, chunk, maxLiteral, weak, localBytes) => {
          let next = Buffer.from(basis);
          for (const e of edits) {
            const at = next.length === 0 ? 0 : e.at % (next.length + 1);
            if (e.kind === 'insert') next = Buffer.concat([next.subarray(0, at), e.bytes, next.subarray(at)]);
            else if (e.kind === 'delete') next = Buffer.concat([next.subarray(0, at), next.subarray(at + e.len)]);
            else if (e.kind === 'overwrite') next = Buffer.concat([next.subarray(0, at), e.bytes, next.subarray(at + e.bytes.length)]);
            else next = Buffer.concat([next.subarray(0, at), next.subarray(at, at + e.len), next.subarray(at)]);
          }
          const sig = await computeSignature(basis, { blockLength, strongLength: 8, weak });
          if (sig.count === 0) return;
          await expectSame(sig, next, segment, chunk, maxLiteral, localBytes);
        },
      ),
      { numRuns: 300 },
    );
  });

  it.skipIf(!run)('matches on periodic data, where every segment start lands inside a match of another alignment', async () => {
    const unit = Uint8Array.from({ length: 96 }, (_, i) => (i * 37) & 0xff);
    const basis = Buffer.concat(Array.from({ length: 40 }, () => unit));
    const shifted = Buffer.concat([Buffer.from([1, 2, 3]), basis, basis.subarray(17)]);
    for (const blockLength of [32, 64, 96]) {
      const sig = await computeSignature(basis, { blockLength });
      for (const segment of [1, 50, 96, 97, 500]) await expectSame(sig, shifted, segment, 333);
    }
  });

  it.skipIf(!run)('matches on inputs larger than the default segment, and when the first segments are scanned here', async () => {
    const basis = new Uint8Array(12 << 20);
    for (let i = 0; i < basis.length; i++) basis[i] = (Math.imul(i, 2654435761) >>> 23) & 0xff;
    const next = Buffer.concat([basis.subarray(0, 5_000_000), Buffer.from('inserted'), basis.subarray(5_000_000, 9_000_000), basis.subarray(9_100_000)]);
    const sig = await computeSignature(basis);
    await expectSame(sig, next, undefined, 1 << 20);
    await expectSame(sig, next, undefined, 1 << 20, undefined, 6 << 20);
  });
});

describe.skipIf(!pool || !addon)('the native engine’s adaptive scan', () => {
  /** `scanner`, counting the segments it is given. */
  function counted(scanner: SegmentScanner): SegmentScanner & { segments: number } {
    const c = {
      segments: 0,
      concurrency: scanner.concurrency,
      scan: (...args: Parameters<SegmentScanner['scan']>) => {
        c.segments++;
        return scanner.scan(...args);
      },
      close: () => scanner.close(),
    };
    return c;
  }

  // librsync scans matching data fastest and the threads unmatched data: a file whose second
  // half changed throughout must be scanned by both, one that matches by librsync alone.
  it('gives matching segments to librsync and unmatched ones to the threads, with the one-thread bytes', async () => {
    const basis = new Uint8Array(3 << 20);
    for (let i = 0; i < basis.length; i++) basis[i] = (Math.imul(i, 2654435761) >>> 23) & 0xff;
    const sig = await computeSignature(basis, { blockLength: 1024 });
    const noise = Uint8Array.from({ length: 1 << 20 }, (_, i) => (Math.imul(i + 7, 40503) >>> 7) & 0xff);
    for (const [next, bothUsed] of [
      [Buffer.concat([basis.subarray(0, 2 << 20), noise, noise]), true],
      [Buffer.concat([basis.subarray(5), basis.subarray(0, 1 << 20)]), false],
    ] as const) {
      const native = counted(librsyncScanner(addon!, serializeSignature(sig), 2));
      const threads = counted(poolScanner(sig, 64 << 10));
      const got = await collect(stitchedDelta(sig, chunked(next, 100_000), {}, adaptiveScanner(native, threads), { segmentBytes: 64 << 10, tailToScanner: true }));
      expect(got.equals(await collect(delta(sig, next)))).toBe(true);
      expect(native.segments).toBeGreaterThan(0);
      expect(threads.segments > 0).toBe(bothUsed);
    }
  });
});
