/**
 * Signatures on all cores. The basis is cut into stripes of whole blocks (about 4 MiB);
 * workers compute each stripe's records while the calling thread reads the next stripes,
 * and the records are written in stripe order. The result is the same bytes as the one-thread
 * encoder, since records depend only on each block's bytes.
 */
import { chunksOf, knownLength, type ByteSource } from '../rsync/byte-source.js';
import { signatureParams } from '../rsync/format.js';
import { signature, signatureHeader, type SignatureOptions } from '../rsync/signature.js';
import { OrderedJobs } from './ordered-jobs.js';
import { workerPool } from './worker-pool.js';

const STRIPE = 4 << 20;
/** Below this size the threads cost more than they save. */
export const PARALLEL_MIN_BYTES = 16 << 20;

/** Like {@link signature}, computed by the worker pool when the basis is large enough. */
export async function* parallelSignature(basis: ByteSource, options: SignatureOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
  const fileSize = options.fileSize ?? knownLength(basis);
  const pool = fileSize >= PARALLEL_MIN_BYTES ? workerPool() : undefined;
  if (!pool) {
    yield* signature(basis, { ...options, fileSize });
    return;
  }
  const params = signatureParams({ ...options, fileSize });
  const stripe = params.blockLength * Math.max(1, Math.floor(STRIPE / params.blockLength));
  const jobs = new OrderedJobs<Uint8Array>(2 * pool.size);
  const run = (data: ArrayBuffer, length: number): void => {
    jobs.add(
      pool.request(pool.leastLoaded(), { type: 'signature', params, data, length }, [data]).then(
        (reply) => (reply as { records: Uint8Array }).records,
      ),
    );
  };
  yield signatureHeader(params);
  let fill = new Uint8Array(pool.takeBuffer(stripe));
  let len = 0;
  for await (const chunk of chunksOf(basis)) {
    let at = 0;
    while (at < chunk.length) {
      const n = Math.min(stripe - len, chunk.length - at);
      fill.set(chunk.subarray(at, at + n), len);
      len += n;
      at += n;
      if (len === stripe) {
        run(fill.buffer as ArrayBuffer, len);
        fill = new Uint8Array(pool.takeBuffer(stripe));
        len = 0;
        while (jobs.full) yield await jobs.next();
      }
    }
  }
  if (len > 0) run(fill.buffer as ArrayBuffer, len);
  while (jobs.length > 0) yield await jobs.next();
}
