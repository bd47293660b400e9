/**
 * The delta encoder: finds the blocks of a signature in new data and writes COPY commands
 * for them and LITERAL commands for everything else, byte-identical to `rdiff delta`.
 *
 * The scan is librsync's, exactly (format doc §6): greedy with no look-ahead; while at least
 * one byte follows the current window, a miss rotates the rolling sum by one byte; after a
 * hit the next window starts right after the match and its weak sum is recomputed. At the
 * end of input the window shrinks from the front, so a short window is only ever a suffix of
 * the new data, which is how the basis's short last block can match. Adjacent hits merge into
 * one COPY only when they are contiguous in the basis, and a literal run is cut at
 * `maxLiteral` bytes (32768 in rdiff ≤ 2.3.2, 65533 from 2.3.3).
 *
 * Speed comes from the miss loop: it keeps the rolling state in locals and tests one filter
 * bit per byte, leaving the loop only on a filter hit, a literal cut, or the end of buffered
 * data. Memory is the signature's index plus a buffer of about one literal run and two
 * blocks, whatever the size of the new data.
 */
import { BlockIndex, MIX } from './block-index.js';
import { chunksOf, type ByteSource } from './byte-source.js';
import { MAX_LITERAL_2_3_2 } from './format.js';
import { DeltaWriter } from './delta-writer.js';
import { RK_ADJ, RK_INVM, RK_MULT, rabinKarpUpdate, rkPower } from './rabin-karp.js';
import { ROLLSUM_CHAR_OFFSET, rollsumUpdate } from './rollsum.js';
import { parseSignature, type Signature } from './signature.js';
import { createStrongHasher, type StrongHasher } from './strong-sum.js';
import { BackupError } from '../errors.js';

/** Options of {@link delta}. */
export interface DeltaOptions {
  /**
   * The longest literal command before a run is cut: 32768 (the default) gives the bytes of
   * rdiff 2.3.2 (Debian 12), 65533 those of rdiff 2.3.3 and later. Any value patches the same.
   */
  maxLiteral?: number;
}

/** Counts like `rdiff -s` prints. */
export interface DeltaStats {
  literalCmds: number;
  literalBytes: number;
  copyCmds: number;
  copyBytes: number;
}

/** A push-style delta encoder over one signature. */
export class DeltaEncoder {
  private readonly index: BlockIndex;
  private readonly writer = new DeltaWriter();
  private readonly maxLiteral: number;
  private readonly bl: number;
  private readonly rabinKarp: boolean;
  /** M^blockLength, the RabinKarp window factor of a full block. */
  private readonly mBlock: number;
  /** Literal chunk size when the signature has no blocks (rdiff's "slack delta"). */
  private readonly slackChunk: number;
  private buf: Uint8Array;
  private avail = 0;
  private p = 0;
  private litStart = 0;
  private cpos = 0;
  private clen = 0;
  /** Length of the window whose weak sum is held, 0 when none is. */
  private wlen = 0;
  /** RabinKarp state: hash and M^wlen; rollsum state: s1 and s2. */
  private a = 0;
  private b = 0;

  constructor(
    readonly sig: Signature,
    private readonly hasher: StrongHasher,
    options: DeltaOptions = {},
  ) {
    if (hasher.kind !== sig.strong) throw new BackupError('EINTERNAL', 'strong hasher kind does not match the signature');
    const maxLiteral = options.maxLiteral ?? MAX_LITERAL_2_3_2;
    if (!Number.isSafeInteger(maxLiteral) || maxLiteral < 1 || maxLiteral > 0xffffffff) {
      throw new BackupError('EPARAM', `maxLiteral must be a whole number from 1 to 2^32-1, not ${maxLiteral}`);
    }
    this.maxLiteral = maxLiteral;
    this.bl = sig.blockLength;
    this.rabinKarp = sig.weak === 'rabinkarp';
    this.mBlock = rkPower(this.bl);
    this.slackChunk = maxLiteral === MAX_LITERAL_2_3_2 ? this.bl : 4 * (65536 + this.bl);
    this.index = new BlockIndex(sig);
    this.buf = new Uint8Array(Math.max(1 << 20, 2 * maxLiteral + 4 * Math.min(this.bl, 1 << 24)));
  }

  /** Counts of the commands written so far. */
  get stats(): DeltaStats {
    return { ...this.writer.stats };
  }

  private append(chunk: Uint8Array): void {
    if (this.avail + chunk.length > this.buf.length) {
      const keep = this.litStart;
      const live = this.avail - keep;
      if (live + chunk.length > this.buf.length) {
        const bigger = new Uint8Array(Math.max(2 * this.buf.length, live + chunk.length));
        bigger.set(this.buf.subarray(keep, this.avail));
        this.buf = bigger;
      } else {
        this.buf.copyWithin(0, keep, this.avail);
      }
      this.avail -= keep;
      this.p -= keep;
      this.litStart = 0;
    }
    this.buf.set(chunk, this.avail);
    this.avail += chunk.length;
  }

  /** Feed the next chunk of new data; returns any delta bytes that are complete. */
  push(chunk: Uint8Array): Uint8Array[] {
    this.append(chunk);
    if (this.sig.count === 0) this.slack(false);
    else this.scan(false);
    return this.writer.take();
  }

  /** Finish: the rest of the delta, END included. */
  end(): Uint8Array[] {
    if (this.sig.count === 0) this.slack(true);
    else this.scan(true);
    this.flush(this.p);
    this.writer.end();
    return this.writer.take(true);
  }

  private slack(eof: boolean): void {
    const n = this.slackChunk;
    while (this.avail - this.litStart >= n || (eof && this.avail > this.litStart)) {
      const end = Math.min(this.avail, this.litStart + n);
      this.writer.literal(this.buf, this.litStart, end);
      this.litStart = end;
    }
    this.p = this.litStart;
  }

  private flush(p: number): void {
    if (this.clen > 0) {
      this.writer.copy(this.cpos, this.clen);
      this.clen = 0;
    } else if (p > this.litStart) {
      this.writer.literal(this.buf, this.litStart, p);
      this.litStart = p;
    }
  }

  private resetWeak(start: number, end: number): void {
    if (this.rabinKarp) {
      this.a = rabinKarpUpdate(1, this.buf, start, end);
      this.b = end - start === this.bl ? this.mBlock : rkPower(end - start);
    } else {
      const d = rollsumUpdate(0, 0, this.buf, start, end);
      this.a = d & 0xffff;
      this.b = d >>> 16;
    }
  }

  private weakDigest(): number {
    return this.rabinKarp ? this.a >>> 0 : ((this.b << 16) | this.a) >>> 0;
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

  private scan(eof: boolean): void {
    const bl = this.bl;
    let p = this.p;
    for (;;) {
      const avail = this.avail;
      const phase1 = p + bl < avail;
      if (!phase1 && (!eof || p >= avail)) break;
      if (this.wlen === 0) {
        this.wlen = phase1 ? bl : avail - p;
        this.resetWeak(p, p + this.wlen);
      }
      const weak = this.weakDigest();
      let block = -1;
      if (this.index.hasWeak(weak)) {
        const end = p + this.wlen;
        block = this.index.find(weak, () => this.hasher.digest(this.buf, p, end));
      }
      if (block >= 0) {
        const off = block * bl;
        const len = this.wlen;
        if (this.clen > 0 && this.cpos + this.clen === off) {
          this.clen += len;
        } else {
          this.flush(p);
          this.cpos = off;
          this.clen = len;
        }
        p += len;
        this.litStart = p;
        this.wlen = 0;
      } else if (phase1) {
        if (this.clen > 0) this.flush(p);
        p = this.rabinKarp ? this.missRunRabinKarp(p) : this.missRunRollsum(p);
      } else {
        this.rollout(this.buf[p]!);
        if (this.clen > 0 || p - this.litStart >= this.maxLiteral) this.flush(p);
        p++;
      }
    }
    this.p = p;
  }

  /**
   * The window at `p` missed: roll forward one byte at a time while no block has the weak
   * sum and a byte follows the window. The filter test and the table probe are inlined so the
   * loop only returns when a block's weak sum really matches (then the strong sum decides)
   * or the buffered data runs out. Returns the position of the next window to look up.
   * Every partial sum is folded with `| 0`: an int32 overflow in an unfolded sum makes V8
   * deoptimise and recompile the loop with doubles, at half the speed.
   */
  private missRunRabinKarp(p: number): number {
    const buf = this.buf;
    const bl = this.bl;
    const end1 = this.avail - bl;
    const { filter, filterShift, keys, slots, tableShift, tableMask } = this.index;
    const mn = this.b;
    let h = this.a;
    let flushAt = this.litStart + this.maxLiteral;
    scan: for (;;) {
      if (p >= flushAt) {
        this.flush(p);
        flushAt = p + this.maxLiteral;
      }
      h = (((Math.imul(h, RK_MULT) + buf[p + bl]!) | 0) - Math.imul(mn, buf[p]! + RK_ADJ)) | 0;
      p++;
      if (p >= end1) break;
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

  private missRunRollsum(p: number): number {
    const buf = this.buf;
    const bl = this.bl;
    const end1 = this.avail - bl;
    const { filter, filterShift, keys, slots, tableShift, tableMask } = this.index;
    let s1 = this.a;
    let s2 = this.b;
    let flushAt = this.litStart + this.maxLiteral;
    scan: for (;;) {
      if (p >= flushAt) {
        this.flush(p);
        flushAt = p + this.maxLiteral;
      }
      const out = buf[p]!;
      s1 = (s1 + buf[p + bl]! - out) & 0xffff;
      s2 = (((s2 + s1) | 0) - Math.imul(bl, out + ROLLSUM_CHAR_OFFSET)) & 0xffff;
      p++;
      if (p >= end1) break;
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

function isSignature(x: unknown): x is Signature {
  return typeof x === 'object' && x !== null && (x as Signature).weakSums instanceof Uint32Array;
}

/**
 * Stream the delta that turns the basis described by `sig` into `newData`. `sig` is a parsed
 * {@link Signature} or the bytes of a signature file.
 */
export async function* delta(
  sig: Signature | ByteSource,
  newData: ByteSource,
  options: DeltaOptions = {},
): AsyncGenerator<Uint8Array, void, undefined> {
  const signature = isSignature(sig) ? sig : await parseSignature(sig);
  const encoder = new DeltaEncoder(signature, await createStrongHasher(signature.strong), options);
  for await (const chunk of chunksOf(newData)) {
    for (const out of encoder.push(chunk)) yield out;
  }
  for (const out of encoder.end()) yield out;
}
