/**
 * The digest cache shared by a backup's delta and signature encoders: it must never hand out
 * a digest for other bytes (its xxHash64 key made a collision a silently wrong delta), not
 * through a colliding key, a caller's reused buffer or a stale copy in its wrapping store; it
 * must still save the second hash of each block on an in-place edit (its only purpose); and
 * it must keep no more than its byte budget.
 */
import { describe, expect, it } from 'vitest';
import { BYTES_PER_RANGE, DEFAULT_KEEP_BYTES, sharedDigests, type RangeKey } from '../../src/backup/digest-cache.js';
import {
  computeSignature,
  createStrongHasher,
  DeltaEncoder,
  SignatureEncoder,
  signatureParams,
  type Signature,
  type SignatureParams,
  type StrongHasher,
} from '../../src/rsync/index.js';
import { signatureHeader } from '../../src/rsync/signature.js';
import { sameBytes } from '../helpers/bytes.js';
import { Prng, randomData } from '../helpers/data.js';

/** The BLAKE2b hasher, counting the digests it computes. */
async function counting(): Promise<StrongHasher & { calls: number }> {
  const inner = await createStrongHasher('blake2');
  const hasher = {
    kind: inner.kind,
    calls: 0,
    digest(data: Uint8Array, start: number, end: number): Uint8Array {
      hasher.calls++;
      return inner.digest(data, start, end);
    },
  };
  return hasher;
}

/**
 * One read pass as a backup makes it: each 1 MiB chunk to the delta encoder, then to the
 * signature encoder. The chunks are two Buffers read into in turn, as `readFileChunks` with
 * `reuse` hands them out, so a cache that kept views instead of copies would be caught.
 */
function onePass(basis: Signature, data: Uint8Array, params: SignatureParams, hasher: StrongHasher): { delta: Buffer; signature: Buffer } {
  const delta = new DeltaEncoder(basis, hasher);
  const sig = new SignatureEncoder(params, hasher);
  const deltaOut: Uint8Array[] = [];
  const sigOut: Uint8Array[] = [signatureHeader(params)];
  const reused = [Buffer.alloc(1 << 20), Buffer.alloc(1 << 20)];
  for (let at = 0, turn = 0; at < data.length; at += 1 << 20, turn ^= 1) {
    const piece = data.subarray(at, at + (1 << 20));
    const chunk = reused[turn]!.subarray(0, piece.length);
    chunk.set(piece);
    deltaOut.push(...delta.push(chunk));
    sigOut.push(sig.push(chunk));
  }
  sigOut.push(sig.end());
  deltaOut.push(...delta.end());
  return { delta: Buffer.concat(deltaOut), signature: Buffer.concat(sigOut) };
}

/** A basis, its signature and a copy with `edits` in-place edits of 100 bytes. */
async function inPlaceEdit(blockLength: number, size: number, edits: number) {
  const params = signatureParams({ blockLength, strongLength: 16, fileSize: size });
  const basis = randomData(blockLength, size);
  const data = basis.slice();
  for (let i = 1; i <= edits; i++) data.set(randomData(i, 100), Math.floor((size * i) / (edits + 1)));
  const sig = await computeSignature(basis, { blockLength, strongLength: 16 });
  return { params, data, sig };
}

describe('sharedDigests', () => {
  it('a key collision never hands out the digest of other bytes (the xxHash64 key made it a silently wrong delta)', async () => {
    const plain = await createStrongHasher('blake2');
    const shared = await sharedDigests(plain, { key: () => 0 });
    const a = randomData(1, 4096);
    const lastByte = a.slice();
    lastByte[4095]! ^= 1;
    const firstByte = a.slice();
    firstByte[0]! ^= 0x80;
    for (const range of [a, lastByte, a, firstByte, a.subarray(0, 4095), a, a]) {
      expect(sameBytes(shared.digest(range, 0, range.length), plain.digest(range, 0, range.length))).toBe('same');
    }

    // The caller's buffer changes under the remembered range (a Buffer's slice() is a view).
    const reused = Buffer.from(randomData(2, 4096));
    shared.digest(reused, 0, 4096);
    reused.set(a);
    expect(sameBytes(shared.digest(reused, 0, 4096), plain.digest(a, 0, 4096)), 'a reused Buffer').toBe('same');

    // Through both encoders, with every range filed under the same key.
    const { params, data, sig } = await inPlaceEdit(1024, 3 << 20, 3);
    const want = onePass(sig, data, params, plain);
    const got = onePass(sig, data, params, await sharedDigests(plain, { key: () => 'collide' }));
    expect(sameBytes(got.delta, want.delta), 'delta').toBe('same');
    expect(sameBytes(got.signature, want.signature), 'signature').toBe('same');
  });

  // Block lengths from the smallest to the largest the backup policy picks, read in 1 MiB chunks.
  it.each([1024, 16 * 1024, 256 * 1024])('hashes each block once, not twice, on an in-place edit (%i-byte blocks)', async (blockLength) => {
    const { params, data, sig } = await inPlaceEdit(blockLength, 8 << 20, 2);
    const blocks = Math.ceil(data.length / blockLength);
    const plain = await counting();
    const want = onePass(sig, data, params, plain);
    expect(plain.calls, 'the encoders without a cache').toBeGreaterThanOrEqual(2 * blocks - 2);

    const inner = await counting();
    const got = onePass(sig, data, params, await sharedDigests(inner));
    expect(inner.calls).toBeLessThanOrEqual(blocks + 2);
    expect(sameBytes(got.delta, want.delta), 'delta').toBe('same');
    expect(sameBytes(got.signature, want.signature), 'signature').toBe('same');
  });

  it('keeps at most keepBytes, forgetting the oldest range first', async () => {
    const inner = await counting();
    const shared = await sharedDigests(inner, { keepBytes: 3500 });
    const ranges = [0, 1, 2, 3].map((i) => randomData(100 + i, 1000));
    for (const r of ranges) shared.digest(r, 0, r.length);
    expect(inner.calls).toBe(4);
    shared.digest(ranges[3]!, 0, 1000);
    shared.digest(ranges[1]!, 0, 1000);
    expect(inner.calls, 'ranges 1 to 3 are remembered').toBe(4);
    shared.digest(ranges[0]!, 0, 1000);
    expect(inner.calls, 'range 0 was dropped for range 3').toBe(5);
  });

  it('keeps at most one range per BYTES_PER_RANGE bytes, so tiny ranges stay few', async () => {
    const inner = await counting();
    const shared = await sharedDigests(inner, { keepBytes: 4 * BYTES_PER_RANGE });
    const ranges = [0, 1, 2, 3, 4].map((i) => Uint8Array.of(i));
    for (const r of ranges) shared.digest(r, 0, 1);
    shared.digest(ranges[4]!, 0, 1);
    shared.digest(ranges[1]!, 0, 1);
    expect(inner.calls, 'ranges 1 to 4 are remembered').toBe(5);
    shared.digest(ranges[0]!, 0, 1);
    expect(inner.calls, 'range 0 was dropped for range 4').toBe(6);
  });

  // Ranges are filed by length, so that a later range of the same length finds the earlier
  // one's entry; each case then overwrites a remembered range in the store with other ranges
  // and asks for exactly the bytes now lying there. Only forgetting the overwritten range
  // keeps its digest from being handed out for them.
  describe('forgets every range the store overwrites', () => {
    const bytes = (seed: number, n: number) => randomData(seed, n);
    const b = bytes(1, 1000);
    const c = Buffer.concat([bytes(2, 500), b]);
    const r6 = bytes(6, 2200);
    const x = bytes(12, 500);
    const d = bytes(14, 1200);
    it.each([
      // c wraps to the start of the store and lays b exactly over the 1000-byte range's copy.
      ['when writing over it', [bytes(3, 500), bytes(4, 1000), bytes(5, 1200), c], b],
      // r6 wraps while older ranges lie past its end: the ranges it overwrites are not the oldest.
      ['when wrapping around', [bytes(7, 1000), bytes(8, 1300), bytes(9, 650), bytes(10, 600), bytes(11, 300), r6], r6.subarray(0, 600)],
      // The second 1000-byte range replaces the first, and must count as the newest.
      ['after a key was reused', [bytes(13, 1000), x, bytes(15, 1000), d], Buffer.concat([d.subarray(1000), x.subarray(200)])],
    ])('%s', async (_, ranges, query) => {
      const plain = await createStrongHasher('blake2');
      const shared = await sharedDigests(plain, { keepBytes: 3000, key: (r) => r.length });
      for (const r of ranges) shared.digest(r, 0, r.length);
      expect(sameBytes(shared.digest(query, 0, query.length), plain.digest(query, 0, query.length))).toBe('same');
    });
  });

  // The store wraps around many times here: every digest must still be exact, and repeats close
  // together must still hit.
  it.each<[string, ((r: Uint8Array) => RangeKey) | undefined, number]>([
    ['the xxHash64 key', undefined, 1500],
    ['a key that collides often', (r) => r.length % 3, 3000],
  ])('stays exact while ranges of every length wrap around the store (%s)', async (_, key, maxCalls) => {
    const plain = await createStrongHasher('blake2');
    const inner = await counting();
    const shared = await sharedDigests(inner, { keepBytes: 4000, key });
    const rng = new Prng(5);
    const pool = Array.from({ length: 8 }, (_, i) => randomData(10 + i, 1 + rng.int(400)));
    const buf = Buffer.alloc(500);
    for (let i = 0; i < 3000; i++) {
      const content = rng.pick(pool).slice();
      if (rng.int(4) === 0) content[rng.int(content.length)]! ^= 1 + rng.int(255);
      const at = rng.int(buf.length - content.length + 1);
      buf.set(content, at);
      const got = shared.digest(buf, at, at + content.length);
      expect(sameBytes(got, plain.digest(content, 0, content.length)), `call ${i}`).toBe('same');
    }
    expect(inner.calls).toBeLessThanOrEqual(maxCalls);
  });

  it('never remembers a range longer than keepBytes', async () => {
    const inner = await counting();
    const shared = await sharedDigests(inner);
    const big = randomData(9, DEFAULT_KEEP_BYTES + 1);
    shared.digest(big, 0, big.length);
    shared.digest(big, 0, big.length);
    expect(inner.calls).toBe(2);
  });
});
