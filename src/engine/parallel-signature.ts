/**
 * The TypeScript engine's signature on all cores: stripes computed by the worker pool (see
 * `striped-signature.ts`). Small inputs, and machines without a pool, use the calling thread;
 * so do inputs under 32 MiB while the pool is not running yet (starting it would cost more).
 */
import { knownLength, type ByteSource } from '../rsync/byte-source.js';
import { signatureParams } from '../rsync/format.js';
import { signature, type SignatureOptions } from '../rsync/signature.js';
import { PARALLEL_MIN_BYTES, stripedSignature } from './striped-signature.js';
import { COLD_START_BYTES, workerPool, workerPoolRunning } from './worker-pool.js';

export { PARALLEL_MIN_BYTES };

/** Like {@link signature}, computed by the worker pool when the basis is large enough. */
export async function* parallelSignature(basis: ByteSource, options: SignatureOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
  const fileSize = options.fileSize ?? knownLength(basis);
  // A pool not yet running is started only for an input that pays for its start-up.
  const threshold = workerPoolRunning() ? PARALLEL_MIN_BYTES : Math.max(PARALLEL_MIN_BYTES, COLD_START_BYTES);
  const pool = fileSize >= threshold ? workerPool() : undefined;
  if (!pool) {
    yield* signature(basis, { ...options, fileSize });
    return;
  }
  const params = signatureParams({ ...options, fileSize });
  yield* stripedSignature(basis, params, {
    concurrency: pool.size,
    allocate: (size) => new Uint8Array(pool.takeBuffer(size)),
    records: async (stripe) => {
      const data = stripe.buffer as ArrayBuffer;
      const reply = await pool.request(pool.leastLoaded(), { type: 'signature', params, data, length: stripe.length }, [data]);
      return (reply as { records: Uint8Array }).records;
    },
  });
}
