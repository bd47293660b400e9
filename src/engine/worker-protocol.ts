/** The messages between the engine's worker pool and its workers. */
import type { SignatureParams } from '../rsync/format.js';
import type { Signature } from '../rsync/signature.js';

/** What the pool asks of a worker. */
export type WorkerRequest =
  /** Signature records of the first `length` bytes of `data`: whole blocks, but for the last stripe. */
  | { type: 'signature'; id: number; params: SignatureParams; data: ArrayBuffer; length: number }
  /** Build the block index of a delta job. */
  | { type: 'delta-open'; job: number; sig: Signature }
  /**
   * Scan the windows starting in the first `length` bytes of `data`, whose first `size`
   * bytes hold the new data from absolute offset `start` on (enough for every such window,
   * or up to the end of the data when `last`).
   */
  | { type: 'delta-scan'; id: number; job: number; start: number; length: number; last: boolean; data: ArrayBuffer; size: number }
  /** Drop a delta job's index. */
  | { type: 'delta-close'; job: number };

/** A worker's answer to a request with an id; `data` is the request's buffer, sent back for reuse. */
export type WorkerReply =
  | { id: number; records: Uint8Array; data: ArrayBuffer }
  /** Matches as absolute (position, block, length) triples; `end` is where the scan stopped. */
  | { id: number; hits: Float64Array; end: number; data: ArrayBuffer }
  | { id: number; error: string };
