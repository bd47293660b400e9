/**
 * The signature a backup writes beside a delta copies the old records of matched blocks: it
 * must be byte-identical to hashing every block (`SignatureEncoder`), whatever the edits, the
 * chunking, the block lengths and sum kinds of the two signatures; it must copy the blocks
 * an in-place edit leaves alone (its only purpose); and a chunk buffer the caller reuses
 * must not leak into later records.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  computeSignature,
  createStrongHasher,
  DeltaEncoder,
  MatchedSignature,
  SignatureEncoder,
  signatureParams,
  type Signature,
  type SignatureParams,
  type StrongHasher,
} from '../../src/rsync/index.js';
import { sameBytes } from '../helpers/bytes.js';
import { randomData } from '../helpers/data.js';

/** What the old way gives: every block of `data` hashed. */
function hashedSignature(params: SignatureParams, hasher: StrongHasher, data: Uint8Array): Buffer {
  const enc = new SignatureEncoder(params, hasher);
  return Buffer.concat([enc.push(data), enc.end()]);
}

/**
 * One read pass as a backup makes it: each chunk to the delta encoder, then to the matched
 * signature with the delta's scan position. Chunks are copied into one buffer the caller
 * reuses, as a file reader may.
 */
function onePass(old: Signature, params: SignatureParams, hasher: StrongHasher, data: Uint8Array, cuts: number[]): { records: Buffer; sig: MatchedSignature } {
  const sig = new MatchedSignature(params, old, hasher);
  const delta = new DeltaEncoder(old, hasher, {}, (pos, block, len) => sig.match(pos, block, len));
  const out: Uint8Array[] = [];
  const reused = new Uint8Array(data.length + 1);
  let at = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < data.length).sort((a, b) => a - b), data.length]) {
    if (cut <= at) continue;
    const chunk = reused.subarray(0, cut - at);
    chunk.set(data.subarray(at, cut));
    delta.push(chunk);
    out.push(sig.push(chunk, delta.scanned));
    reused.fill(0xa5);
    at = cut;
  }
  delta.end();
  out.push(sig.end());
  return { records: Buffer.concat(out), sig };
}

/** `basis` with edits: overwrites, insertions and deletions at the given places. */
function edited(basis: Uint8Array, edits: { at: number; kind: 0 | 1 | 2; len: number; seed: number }[]): Uint8Array {
  let data = basis;
  for (const e of edits) {
    const at = Math.min(e.at, data.length);
    const bytes = randomData(e.seed, e.len);
    if (e.kind === 0) {
      const next = data.slice();
      next.set(bytes.subarray(0, Math.max(0, next.length - at)), at);
      data = next;
    } else if (e.kind === 1) {
      data = Buffer.concat([data.subarray(0, at), bytes, data.subarray(at)]);
    } else {
      data = Buffer.concat([data.subarray(0, at), data.subarray(Math.min(data.length, at + e.len))]);
    }
  }
  return data;
}

describe('MatchedSignature', () => {
  it('writes the same records as hashing every block, for any edits, chunking and block lengths', async () => {
    const blake2 = await createStrongHasher('blake2');
    const md4 = await createStrongHasher('md4');
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          size: fc.integer({ min: 0, max: 40_000 }),
          oldBlock: fc.constantFrom(64, 256, 1000, 1024),
          newBlock: fc.constantFrom(64, 256, 1000, 1024),
          oldStrong: fc.constantFrom(8, 16, 32),
          newStrong: fc.constantFrom(8, 16, 32),
          weak: fc.constantFrom('rabinkarp' as const, 'rollsum' as const),
          strong: fc.constantFrom('blake2' as const, 'md4' as const),
          edits: fc.array(fc.record({ at: fc.nat(45_000), kind: fc.constantFrom(0 as const, 1 as const, 2 as const), len: fc.integer({ min: 1, max: 3000 }), seed: fc.nat() }), { maxLength: 4 }),
          cuts: fc.array(fc.nat(50_000), { maxLength: 6 }),
          seed: fc.nat(),
        }),
        async (c) => {
          const hasher = c.strong === 'blake2' ? blake2 : md4;
          // An MD4 sum has 16 bytes.
          const cap = (n: number): number => (c.strong === 'md4' ? Math.min(n, 16) : n);
          const basis = randomData(c.seed, c.size);
          const old = await computeSignature(basis, { blockLength: c.oldBlock, strongLength: cap(c.oldStrong), weak: c.weak, strong: c.strong });
          const data = edited(basis, c.edits);
          const params = signatureParams({ blockLength: c.newBlock, strongLength: cap(c.newStrong), weak: c.weak, strong: c.strong, fileSize: data.length });
          const { records } = onePass(old, params, hasher, data, c.cuts);
          expect(sameBytes(records, hashedSignature(params, hasher, data))).toBe('same');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('copies every block an in-place edit leaves alone, and hashes only the edited ones', async () => {
    const hasher = await createStrongHasher('blake2');
    const size = 1 << 20;
    const basis = randomData(7, size);
    const old = await computeSignature(basis, { blockLength: 2048, strongLength: 16 });
    const data = basis.slice();
    data.set(randomData(8, 100), 300_000);
    const params = signatureParams({ blockLength: 2048, strongLength: 16, fileSize: size });
    const { records, sig } = onePass(old, params, hasher, data, [65_536, 500_001]);
    expect(sameBytes(records, hashedSignature(params, hasher, data))).toBe('same');
    expect(sig.blocks).toBe(512);
    // The block holding the edit, and the one after it (the scan resumes off-alignment past
    // the edit and meets the next alignment only one block later).
    expect(sig.copied).toBeGreaterThanOrEqual(509);
  });

  it('hashes every block when the old strong sums are shorter than the new ones', async () => {
    const hasher = await createStrongHasher('blake2');
    const basis = randomData(9, 100_000);
    const old = await computeSignature(basis, { blockLength: 1024, strongLength: 8 });
    const params = signatureParams({ blockLength: 1024, strongLength: 16, fileSize: basis.length });
    const { records, sig } = onePass(old, params, hasher, basis, []);
    expect(sameBytes(records, hashedSignature(params, hasher, basis))).toBe('same');
    expect(sig.copied).toBe(0);
  });
});
