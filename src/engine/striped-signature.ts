/**
 * Signatures in stripes, for every core. A signature record depends only on its block's
 * bytes, so the basis can be cut into stripes of whole blocks (about 4 MiB), each stripe's
 * records computed by whatever runs in parallel — the TypeScript engine's worker threads, or
 * librsync jobs on the libuv pool — and the records written in stripe order: the same bytes
 * as one pass over the whole basis. The calling thread only reads and cuts; a bounded window
 * of stripes in flight keeps memory flat.
 */
import { chunksOf, type ByteSource } from '../rsync/byte-source.js';
import type { SignatureParams } from '../rsync/format.js';
import { signatureHeader } from '../rsync/signature.js';
import { OrderedJobs } from './ordered-jobs.js';

const STRIPE = 4 << 20;
/** Below this size the threads cost more than they save. */
export const PARALLEL_MIN_BYTES = 16 << 20;

/** How to compute one stripe's records, and where stripe buffers come from. */
export interface StripeRunner {
  /** Stripes computed at once. */
  concurrency: number;
  /** The records (no header) of `stripe`, whole blocks but for the last stripe. */
  records(stripe: Uint8Array): Promise<Uint8Array>;
  /** A buffer of `size` bytes for the next stripe. */
  allocate(size: number): Uint8Array;
}

/** The serialized signature of `basis`, its stripes computed by `runner`. */
export async function* stripedSignature(
  basis: ByteSource,
  params: SignatureParams,
  runner: StripeRunner,
): AsyncGenerator<Uint8Array, void, undefined> {
  const stripe = params.blockLength * Math.max(1, Math.floor(STRIPE / params.blockLength));
  const jobs = new OrderedJobs<Uint8Array>(2 * runner.concurrency);
  yield signatureHeader(params);
  let fill = runner.allocate(stripe);
  let len = 0;
  for await (const chunk of chunksOf(basis)) {
    let at = 0;
    while (at < chunk.length) {
      const n = Math.min(stripe - len, chunk.length - at);
      fill.set(chunk.subarray(at, at + n), len);
      len += n;
      at += n;
      if (len === stripe) {
        jobs.add(runner.records(fill));
        fill = runner.allocate(stripe);
        len = 0;
        while (jobs.full) yield await jobs.next();
      }
    }
  }
  if (len > 0) jobs.add(runner.records(fill.subarray(0, len)));
  while (jobs.length > 0) yield await jobs.next();
}
