/**
 * The rsync/Adler-style rolling checksum librsync calls "rollsum" (signature magics …36, …37).
 *
 * s1 is the sum of (byte + 31), s2 the sum of the running s1 values, both mod 2^16, and the
 * digest is (s2 << 16) | s1. There is no modulus by a prime (unlike Adler-32), which makes
 * rolling a window by one byte two additions and a multiply. librsync keeps s1/s2 in wider
 * integers, but only the low 16 bits ever reach the digest, so 16-bit wrapping is exact.
 */

/** Added to every byte so that runs of zeros still move the sums (rsync's CHAR_OFFSET). */
export const ROLLSUM_CHAR_OFFSET = 31;

/**
 * Add `data[start, end)` to the sums (s1, s2), eight bytes a step: s2 gains 8·s1 plus the
 * bytes weighted 8..1, s1 gains their sum; offsets are folded into constants (8·31 = 248,
 * 31·(8+…+1) = 1116). Partial sums are folded to int32 so V8 stays in integer registers.
 * Returns s1 in the low and s2 in the high 16 bits.
 */
export function rollsumUpdate(s1: number, s2: number, data: Uint8Array, start: number, end: number): number {
  let i = start;
  const end8 = start + ((end - start) & ~7);
  for (; i < end8; i += 8) {
    const a = data[i]!;
    const b = data[i + 1]!;
    const c = data[i + 2]!;
    const d = data[i + 3]!;
    const e = data[i + 4]!;
    const f = data[i + 5]!;
    const g = data[i + 6]!;
    const h = data[i + 7]!;
    s2 = (((s2 + (s1 << 3)) | 0) + ((8 * a + 7 * b + 6 * c + 5 * d) | 0) + ((4 * e + 3 * f + 2 * g + h) | 0) + 1116) | 0;
    s1 = (s1 + ((a + b + c + d) | 0) + ((e + f + g + h) | 0) + 248) | 0;
  }
  for (; i < end; i++) {
    s1 = (s1 + data[i]! + ROLLSUM_CHAR_OFFSET) | 0;
    s2 = (s2 + s1) | 0;
  }
  return (((s2 & 0xffff) << 16) | (s1 & 0xffff)) >>> 0;
}

/** The rollsum digest of `data[start, end)`, computed from scratch. */
export function rollsumDigest(data: Uint8Array, start = 0, end = data.length): number {
  return rollsumUpdate(0, 0, data, start, end);
}

/** A rollsum over a window that can be grown, rotated by one byte, or shrunk from the front. */
export class Rollsum {
  private s1 = 0;
  private s2 = 0;
  /** Bytes currently in the window. */
  count = 0;

  /** Start over with the window `data[start, end)`. */
  reset(data: Uint8Array, start = 0, end = data.length): void {
    this.s1 = 0;
    this.s2 = 0;
    this.count = 0;
    this.update(data, start, end);
  }

  /** Append bytes to the end of the window. */
  update(data: Uint8Array, start = 0, end = data.length): void {
    const d = rollsumUpdate(this.s1, this.s2, data, start, end);
    this.s1 = d & 0xffff;
    this.s2 = d >>> 16;
    this.count += end - start;
  }

  /** Slide the window one byte: `out` leaves the front, `inn` joins the end. */
  rotate(out: number, inn: number): void {
    this.s1 = (this.s1 + inn - out) & 0xffff;
    this.s2 = (this.s2 + this.s1 - this.count * (out + ROLLSUM_CHAR_OFFSET)) & 0xffff;
  }

  /** Drop `out` from the front of the window. */
  rollout(out: number): void {
    this.s1 = (this.s1 - (out + ROLLSUM_CHAR_OFFSET)) & 0xffff;
    this.s2 = (this.s2 - this.count * (out + ROLLSUM_CHAR_OFFSET)) & 0xffff;
    this.count -= 1;
  }

  /** The current 32-bit digest. */
  digest(): number {
    return ((this.s2 << 16) | this.s1) >>> 0;
  }
}
