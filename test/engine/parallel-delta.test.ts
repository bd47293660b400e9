// The parallel delta must write exactly the bytes of the one-thread encoder. Segments here
// are tiny (a few blocks), so every input crosses many boundaries, and the inputs are built
// to make matches straddle them at shifted alignments — the case the stitcher resyncs.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { computeSignature, delta, type Signature } from '../../src/rsync/index.js';
import { parallelDelta } from '../../src/engine/parallel-delta.js';
import { workerPool } from '../../src/engine/worker-pool.js';
import { collect } from '../helpers/streams.js';

function chunked(data: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}

async function expectSame(sig: Signature, data: Uint8Array, segment: number, chunk: number, maxLiteral?: number): Promise<void> {
  const want = await collect(delta(sig, data, { maxLiteral }));
  const got = await collect(parallelDelta(sig, chunked(data, chunk), { maxLiteral }, segment));
  expect(got.equals(want)).toBe(true);
}

const pool = workerPool();
const skipReason = pool ? '' : ' — skipped: no worker pool (one core, IBT_THREADS=1, or dist/ not built: npm run build)';

it.runIf(process.env.CI === 'true')('CI has a worker pool of at least two threads', () => {
  expect(pool?.size).toBeGreaterThanOrEqual(2);
});

describe.skipIf(!pool)(`parallelDelta${skipReason}`, () => {
  it('matches the one-thread encoder on edited, shifted and repetitive data', async () => {
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
        async (basis, edits, blockLength, segment, chunk, maxLiteral, weak) => {
          let next = Buffer.from(basis);
          for (const e of edits) {
            const at = next.length === 0 ? 0 : e.at % (next.length + 1);
            if (e.kind === 'insert') next = Buffer.concat([next.subarray(0, at), e.bytes, next.subarray(at)]);
            else if (e.kind === 'delete') next = Buffer.concat([next.subarray(0, at), next.subarray(at + e.len)]);
            else if (e.kind === 'overwrite') next = Buffer.concat([next.subarray(0, at), e.bytes, next.subarray(at + e.bytes.length)]);
            else next = Buffer.concat([next.subarray(0, at), next.subarray(at, at + e.len), next.subarray(at)]);
          }
          const sig = await computeSignature(basis, { blockLength, strongLength: 8, weak });
          await expectSame(sig, next, segment, chunk, maxLiteral);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('matches on periodic data, where every segment start lands inside a match of another alignment', async () => {
    const unit = Uint8Array.from({ length: 96 }, (_, i) => (i * 37) & 0xff);
    const basis = Buffer.concat(Array.from({ length: 40 }, () => unit));
    const shifted = Buffer.concat([Buffer.from([1, 2, 3]), basis, basis.subarray(17)]);
    for (const blockLength of [32, 64, 96]) {
      const sig = await computeSignature(basis, { blockLength });
      for (const segment of [1, 50, 96, 97, 500]) await expectSame(sig, shifted, segment, 333);
    }
  });

  it('matches on inputs larger than the default segment', async () => {
    const basis = new Uint8Array(12 << 20);
    for (let i = 0; i < basis.length; i++) basis[i] = (Math.imul(i, 2654435761) >>> 23) & 0xff;
    const next = Buffer.concat([basis.subarray(0, 5_000_000), Buffer.from('inserted'), basis.subarray(5_000_000, 9_000_000), basis.subarray(9_100_000)]);
    const sig = await computeSignature(basis);
    const want = await collect(delta(sig, next));
    const got = await collect(parallelDelta(sig, chunked(next, 1 << 20)));
    expect(got.equals(want)).toBe(true);
  });
});
