/**
 * The RabinKarp polynomial rolling hash librsync uses by default (signature magics …46, …47).
 *
 * h = seed·M^n + Σ x_i·M^(n−i) mod 2^32, seed 1. Multiplication mod 2^32 is `Math.imul`, so
 * every step is exact 32-bit integer arithmetic with no BigInt. Rotating subtracts the
 * outgoing byte's term M^n·(out + ADJ), where ADJ folds the seed term in; shrinking from the
 * front divides the window's M^n by M through the modular inverse. Because of the seed,
 * windows of zeros of different lengths hash differently.
 */

/** The multiplier (librsync's RABINKARP_MULT). */
export const RK_MULT = 0x08104225;
/** The inverse of {@link RK_MULT} mod 2^32. */
export const RK_INVM = 0x98f009ad;
/** (M − 1)·seed, folded into each outgoing byte when rotating. */
export const RK_ADJ = 0x08104224;
const RK_SEED = 1;

const P1 = RK_MULT;
const P2 = Math.imul(P1, RK_MULT);
const P3 = Math.imul(P2, RK_MULT);
const P4 = Math.imul(P3, RK_MULT);
const P5 = Math.imul(P4, RK_MULT);
const P6 = Math.imul(P5, RK_MULT);
const P7 = Math.imul(P6, RK_MULT);
const P8 = Math.imul(P7, RK_MULT);

/**
 * The RabinKarp digest of `data[start, end)`, computed from scratch, continuing from `h`.
 *
 * Eight bytes a step: h·M^8 + Σ x_k·M^(7−k). The eight products are independent, so only one
 * multiply sits on the loop-carried chain, and every partial sum is folded back to int32
 * with `| 0` so V8 keeps the arithmetic in integer registers (without that it falls back to
 * doubles and runs 5× slower). Measured ~1.4 GB/s against ~0.4 GB/s for the byte loop.
 */
export function rabinKarpUpdate(h: number, data: Uint8Array, start: number, end: number): number {
  let i = start;
  const end8 = start + ((end - start) & ~7);
  for (; i < end8; i += 8) {
    const a = (Math.imul(data[i]!, P7) + Math.imul(data[i + 1]!, P6)) | 0;
    const b = (Math.imul(data[i + 2]!, P5) + Math.imul(data[i + 3]!, P4)) | 0;
    const c = (Math.imul(data[i + 4]!, P3) + Math.imul(data[i + 5]!, P2)) | 0;
    const d = (Math.imul(data[i + 6]!, P1) + data[i + 7]!) | 0;
    h = (Math.imul(h, P8) + ((a + b) | 0) + ((c + d) | 0)) | 0;
  }
  for (; i < end; i++) h = (Math.imul(h, RK_MULT) + data[i]!) | 0;
  return h;
}

/** The RabinKarp digest of `data[start, end)`, computed from scratch. */
export function rabinKarpDigest(data: Uint8Array, start = 0, end = data.length): number {
  return rabinKarpUpdate(RK_SEED, data, start, end) >>> 0;
}

/** M^n mod 2^32. */
export function rkPower(n: number): number {
  let result = 1;
  let base = RK_MULT;
  while (n > 0) {
    if (n & 1) result = Math.imul(result, base);
    base = Math.imul(base, base);
    n = Math.floor(n / 2);
  }
  return result | 0;
}

/** A RabinKarp hash over a window that can be grown, rotated by one byte, or shrunk from the front. */
export class RabinKarp {
  private h = RK_SEED;
  private mn = 1;
  /** Bytes currently in the window. */
  count = 0;

  /** Start over with the window `data[start, end)`. */
  reset(data: Uint8Array, start = 0, end = data.length): void {
    this.h = RK_SEED;
    this.mn = 1;
    this.count = 0;
    this.update(data, start, end);
  }

  /** Append bytes to the end of the window. */
  update(data: Uint8Array, start = 0, end = data.length): void {
    this.h = rabinKarpUpdate(this.h, data, start, end);
    this.mn = Math.imul(this.mn, rkPower(end - start));
    this.count += end - start;
  }

  /** Slide the window one byte: `out` leaves the front, `inn` joins the end. */
  rotate(out: number, inn: number): void {
    this.h = (Math.imul(this.h, RK_MULT) + inn - Math.imul(this.mn, out + RK_ADJ)) | 0;
  }

  /** Drop `out` from the front of the window. */
  rollout(out: number): void {
    this.count -= 1;
    this.mn = Math.imul(this.mn, RK_INVM);
    this.h = (this.h - Math.imul(this.mn, out + RK_ADJ)) | 0;
  }

  /** The current 32-bit digest. */
  digest(): number {
    return this.h >>> 0;
  }
}
