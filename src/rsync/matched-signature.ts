/**
 * The signature of new data, taking the records of unchanged blocks from the old signature.
 *
 * A backup that delta-encodes a changed file also signs its new version, from the same read.
 * The delta's matches already say which windows of the new data are blocks of the old file:
 * a match of old block k at position b means the window's weak sum equals k's and its strong
 * sum, truncated as stored, equals k's. When b is where a block of the new signature starts
 * and the window is that block's length, the new record for that block is therefore exactly
 * old record k, byte for byte: copied, not computed. For the commonest changes (edits in
 * place, appends) that is nearly every block, and the signature costs almost nothing next to
 * the delta; the blocks no match covers are hashed as {@link SignatureEncoder} hashes them.
 * The output is always byte-identical to `SignatureEncoder`'s over the same data.
 *
 * A record is copied only when it would be the same bytes: the two signatures share their
 * weak and strong sum kinds, and the new strong sums are no longer than the old. Otherwise
 * every block is hashed.
 *
 * Order: a block can be recorded once the delta's scan has passed its start (a match there
 * would have been reported), so the caller pushes each chunk with the delta's scan position
 * ({@link DeltaEncoder.scanned}); the few bytes the scan has not passed are kept, at most
 * about two blocks beyond what the scan holds back.
 */
import { DeltaBuffer } from './delta.js';
import type { SignatureParams } from './format.js';
import { weakDigestFn, type Signature } from './signature.js';
import type { StrongHasher } from './strong-sum.js';
import { BackupError } from '../errors.js';

/** Computes signature records of new data, reusing an old signature's for matched blocks. */
export class MatchedSignature {
  private readonly data = new DeltaBuffer(64 << 10);
  private readonly weakFn: (data: Uint8Array, start: number, end: number) => number;
  private readonly recordLen: number;
  private readonly reuse: boolean;
  /** Matches at block starts not yet recorded: position, then old block index. */
  private readonly matches: number[] = [];
  private matchAt = 0;
  /** Absolute offset of the next block to record. */
  private pos = 0;
  /** Blocks recorded so far. */
  blocks = 0;
  /** Of those, the blocks whose records were copied from the old signature. */
  copied = 0;

  constructor(
    readonly params: SignatureParams,
    private readonly old: Signature,
    private readonly hasher: StrongHasher,
  ) {
    if (hasher.kind !== params.strong) throw new BackupError('EINTERNAL', 'strong hasher kind does not match the signature');
    this.weakFn = weakDigestFn(params.weak);
    this.recordLen = 4 + params.strongLength;
    this.reuse = old.weak === params.weak && old.strong === params.strong && old.strongLength >= params.strongLength;
  }

  /**
   * Note a match of the delta: old block `block` is the window of `len` bytes at `pos`.
   * Matches come in position order; only those at a block start of the new signature count.
   */
  match(pos: number, block: number, len: number): void {
    if (!this.reuse || pos % this.params.blockLength !== 0 || len > this.params.blockLength) return;
    this.matches.push(pos, block, len);
  }

  /**
   * Feed the next chunk of new data; the delta's scan has decided every window that starts
   * before `scanned`. Returns the records of the blocks that could be completed.
   */
  push(chunk: Uint8Array, scanned: number): Uint8Array {
    this.data.append(chunk, this.pos);
    return this.records(scanned, false);
  }

  /** The records of the rest, short last block included: the delta has ended. */
  end(): Uint8Array {
    return this.records(Infinity, true);
  }

  private records(scanned: number, eof: boolean): Uint8Array {
    const bl = this.params.blockLength;
    const { buf, base } = this.data;
    const end = this.data.end;
    let count = 0;
    for (let b = this.pos; b < scanned && (b + bl <= end || (eof && b < end)); b += bl) count++;
    const out = new Uint8Array(count * this.recordLen);
    for (let i = 0; i < count; i++) {
      const b = this.pos;
      const len = Math.min(bl, end - b);
      this.record(out, i * this.recordLen, buf, b - base, len, b);
      this.pos += len;
    }
    return out;
  }

  private record(out: Uint8Array, at: number, buf: Uint8Array, start: number, len: number, pos: number): void {
    const k = this.matchedBlock(pos, len);
    const sl = this.params.strongLength;
    let weak: number;
    if (k >= 0) {
      weak = this.old.weakSums[k]!;
      const from = k * this.old.strongLength;
      out.set(this.old.strongSums.subarray(from, from + sl), at + 4);
      this.copied++;
    } else {
      weak = this.weakFn(buf, start, start + len);
      out.set(this.hasher.digest(buf, start, start + len).subarray(0, sl), at + 4);
    }
    out[at] = weak >>> 24;
    out[at + 1] = (weak >>> 16) & 0xff;
    out[at + 2] = (weak >>> 8) & 0xff;
    out[at + 3] = weak & 0xff;
    this.blocks++;
  }

  /** The old block that is exactly the new block at `pos` of `len` bytes, or -1. */
  private matchedBlock(pos: number, len: number): number {
    const m = this.matches;
    while (this.matchAt < m.length && m[this.matchAt]! < pos) this.matchAt += 3;
    if (this.matchAt > 4096) {
      m.splice(0, this.matchAt);
      this.matchAt = 0;
    }
    if (this.matchAt < m.length && m[this.matchAt] === pos && m[this.matchAt + 2] === len) return m[this.matchAt + 1]!;
    return -1;
  }
}
