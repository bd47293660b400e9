// The parallel signature must write exactly the bytes of the one-thread encoder, whatever
// the block length (stripes are whole blocks) and however the input is chunked.
import { describe, expect, it } from 'vitest';
import { signature } from '../../src/rsync/index.js';
import { parallelSignature, PARALLEL_MIN_BYTES } from '../../src/engine/parallel-signature.js';
import { workerPool } from '../../src/engine/worker-pool.js';
import { collect } from '../helpers/streams.js';
import { loadNativeEngine } from '../../src/engine/native-engine.js';

const pool = workerPool();
const skipReason = pool ? '' : ' — skipped: no worker pool (one core, IBT_THREADS=1, or dist/ not built: npm run build)';

describe.skipIf(!pool)(`parallelSignature${skipReason}`, () => {
  const size = PARALLEL_MIN_BYTES + 777_777;
  const basis = new Uint8Array(size);
  for (let i = 0; i < size; i++) basis[i] = (Math.imul(i, 2654435761) >>> 21) & 0xff;

  it.each([
    [{}],
    [{ blockLength: 1000, strongLength: 8, weak: 'rollsum' as const, strong: 'md4' as const }],
    [{ blockLength: 3 << 20 }],
  ])('matches the one-thread signature with %o', async (options) => {
    const want = await collect(signature(basis, options));
    const chunks = Array.from({ length: Math.ceil(size / 999_999) }, (_, i) => basis.subarray(i * 999_999, (i + 1) * 999_999));
    const got = await collect(parallelSignature(chunks, { ...options, fileSize: size }));
    expect(got.equals(want)).toBe(true);
  });
});

const native = loadNativeEngine().engine;

describe.skipIf(!native)(`native signature in stripes on the libuv pool${native ? '' : ' — skipped: native engine not built'}`, () => {
  it('writes the bytes of one librsync job over the whole basis', async () => {
    const size = PARALLEL_MIN_BYTES + 123_457;
    const basis = new Uint8Array(size);
    for (let i = 0; i < size; i++) basis[i] = (Math.imul(i, 40503) >>> 13) & 0xff;
    const options = { blockLength: 3000, strongLength: 12, weak: 'rollsum' as const };
    const want = await collect(signature(basis, options));
    const got = await collect(native!.signature([basis.subarray(0, 5_000_001), basis.subarray(5_000_001)], { ...options, fileSize: size }));
    expect(got.equals(want)).toBe(true);
  });
});
