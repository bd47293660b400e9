/**
 * Turns matches into delta commands, as librsync's encoder does: adjacent matches merge into
 * one COPY only when they are contiguous in the basis too, and everything between matches is
 * literal, cut into commands of exactly `maxLiteral` bytes from the start of each run (the
 * last command of a run takes the rest). That cut depends only on where the run starts, so
 * complete literal commands can be written as soon as the scan has passed them, which keeps
 * the encoder's buffer bounded on data with no matches at all.
 *
 * Positions are absolute offsets in the new data; the caller passes the buffer holding the
 * bytes and the absolute offset of its first byte.
 */
import type { DeltaWriter } from './delta-writer.js';

/** Emits COPY and LITERAL commands from matches. */
export class DeltaEmitter {
  /** Absolute start of the pending literal run (everything before it is written). */
  litStart = 0;
  private cpos = 0;
  private clen = 0;

  constructor(
    readonly writer: DeltaWriter,
    private readonly maxLiteral: number,
    private readonly blockLength: number,
  ) {}

  private flushCopy(): void {
    if (this.clen > 0) {
      this.writer.copy(this.cpos, this.clen);
      this.clen = 0;
    }
  }

  /** Write the pending literal run up to `end`; only complete commands unless `all`. */
  private literals(end: number, buf: Uint8Array, base: number, all: boolean): void {
    while (end - this.litStart >= this.maxLiteral || (all && end > this.litStart)) {
      this.flushCopy();
      const stop = Math.min(end, this.litStart + this.maxLiteral);
      this.writer.literal(buf, this.litStart - base, stop - base);
      this.litStart = stop;
    }
  }

  /** The window at absolute `pos` matched basis block `block`, `len` bytes. */
  match(pos: number, block: number, len: number, buf: Uint8Array, base: number): void {
    const offset = block * this.blockLength;
    if (pos > this.litStart) {
      this.literals(pos, buf, base, true);
    } else if (this.clen > 0 && this.cpos + this.clen === offset) {
      this.clen += len;
      this.litStart = pos + len;
      return;
    }
    this.flushCopy();
    this.cpos = offset;
    this.clen = len;
    this.litStart = pos + len;
  }

  /** The scan has passed `pos` without a match: write the complete literal commands before it. */
  passed(pos: number, buf: Uint8Array, base: number): void {
    this.literals(pos, buf, base, false);
  }

  /** The data ends at `end`: write everything pending. */
  finish(end: number, buf: Uint8Array, base: number): void {
    this.literals(end, buf, base, true);
    this.flushCopy();
    this.writer.end();
  }
}
