/**
 * The match scan of the delta encoder: where, greedily, do signature blocks occur in new
 * data? This is librsync's scan exactly (README §6): while a byte follows the current
 * window, a miss rotates the rolling sum by one byte; after a hit the next window starts
 * right after the match and its weak sum is recomputed; at the end of input the window
 * shrinks from the front, so a short window is only ever a suffix of the data.
 *
 * The scan knows nothing of delta commands: it reports matches and the emitter turns the
 * gaps between them into literals. That split is what lets scans of different segments run
 * on different threads (see `src/engine/parallel-delta.ts`): the result of a scan depends
 * only on the position it starts from, because the rolling sum of a window is a function of
 * the window's bytes alone.
 *
 * Speed comes from the miss loops: they keep the rolling state in locals, test one filter
 * bit per byte and probe the table inline, leaving the loop only when a block's weak sum
 * really matches (the strong sum then decides) or the buffered data runs out.
 */
import { BlockIndex, MIX } from './block-index.js';
import { RK_ADJ, RK_INVM, RK_MULT, rabinKarpUpdate, rkPower } from './rabin-karp.js';
import { ROLLSUM_CHAR_OFFSET, rollsumUpdate } from './rollsum.js';
import type { StrongHasher } from './strong-sum.js';

/** Receives a match: the window at `pos` (an index into the scanned buffer) is `block`, `len` bytes long. */
export type MatchSink = (pos: number, block: number, len: number) => void;

/** A resumable greedy scan over buffers of new data. */
export class MatchScanner {
  private readonly bl: number;
  private readonly rabinKarp: boolean;
  /** M^blockLength, the RabinKarp window factor of a full block. */
  private readonly mBlock: number;
  /** Length of the window whose weak sum is held, 0 when none is. */
  private wlen = 0;
  /** RabinKarp state: hash and M^wlen; rollsum state: s1 and s2. */
  private a = 0;
  private b = 0;

  constructor(
    readonly index: BlockIndex,
    private readonly hasher: StrongHasher,
  ) {
    this.bl = index.sig.blockLength;
    this.rabinKarp = index.sig.weak === 'rabinkarp';
    this.mBlock = rkPower(this.bl);
  }

  /** Forget the current window, so the next scan starts fresh wherever it is told to. */
  reset(): void {
    this.wlen = 0;
  }

  /**
   * Try windows of `buf` starting at `p`, `p+1`, … (skipping past each match) while they
   * start before `stopAt`. `buf[0, avail)` holds data; unless `eof`, a window is only tried
   * when at least one byte follows it. Returns where the scan stopped: the next window to
   * try. The window's rolling sum is kept, so a later call may resume at that position in a
   * buffer whose bytes were moved (positions are only ever relative to the buffer passed).
   */
  scan(buf: Uint8Array, p: number, avail: number, eof: boolean, stopAt: number, onMatch: MatchSink): number {
    const bl = this.bl;
    while (p < stopAt) {
      const phase1 = p + bl < avail;
      if (!phase1 && (!eof || p >= avail)) break;
      if (this.wlen === 0) {
        this.wlen = phase1 ? bl : avail - p;
        this.resetWeak(buf, p, p + this.wlen);
      }
      const weak = this.rabinKarp ? this.a >>> 0 : ((this.b << 16) | this.a) >>> 0;
      let block = -1;
      if (this.index.hasWeak(weak)) {
        const end = p + this.wlen;
        block = this.index.find(weak, () => this.hasher.digest(buf, p, end));
      }
      if (block >= 0) {
        onMatch(p, block, this.wlen);
        p += this.wlen;
        this.wlen = 0;
      } else if (phase1) {
        p = this.rabinKarp
          ? this.missRunRabinKarp(buf, p, Math.min(avail - bl, stopAt))
          : this.missRunRollsum(buf, p, Math.min(avail - bl, stopAt));
      } else {
        this.rollout(buf[p]!);
        p++;
      }
    }
    return p;
  }

  private resetWeak(buf: Uint8Array, start: number, end: number): void {
    if (this.rabinKarp) {
      this.a = rabinKarpUpdate(1, buf, start, end);
      this.b = end - start === this.bl ? this.mBlock : rkPower(end - start);
    } else {
      const d = rollsumUpdate(0, 0, buf, start, end);
      this.a = d & 0xffff;
      this.b = d >>> 16;
    }
  }

  /** Drop the window's first byte (end of input: the window shrinks towards the end). */
  private rollout(out: number): void {
    if (this.rabinKarp) {
      this.b = Math.imul(this.b, RK_INVM);
      this.a = (this.a - Math.imul(this.b, out + RK_ADJ)) | 0;
    } else {
      this.a = (this.a - (out + ROLLSUM_CHAR_OFFSET)) & 0xffff;
      this.b = (this.b - Math.imul(this.wlen, out + ROLLSUM_CHAR_OFFSET)) & 0xffff;
    }
    this.wlen--;
  }

  /**
   * The window at `p` missed: roll forward while no block has the weak sum and `p < end`.
   * Every partial sum is folded with `| 0`: an int32 overflow in an unfolded sum makes V8
   * deoptimise and recompile the loop with doubles, at half the speed.
   */
  private missRunRabinKarp(buf: Uint8Array, p: number, end: number): number {
    const bl = this.bl;
    const { filter, filterShift, keys, slots, tableShift, tableMask } = this.index;
    const mn = this.b;
    let h = this.a;
    scan: for (;;) {
      h = (((Math.imul(h, RK_MULT) + buf[p + bl]!) | 0) - Math.imul(mn, buf[p]! + RK_ADJ)) | 0;
      p++;
      if (p >= end) break;
      const hm = Math.imul(h, MIX);
      const f = hm >>> filterShift;
      if ((filter[f >>> 5]! & (1 << (f & 31))) !== 0) {
        const weak = h >>> 0;
        for (let slot = hm >>> tableShift; slots[slot] !== 0; slot = (slot + 1) & tableMask) {
          if (keys[slot] === weak) break scan;
        }
      }
    }
    this.a = h;
    return p;
  }

  private missRunRollsum(buf: Uint8Array, p: number, end: number): number {
    const bl = this.bl;
    const { filter, filterShift, keys, slots, tableShift, tableMask } = this.index;
    let s1 = this.a;
    let s2 = this.b;
    scan: for (;;) {
      const out = buf[p]!;
      s1 = (s1 + buf[p + bl]! - out) & 0xffff;
      s2 = (((s2 + s1) | 0) - Math.imul(bl, out + ROLLSUM_CHAR_OFFSET)) & 0xffff;
      p++;
      if (p >= end) break;
      const weak = ((s2 << 16) | s1) >>> 0;
      const hm = Math.imul(weak, MIX);
      const f = hm >>> filterShift;
      if ((filter[f >>> 5]! & (1 << (f & 31))) !== 0) {
        for (let slot = hm >>> tableShift; slots[slot] !== 0; slot = (slot + 1) & tableMask) {
          if (keys[slot] === weak) break scan;
        }
      }
    }
    this.a = s1;
    this.b = s2;
    return p;
  }
}
