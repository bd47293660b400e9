/**
 * Sharing strong sums between the delta and signature encoders of one read pass.
 *
 * When a changed file is backed up, the delta encoder hashes (BLAKE2b) each window of the new
 * data that may match a block of the old signature, and the signature encoder hashes each
 * block of the same new data. For the commonest changes — edits in place and appends — the
 * windows the delta encoder confirms are exactly the new file's blocks, so half the hashing,
 * the dominant cost, is done twice on the same bytes. This hasher remembers the digests of
 * recently hashed ranges under a 128-bit key (two seeded xxHash64 sums and the length, at
 * xxHash's speed) and answers a repeat from memory. Only recent ranges are kept: both
 * encoders walk the file front to back a few blocks apart.
 */
import xxhash from 'xxhash-wasm';
import type { StrongHasher } from '../rsync/index.js';

const KEEP = 1024;

/** Wrap `inner` so identical ranges hashed close together are hashed once. */
export async function sharedDigests(inner: StrongHasher): Promise<StrongHasher> {
  const { h64Raw } = await xxhash();
  const recent = new Map<string, Uint8Array>();
  return {
    kind: inner.kind,
    digest(data: Uint8Array, start: number, end: number): Uint8Array {
      const bytes = data.subarray(start, end);
      const key = `${end - start}:${h64Raw(bytes, 0n)}:${h64Raw(bytes, 0x9e3779b97f4a7c15n)}`;
      const hit = recent.get(key);
      if (hit) return hit.slice();
      const d = inner.digest(data, start, end);
      recent.set(key, d.slice());
      if (recent.size > KEEP) recent.delete(recent.keys().next().value!);
      return d;
    },
  };
}
