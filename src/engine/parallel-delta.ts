/**
 * Deltas on all cores, byte-identical to the one-thread encoder.
 *
 * The new data is cut into segments of about 4 MiB and each worker scans one segment as if
 * the scan started fresh at its first byte. The calling thread then stitches the segments in
 * order, and this is exact because the greedy scan's future depends only on its position: a
 * window's rolling sum is a function of the window's bytes. Let `t` be where the true scan
 * stands when segment k begins. The worker tried every position of its segment except the
 * insides of its own matches, so if `t` is not strictly inside one of them, the worker's
 * scan from `t` on is the true scan and its matches are taken as they are. If `t` is inside
 * one (a match of the previous segment ran past the boundary onto another alignment), the
 * calling thread scans from `t` itself until it reaches a position the worker tried, and
 * continues from there with the worker's matches. On real data that resync is a block or two.
 *
 * Literals need no stitching: their cut depends only on where a run starts, and the emitter
 * works on absolute positions. The calling thread keeps the data from the pending literal on
 * (at most the segments in flight) and writes every command itself, so the output order is
 * the stream order. Inputs shorter than a segment never reach the workers.
 */
import { BlockIndex } from '../rsync/block-index.js';
import { chunksOf, type ByteSource } from '../rsync/byte-source.js';
import { delta, DeltaBuffer, maxLiteralOf, signatureOf, type DeltaOptions } from '../rsync/delta.js';
import { DeltaEmitter } from '../rsync/delta-emitter.js';
import { DeltaWriter } from '../rsync/delta-writer.js';
import { MatchScanner } from '../rsync/match-scanner.js';
import type { Signature } from '../rsync/signature.js';
import { createStrongHasher } from '../rsync/strong-sum.js';
import { BackupError } from '../errors.js';
import { OrderedJobs } from './ordered-jobs.js';
import { workerPool } from './worker-pool.js';

const SEGMENT = 4 << 20;
/** Blocks longer than this make segments too large to be worth splitting. */
const MAX_PARALLEL_BLOCK = 1 << 20;

interface Scanned {
  start: number;
  last: boolean;
  hits: Float64Array;
  end: number;
}

/** Like {@link delta}, with the match scan spread over the worker pool for large inputs. */
export async function* parallelDelta(
  sigSource: Signature | ByteSource,
  newData: ByteSource,
  options: DeltaOptions = {},
  /** Segment length, for tests that need many segments from small inputs. */
  segmentBytes = SEGMENT,
): AsyncGenerator<Uint8Array, void, undefined> {
  const sig = await signatureOf(sigSource);
  const pool = sig.count > 0 && sig.blockLength <= MAX_PARALLEL_BLOCK ? workerPool() : undefined;
  if (!pool) {
    yield* delta(sig, newData, options);
    return;
  }
  const bl = sig.blockLength;
  const segment = Math.max(segmentBytes, 1);
  const writer = new DeltaWriter();
  const emitter = new DeltaEmitter(writer, maxLiteralOf(options), bl);
  const scanner = new MatchScanner(new BlockIndex(sig), await createStrongHasher(sig.strong));
  const data = new DeltaBuffer(64 << 10);
  const jobs = new OrderedJobs<Scanned>(2 * pool.size);
  const onMatch = (pos: number, block: number, len: number): void => {
    emitter.match(data.base + pos, block, len, data.buf, data.base);
  };
  let job: number | undefined;
  let next = 0;
  let t = 0;
  let ended = false;

  const dispatch = (segStart: number, segEnd: number, last: boolean): void => {
    // The true scan may already have run past the segment's start (a rescan that matched
    // far ahead), and the buffer then no longer holds those bytes; nor are they needed.
    const start = Math.max(segStart, data.base);
    if (start >= segEnd && !last) return;
    if (job === undefined) {
      job = pool.newJob();
      pool.post({ type: 'delta-open', job, sig });
    }
    const stop = last ? data.end : segEnd + bl;
    const size = stop - start;
    const buffer = pool.takeBuffer(last ? size : segment + bl);
    new Uint8Array(buffer).set(data.buf.subarray(start - data.base, stop - data.base));
    const length = (last ? data.end : segEnd) - start;
    jobs.add(
      pool
        .request(pool.leastLoaded(), { type: 'delta-scan', job, start, length, last, data: buffer, size }, [buffer])
        .then((reply) => {
          const r = reply as { hits: Float64Array; end: number };
          return { start, last, hits: r.hits, end: r.end };
        }),
    );
  };

  /** The true scan from `t` to `stopAt`, on this thread. */
  const rescan = (stopAt: number, last: boolean): void => {
    scanner.reset();
    const stopped = data.base + scanner.scan(data.buf, t - data.base, data.avail, last && ended, stopAt - data.base, onMatch);
    if (stopped < stopAt && !(last && ended)) {
      throw new BackupError('EINTERNAL', `parallel delta ran out of data at ${stopped} while resynchronising to ${stopAt}`);
    }
    t = stopped;
  };

  const stitch = (s: Scanned): void => {
    const { hits } = s;
    const n = hits.length / 3;
    let i = 0;
    for (;;) {
      if (t >= s.end) {
        i = n;
        break;
      }
      while (i < n && hits[3 * i]! + hits[3 * i + 2]! <= t) i++;
      if (i < n && hits[3 * i]! < t) {
        rescan(hits[3 * i]! + hits[3 * i + 2]!, s.last);
        continue;
      }
      break;
    }
    for (; i < n; i++) emitter.match(hits[3 * i]!, hits[3 * i + 1]!, hits[3 * i + 2]!, data.buf, data.base);
    t = Math.max(t, s.end);
    emitter.passed(t, data.buf, data.base);
  };

  try {
    for await (const chunk of chunksOf(newData)) {
      data.append(chunk, emitter.litStart);
      while (data.end - next >= segment + 2 * bl + 1) {
        dispatch(next, next + segment, false);
        next += segment;
        while (jobs.full) {
          stitch(await jobs.next());
          yield* writer.take();
        }
      }
    }
    ended = true;
    if (job === undefined) {
      t = data.base + scanner.scan(data.buf, t - data.base, data.avail, true, Infinity, onMatch);
    } else {
      dispatch(next, data.end, true);
      while (jobs.length > 0) {
        stitch(await jobs.next());
        yield* writer.take();
      }
    }
    emitter.finish(data.end, data.buf, data.base);
    yield* writer.take(true);
  } finally {
    if (job !== undefined && pool.healthy) pool.post({ type: 'delta-close', job });
  }
}
