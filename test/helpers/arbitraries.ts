/**
 * fast-check arbitraries for the rsync engine: basis files of different characters, edit
 * lists that turn a basis into a new version, and signature options. Sizes are small (a
 * few KB) so hundreds of runs stay fast; block lengths go down to 1 to reach corners that
 * realistic sizes never do.
 */
import { fc } from '@fast-check/vitest';
import { applyEdits, logText, randomData, repetitiveData, type Edit } from './data.js';

/** A basis: arbitrary bytes, bytes from a tiny alphabet (many equal blocks), or generated data. */
export const basisArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 4000 }),
  fc.array(fc.constantFrom(0, 1), { maxLength: 4000 }).map((xs) => Uint8Array.from(xs)),
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 10_000 }), fc.constantFrom(randomData, logText, repetitiveData)).map(([seed, n, gen]) => gen(seed, n)),
);

const editArb: fc.Arbitrary<Edit> = fc.record({
  at: fc.nat(),
  remove: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 600 })),
  insert: fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ minLength: 1, maxLength: 300 })),
});

/** A basis and a new version of it made by a list of edits (possibly none, possibly all). */
export const basisAndNewArb: fc.Arbitrary<{ basis: Uint8Array; data: Uint8Array }> = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(basisArb, fc.array(editArb, { maxLength: 8 })).map(([basis, edits]) => ({ basis, data: applyEdits(basis, edits) })) },
  { weight: 1, arbitrary: fc.tuple(basisArb, basisArb).map(([basis, data]) => ({ basis, data })) },
);

/** Signature options with a strong sum long enough that a false match is not a concern. */
export const sigOptionsArb = fc.record({
  weak: fc.constantFrom('rabinkarp' as const, 'rollsum' as const),
  strong: fc.constantFrom('blake2' as const, 'md4' as const),
  blockLength: fc.oneof(fc.constantFrom(0, 1, 2, 3, 64, 256, 777), fc.integer({ min: 1, max: 3000 })),
  strongLength: fc.constantFrom(0, -1, 8),
});

/** rdiff's flags for the same options. */
export function rdiffSigArgs(o: { weak: string; strong: string; blockLength: number; strongLength: number }): string[] {
  return ['-R', o.weak, '-H', o.strong, '-b', String(o.blockLength), '-S', String(o.strongLength)];
}

/**
 * Chunk sizes for re-chunking a stream: up to 20 arbitrary sizes, then 4 KiB chunks, so a
 * stream is at most a few dozen chunks (a native job pays a thread-pool round trip for each).
 */
export const chunkSizesArb = fc
  .array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 20 })
  .map((sizes) => [...sizes, 4096]);
