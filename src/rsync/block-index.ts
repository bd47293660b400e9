/**
 * The lookup table the delta encoder consults at every byte offset of the new file.
 *
 * Most lookups miss, so the first test is a one-bit-per-slot filter (a Bloom filter with one
 * hash) sized at 32 to 64 bits per block: a miss costs one multiply, one shift and one bit test,
 * with no JS `Map` in the loop. Behind it sits an open-addressing table of typed arrays
 * (weak sum → block index, linear probing, load ≤ 0.5). Blocks whose weak and stored strong
 * sums both equal an earlier block's are skipped, as librsync does, so among identical
 * blocks the lowest index is the one a delta copies from.
 *
 * Both structures index by a multiplicative hash of the weak sum, because rollsum digests
 * are far from uniform in their low and high bits (librsync mixes them with fmix32 for the
 * same reason). The mixing is a bijection, so it changes no match.
 */
import type { Signature } from './signature.js';

/** Knuth's multiplicative-hash constant (2^32 / φ). */
export const MIX = 0x9e3779b1;

function log2Ceil(n: number): number {
  let bits = 0;
  while (2 ** bits < n) bits++;
  return bits;
}

/** An index over a signature's blocks for the delta encoder. */
export class BlockIndex {
  /** One bit per filter slot. */
  readonly filter: Int32Array;
  /** `32 - log2(filter slots)`: `Math.imul(weak, MIX) >>> filterShift` is a filter slot. */
  readonly filterShift: number;
  /** Weak sum per table slot. */
  readonly keys: Uint32Array;
  /** Block index + 1 per table slot; 0 marks an empty slot. */
  readonly slots: Int32Array;
  /** `Math.imul(weak, MIX) >>> tableShift` is the first slot to probe. */
  readonly tableShift: number;
  readonly tableMask: number;
  /** Blocks in the table after duplicates were dropped. */
  readonly size: number;

  constructor(readonly sig: Signature) {
    const filterBits = Math.max(10, Math.min(30, log2Ceil(sig.count * 32)));
    this.filter = new Int32Array(2 ** (filterBits - 5));
    this.filterShift = 32 - filterBits;
    const tableBits = Math.max(4, Math.min(31, log2Ceil(sig.count * 2)));
    this.keys = new Uint32Array(2 ** tableBits);
    this.slots = new Int32Array(2 ** tableBits);
    this.tableShift = 32 - tableBits;
    this.tableMask = 2 ** tableBits - 1;
    let size = 0;
    for (let i = 0; i < sig.count; i++) if (this.insert(i)) size++;
    this.size = size;
  }

  private sameStrong(a: number, b: number): boolean {
    const len = this.sig.strongLength;
    const s = this.sig.strongSums;
    for (let k = 0; k < len; k++) if (s[a * len + k] !== s[b * len + k]) return false;
    return true;
  }

  private insert(block: number): boolean {
    const weak = this.sig.weakSums[block]!;
    const h = Math.imul(weak, MIX);
    const f = h >>> this.filterShift;
    this.filter[f >>> 5]! |= 1 << (f & 31);
    let slot = h >>> this.tableShift;
    for (;;) {
      const v = this.slots[slot]!;
      if (v === 0) {
        this.keys[slot] = weak;
        this.slots[slot] = block + 1;
        return true;
      }
      if (this.keys[slot] === weak && this.sameStrong(v - 1, block)) return false;
      slot = (slot + 1) & this.tableMask;
    }
  }

  /** Whether some block has the weak sum `weak` (the miss loop in delta.ts inlines this). */
  hasWeak(weak: number): boolean {
    const hm = Math.imul(weak, MIX);
    const f = hm >>> this.filterShift;
    if ((this.filter[f >>> 5]! & (1 << (f & 31))) === 0) return false;
    for (let slot = hm >>> this.tableShift; ; slot = (slot + 1) & this.tableMask) {
      if (this.slots[slot] === 0) return false;
      if (this.keys[slot] === weak >>> 0) return true;
    }
  }

  /**
   * The block whose weak sum is `weak` and whose stored strong sum equals the first
   * `strongLength` bytes of `strong()`, or -1. `strong` is called at most once, and only if
   * some block has this weak sum.
   */
  find(weak: number, strong: () => Uint8Array): number {
    let slot = Math.imul(weak, MIX) >>> this.tableShift;
    let digest: Uint8Array | undefined;
    const len = this.sig.strongLength;
    const sums = this.sig.strongSums;
    for (;;) {
      const v = this.slots[slot]!;
      if (v === 0) return -1;
      if (this.keys[slot] === weak) {
        digest ??= strong();
        const base = (v - 1) * len;
        let k = 0;
        while (k < len && sums[base + k] === digest[k]) k++;
        if (k === len) return v - 1;
      }
      slot = (slot + 1) & this.tableMask;
    }
  }
}
