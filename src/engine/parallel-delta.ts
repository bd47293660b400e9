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
 * the stream order.
 *
 * Whatever scans the segments fits under the stitching ({@link SegmentScanner}): the
 * TypeScript engine's worker threads (here), or librsync jobs on the libuv pool
 * (`native-delta.ts`).
 *
 * The worker threads are started only when they pay: while the pool is not running, the
 * first 32 MiB are scanned on the calling thread (the true scan, segment by segment, writing
 * as it goes), and only the segments after them go to the pool, which the stitching takes as
 * it takes any other position of the true scan. A delta of a smaller file never starts the
 * threads; once they run (a long-lived process), every segment goes to them.
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
import { COLD_START_BYTES, workerPool, workerPoolAvailable, workerPoolRunning, workerThreads, type WorkerPool } from './worker-pool.js';

/** Segments of about this many bytes are scanned at once. */
export const SEGMENT = 4 << 20;
/** Blocks longer than this make segments too large to be worth splitting. */
export const MAX_PARALLEL_BLOCK = 1 << 20;

/** A segment's scan: its matches and where it stopped. */
export interface SegmentScan {
  /** Matches as absolute (position, block, length) triples, in position order. */
  hits: Float64Array;
  /** Where the scan stopped: the first position at or after the segment's end it would try. */
  end: number;
}

/** Scans segments of new data for {@link stitchedDelta}, several at once. */
export interface SegmentScanner {
  /** Segments in flight at once (the stitcher keeps twice as many queued). */
  readonly concurrency: number;
  /**
   * Scan `data`, the new data from absolute offset `start`, as a scan that starts fresh at
   * its first byte: the matches of the windows that start in its first `length` bytes. Every
   * such window is whole in `data` and has a byte after it, unless `last` (then `data` runs to
   * the end of the input). `data` is valid only during the call.
   */
  scan(start: number, length: number, last: boolean, data: Uint8Array): Promise<SegmentScan>;
  /** Release the scanner's state; called once, when the delta ends however it ends. */
  close(): void;
}

/** How {@link stitchedDelta} uses its scanner. */
export interface StitchOptions {
  /** Segment length, for tests that need many segments from small inputs. */
  segmentBytes?: number;
  /**
   * Segments that start before this many bytes are scanned on the calling thread while no
   * segment has gone to the scanner. Default 0.
   */
  localBytes?: number;
  /**
   * Input that never filled a segment goes to the scanner too (default: scanned on the
   * calling thread, which costs the scanner nothing to start).
   */
  tailToScanner?: boolean;
  /** Told of every match of the true scan, at its absolute position, in position order. */
  observe?: (pos: number, block: number, len: number) => void;
  /**
   * Told, as the stitching advances, that every window starting before `scanned` has been
   * decided: every match before it was given to `observe`.
   */
  passed?: (scanned: number) => void;
}

/** Like {@link delta}, with the match scan spread over the worker pool for large inputs. */
export async function* parallelDelta(
  sigSource: Signature | ByteSource,
  newData: ByteSource,
  options: DeltaOptions = {},
  /** Segment length, for tests that need many segments from small inputs. */
  segmentBytes = SEGMENT,
  /**
   * Segments that start before this many bytes are scanned on the calling thread while no
   * segment has gone to the pool: by default none when the pool is running, else
   * {@link COLD_START_BYTES}, so a small delta never starts the threads.
   */
  localBytes = workerPoolRunning() ? 0 : COLD_START_BYTES,
): AsyncGenerator<Uint8Array, void, undefined> {
  const sig = await signatureOf(sigSource);
  if (sig.count === 0 || sig.blockLength > MAX_PARALLEL_BLOCK || !workerPoolAvailable()) {
    yield* delta(sig, newData, options);
    return;
  }
  yield* stitchedDelta(sig, newData, options, poolScanner(sig, segmentBytes), { segmentBytes, localBytes });
}

/**
 * Segments scanned by the worker pool, started with the first segment that goes to it;
 * `segmentBytes` is the stitcher's segment length (buffers of that size are reused).
 */
export function poolScanner(sig: Signature, segmentBytes: number = SEGMENT): SegmentScanner {
  let pool: WorkerPool | undefined;
  let job: number | undefined;
  return {
    concurrency: workerThreads(),
    scan(start, length, last, data) {
      pool ??= workerPool()!;
      if (job === undefined) {
        job = pool.newJob();
        pool.post({ type: 'delta-open', job, sig });
      }
      // Buffers of one size, so the pool reuses them from segment to segment.
      const buffer = pool.takeBuffer(last ? data.length : Math.max(segmentBytes, 1) + sig.blockLength);
      new Uint8Array(buffer).set(data);
      return pool
        .request(pool.leastLoaded(), { type: 'delta-scan', job, start, length, last, data: buffer, size: data.length }, [buffer])
        .then((reply) => reply as SegmentScan);
    },
    close() {
      if (job !== undefined && pool?.healthy) pool.post({ type: 'delta-close', job });
    },
  };
}

interface Scanned extends SegmentScan {
  last: boolean;
}

/**
 * The delta of `newData` against `sig` (whose block count is not 0), its segments scanned
 * by `scanner` and stitched on this thread (see the header): byte-identical to {@link delta}.
 */
export async function* stitchedDelta(
  sig: Signature,
  newData: ByteSource,
  options: DeltaOptions,
  scanner: SegmentScanner,
  stitching: StitchOptions = {},
): AsyncGenerator<Uint8Array, void, undefined> {
  const bl = sig.blockLength;
  const segment = Math.max(stitching.segmentBytes ?? SEGMENT, 1);
  const localBytes = stitching.localBytes ?? 0;
  const writer = new DeltaWriter();
  const emitter = new DeltaEmitter(writer, maxLiteralOf(options), bl);
  // This thread scans only to resynchronise, and the local segments: made when first needed.
  let local: MatchScanner | undefined;
  const localScanner = async (): Promise<MatchScanner> => (local ??= new MatchScanner(new BlockIndex(sig), await createStrongHasher(sig.strong)));
  const data = new DeltaBuffer(64 << 10);
  const jobs = new OrderedJobs<Scanned>(2 * scanner.concurrency);
  const observe = stitching.observe;
  const passed = stitching.passed;
  const onMatch = (pos: number, block: number, len: number): void => {
    emitter.match(data.base + pos, block, len, data.buf, data.base);
    observe?.(data.base + pos, block, len);
  };
  let dispatched = false;
  let next = 0;
  let t = 0;
  let ended = false;

  const dispatch = (segStart: number, segEnd: number, last: boolean): void => {
    // The true scan may already have run past the segment's start (a rescan that matched
    // far ahead), and the buffer then no longer holds those bytes; nor are they needed.
    const start = Math.max(segStart, data.base);
    if (start >= segEnd && !last) return;
    dispatched = true;
    const stop = last ? data.end : segEnd + bl;
    const length = (last ? data.end : segEnd) - start;
    const view = data.buf.subarray(start - data.base, stop - data.base);
    jobs.add(scanner.scan(start, length, last, view).then((r) => ({ ...r, last })));
  };

  /** The true scan from `t` to `stopAt`, on this thread. */
  const rescan = async (stopAt: number, last: boolean): Promise<void> => {
    const scan = await localScanner();
    scan.reset();
    const stopped = data.base + scan.scan(data.buf, t - data.base, data.avail, last && ended, stopAt - data.base, onMatch);
    if (stopped < stopAt && !(last && ended)) {
      throw new BackupError('EINTERNAL', `parallel delta ran out of data at ${stopped} while resynchronising to ${stopAt}`);
    }
    t = stopped;
  };

  const stitch = async (s: Scanned): Promise<void> => {
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
        await rescan(hits[3 * i]! + hits[3 * i + 2]!, s.last);
        continue;
      }
      break;
    }
    for (; i < n; i++) {
      emitter.match(hits[3 * i]!, hits[3 * i + 1]!, hits[3 * i + 2]!, data.buf, data.base);
      observe?.(hits[3 * i]!, hits[3 * i + 1]!, hits[3 * i + 2]!);
    }
    t = Math.max(t, s.end);
    emitter.passed(t, data.buf, data.base);
    passed?.(t);
  };

  try {
    for await (const chunk of chunksOf(newData)) {
      data.append(chunk, emitter.litStart);
      while (data.end - next >= segment + 2 * bl + 1) {
        if (!dispatched && next < localBytes) {
          await rescan(next + segment, false);
          emitter.passed(t, data.buf, data.base);
          passed?.(t);
          yield* writer.take();
        } else {
          dispatch(next, next + segment, false);
        }
        next += segment;
        while (jobs.full) {
          await stitch(await jobs.next());
          yield* writer.take();
        }
      }
    }
    ended = true;
    if (dispatched || stitching.tailToScanner) {
      dispatch(next, data.end, true);
      while (jobs.length > 0) {
        await stitch(await jobs.next());
        yield* writer.take();
      }
    } else {
      const scan = await localScanner();
      t = data.base + scan.scan(data.buf, t - data.base, data.avail, true, Infinity, onMatch);
    }
    emitter.finish(data.end, data.buf, data.base);
    passed?.(Infinity);
    yield* writer.take(true);
  } finally {
    // A scan still running may be reading the scanner's state: let every one settle first.
    while (jobs.length > 0) await jobs.next().catch(() => undefined);
    scanner.close();
  }
}
