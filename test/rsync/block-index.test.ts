import { describe, expect, it } from 'vitest';
import { BlockIndex } from '../../src/rsync/block-index.js';
import type { Signature } from '../../src/rsync/signature.js';

function sig(records: [number, number[]][], strongLength = 2): Signature {
  return {
    magic: 0x72730147,
    weak: 'rabinkarp',
    strong: 'blake2',
    blockLength: 4,
    strongLength,
    count: records.length,
    weakSums: Uint32Array.from(records.map(([w]) => w)),
    strongSums: Uint8Array.from(records.flatMap(([, s]) => s)),
  };
}

describe('BlockIndex', () => {
  it('drops blocks equal to an earlier one in weak and strong sum, keeping the lowest index', () => {
    const index = new BlockIndex(sig([[7, [1, 2]], [9, [1, 2]], [7, [1, 2]], [7, [3, 4]]]));
    expect(index.size).toBe(3);
    expect(index.find(7, () => Uint8Array.of(1, 2, 99))).toBe(0);
    expect(index.find(7, () => Uint8Array.of(3, 4))).toBe(3);
    expect(index.find(9, () => Uint8Array.of(1, 2))).toBe(1);
  });

  it('misses on a weak hit whose strong sum differs, computing the strong sum once', () => {
    const index = new BlockIndex(sig([[7, [1, 2]], [7, [3, 4]], [7, [5, 6]]]));
    let calls = 0;
    expect(
      index.find(7, () => {
        calls++;
        return Uint8Array.of(9, 9);
      }),
    ).toBe(-1);
    expect(calls).toBe(1);
  });

  it('never computes a strong sum for an absent weak sum', () => {
    const index = new BlockIndex(sig([[7, [1, 2]]]));
    expect(index.find(8, () => { throw new Error('strong sum computed'); })).toBe(-1);
  });

  it('weak sums 0 and 0xffffffff are ordinary keys', () => {
    const index = new BlockIndex(sig([[0, [1, 1]], [0xffffffff, [2, 2]]]));
    expect(index.hasWeak(0)).toBe(true);
    expect(index.hasWeak(1)).toBe(false);
    expect(index.find(0, () => Uint8Array.of(1, 1))).toBe(0);
    expect(index.find(0xffffffff, () => Uint8Array.of(2, 2))).toBe(1);
  });

  it('hasWeak is true exactly for the stored weak sums', () => {
    const records: [number, number[]][] = Array.from({ length: 5000 }, (_, i) => [Math.imul(i + 1, 0x9e3779b1) >>> 0, [i & 0xff, i >> 8]]);
    const index = new BlockIndex(sig(records));
    const stored = new Set(records.map(([w]) => w));
    for (const w of stored) expect(index.hasWeak(w)).toBe(true);
    for (let i = 0; i < 100_000; i++) {
      const w = Math.imul(i + 7, 0x85ebca6b) >>> 0;
      if (index.hasWeak(w) !== stored.has(w)) expect.fail(`hasWeak(${w})`);
    }
  });

  it('an empty signature finds nothing', () => {
    const index = new BlockIndex(sig([]));
    expect(index.size).toBe(0);
    expect(index.find(1, () => new Uint8Array(2))).toBe(-1);
  });
});
