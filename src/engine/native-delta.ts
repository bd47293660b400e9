/**
 * The native engine's delta on every core: the segments of the new data are scanned by
 * librsync delta jobs on the libuv pool (`DeltaIndex` in `native/src/delta_index.cc`), and
 * stitched on this thread as the TypeScript engine's are (`parallel-delta.ts`), into the
 * bytes one librsync job writes. Where little of the data matches, segments go to the
 * TypeScript engine's threads instead, which scan unmatched data twice as fast
 * ({@link adaptiveScanner}).
 *
 * A job started at a segment's first byte is a scan that starts fresh there, which is what
 * the stitching takes; the addon reads the job's output (that segment's delta as if the file
 * began there) for where the blocks matched. Each job is given its segment and the block
 * after it, and then told the input ends: a window that starts in the segment is then whole
 * and followed by a byte, so it is scanned exactly as in the whole file, and what librsync
 * does at the end of input only touches windows past the segment, which are ignored.
 */
import type { NativeAddon } from '../io/native-addon.js';
import type { SegmentScan, SegmentScanner } from './parallel-delta.js';

/** Segments of a delta against the serialized signature `sigBytes`, scanned by librsync on the libuv pool. */
export function librsyncScanner(addon: NativeAddon, sigBytes: Uint8Array, concurrency: number): SegmentScanner {
  const index = new addon.DeltaIndex(sigBytes);
  // Copies of segments, reused: fresh 4 MiB buffers cost more to fault in than to fill.
  const spare: Uint8Array[] = [];
  return {
    concurrency,
    async scan(start, length, _last, data) {
      // librsync reads the segment on a pool thread: it gets a copy, since the caller's
      // buffer moves on.
      const fit = spare.findIndex((b) => b.length >= data.length);
      const copy = fit >= 0 ? spare.splice(fit, 1)[0]! : new Uint8Array(data.length);
      copy.set(data);
      try {
        const { hits, end } = await index.scan(copy.subarray(0, data.length), length);
        for (let i = 0; i < hits.length; i += 3) hits[i] += start;
        return { hits, end: start + end };
      } finally {
        if (spare.length < 2 * concurrency) spare.push(copy);
      }
    },
    close() {
      index.close();
    },
  };
}

/**
 * The share of a segment that must match for librsync to scan it faster than the
 * TypeScript engine. librsync hashes matched blocks in C, far faster than BLAKE2 in WASM,
 * but tries each position of unmatched data 2x slower than the TypeScript scan; measured
 * per MB (256 MiB, this machine): about 1/700 s against 1/300 s matched, 1/50 against 1/100
 * unmatched, which break even at 84 % matched.
 */
const LIBRSYNC_MIN_MATCHED = 0.84;

/**
 * Each segment to whichever scanner is faster for data like the last segment scanned:
 * librsync (`native`) where most of it matched, the worker threads (`threads`, started only
 * then) where little did. A file that is mostly unchanged never starts the threads; one that
 * changed throughout, or is new, is scanned at the TypeScript engine's speed there.
 */
export function adaptiveScanner(native: SegmentScanner, threads: SegmentScanner | undefined): SegmentScanner {
  if (threads === undefined) return native;
  let matched = 1;
  const measure = (start: number, r: SegmentScan): SegmentScan => {
    let bytes = 0;
    for (let i = 2; i < r.hits.length; i += 3) bytes += r.hits[i]!;
    if (r.end > start) matched = bytes / (r.end - start);
    return r;
  };
  return {
    concurrency: Math.max(native.concurrency, threads.concurrency),
    scan(start, length, last, data) {
      const scanner = matched >= LIBRSYNC_MIN_MATCHED ? native : threads;
      return scanner.scan(start, length, last, data).then((r) => measure(start, r));
    },
    close() {
      native.close();
      threads.close();
    },
  };
}