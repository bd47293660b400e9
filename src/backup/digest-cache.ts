/**
 * Sharing strong sums between the delta and signature encoders of one read pass.
 *
 * When a changed file is backed up, the delta encoder hashes (BLAKE2b) each window of the new
 * data that may match a block of the old signature, and the signature encoder hashes each
 * block of the same new data. For the commonest changes — edits in place and appends — the
 * windows the delta encoder confirms are exactly the new file's blocks, so half the hashing,
 * the dominant cost, is done twice on the same bytes. This hasher answers a repeat from
 * memory: for a 200 MB file with one edit in place, the two encoders' pass costs 0.68 s of
 * CPU instead of 0.84 s.
 *
 * A repeat must be exact: a digest handed out for different bytes would make the delta copy
 * the wrong block, silently, and no later check would notice (a delta has no checksum of its
 * result). A key of two xxHash64 sums made that a 2^-128 chance per pair on random data, but
 * xxHash is not collision resistant, so crafted files could collide at will. Here the key
 * (one xxHash64, or any function) only finds a candidate: each remembered range keeps a copy
 * of its bytes, and a hit is a byte-for-byte comparison, which is memcmp speed next to
 * BLAKE2b's. A key collision costs a recomputation, never a wrong digest.
 *
 * Memory is bounded by the bytes kept, oldest dropped first: both encoders walk the file
 * front to back, at most one read chunk (1 MiB) and a block or two apart, so a few MiB of
 * recent ranges catch every repeat whatever the block length.
 */
import xxhash from 'xxhash-wasm';
import type { StrongHasher } from '../rsync/index.js';

/** What a remembered range is filed under; equal keys only suggest equal bytes. */
export type RangeKey = bigint | number | string;

/** Options of {@link sharedDigests}. */
export interface SharedDigestsOptions {
  /**
   * Most bytes of remembered ranges kept, each range also charged {@link ENTRY_OVERHEAD}
   * bytes of bookkeeping; the oldest are dropped first. A range longer than this is never
   * remembered. Default 4 MiB.
   */
  keepBytes?: number;
  /**
   * The lookup key of a range. Default: its xxHash64. A collision only costs a recomputed
   * digest, since a hit is confirmed by comparing bytes; tests pass a colliding one.
   */
  key?: (range: Uint8Array) => RangeKey;
}

/** Default of {@link SharedDigestsOptions.keepBytes}. */
export const DEFAULT_KEEP_BYTES = 4 << 20;
/** Bytes each remembered range is charged beyond its length, so tiny ranges stay bounded in number too. */
export const ENTRY_OVERHEAD = 256;

interface Remembered {
  bytes: Uint8Array;
  digest: Uint8Array;
}

/**
 * Wrap `inner` so identical ranges hashed close together are hashed once; every digest it
 * returns is exactly `inner`'s for those bytes.
 */
export async function sharedDigests(inner: StrongHasher, options: SharedDigestsOptions = {}): Promise<StrongHasher> {
  const keepBytes = options.keepBytes ?? DEFAULT_KEEP_BYTES;
  const key = options.key ?? (await xxhashKey());
  const recent = new Map<RangeKey, Remembered>();
  let kept = 0;
  const forget = (k: RangeKey, r: Remembered): void => {
    recent.delete(k);
    kept -= r.bytes.length + ENTRY_OVERHEAD;
  };
  return {
    kind: inner.kind,
    digest(data: Uint8Array, start: number, end: number): Uint8Array {
      const charge = end - start + ENTRY_OVERHEAD;
      if (charge > keepBytes) return inner.digest(data, start, end);
      const bytes = data.subarray(start, end);
      const k = key(bytes);
      const hit = recent.get(k);
      if (hit && Buffer.compare(hit.bytes, bytes) === 0) return new Uint8Array(hit.digest);
      const digest = inner.digest(data, start, end);
      if (hit) forget(k, hit);
      // Copies, never views: a Buffer's slice() is a view, and callers reuse their buffers.
      recent.set(k, { bytes: new Uint8Array(bytes), digest: new Uint8Array(digest) });
      kept += charge;
      while (kept > keepBytes) {
        const [oldKey, oldest] = recent.entries().next().value!;
        forget(oldKey, oldest);
      }
      return digest;
    },
  };
}

async function xxhashKey(): Promise<(range: Uint8Array) => RangeKey> {
  const { h64Raw } = await xxhash();
  return (range) => h64Raw(range, 0n);
}
