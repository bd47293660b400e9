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

/** The rollsum digest of `data[start, end)`, computed from scratch. */
export function rollsumDigest(data: Uint8Array, start = 0, end = data.length): number {
  let s1 = 0;
  let s2 = 0;
  for (let i = start; i < end; i++) {
    s1 += data[i]! + ROLLSUM_CHAR_OFFSET;
    s2 += s1;
  }
  return (((s2 & 0xffff) << 16) | (s1 & 0xffff)) >>> 0;
}

/** A rollsum over a window that can be grown, rotated by one byte, or shrunk from the front. */
export class Rollsum {
  private s1 = 0;
  private s2 = 0;
  /** Bytes currently in the window. */
  count = 0;

  /** Start over with the window `data[start, end)`. */
  reset(data: Uint8Array, start = 0, end = data.length): void {
    let s1 = 0;
    let s2 = 0;
    for (let i = start; i < end; i++) {
      s1 += data[i]! + ROLLSUM_CHAR_OFFSET;
      s2 += s1;
    }
    this.s1 = s1 & 0xffff;
    this.s2 = s2 & 0xffff;
    this.count = end - start;
  }

  /** Append bytes to the end of the window. */
  update(data: Uint8Array, start = 0, end = data.length): void {
    let s1 = this.s1;
    let s2 = this.s2;
    for (let i = start; i < end; i++) {
      s1 += data[i]! + ROLLSUM_CHAR_OFFSET;
      s2 += s1;
    }
    this.s1 = s1 & 0xffff;
    this.s2 = s2 & 0xffff;
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
