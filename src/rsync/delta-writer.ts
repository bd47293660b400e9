/**
 * Writes delta commands in librsync's encoding (README §5): a literal of n ≤ 64 bytes is
 * the single opcode n; longer ones use the smallest of LITERAL_N1/N2/N4. A COPY picks the
 * smallest width in {1, 2, 4, 8} for offset and length independently. Output is gathered
 * into chunks of about 256 KiB so consumers see few, large writes.
 */
import { DELTA_MAGIC } from './format.js';

const OP_LITERAL_N1 = 0x41;
const OP_COPY_BASE = 0x45;
const CHUNK = 256 * 1024;

function widthCode(v: number): number {
  if (v <= 0xff) return 0;
  if (v <= 0xffff) return 1;
  if (v <= 0xffffffff) return 2;
  return 3;
}

/** Accumulates encoded delta commands and hands them out in chunks. */
export class DeltaWriter {
  // The first chunk is small and each next one twice as big, up to CHUNK: a small delta
  // then costs a small buffer.
  private buf = new Uint8Array(4096);
  private len = 0;
  private readonly ready: Uint8Array[] = [];
  /** Commands and bytes written, like `rdiff -s`'s statistics. */
  readonly stats = { literalCmds: 0, literalBytes: 0, copyCmds: 0, copyBytes: 0 };

  constructor() {
    this.u32(DELTA_MAGIC);
  }

  /** Callers reserve room for a whole command first, so no write below ever splits one. */
  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    if (this.len > 0) this.ready.push(this.buf.subarray(0, this.len));
    this.buf = new Uint8Array(Math.max(Math.min(2 * this.buf.length, CHUNK), n));
    this.len = 0;
  }

  private u8(v: number): void {
    this.buf[this.len++] = v;
  }

  private u32(v: number): void {
    this.buf[this.len++] = v >>> 24;
    this.buf[this.len++] = (v >>> 16) & 0xff;
    this.buf[this.len++] = (v >>> 8) & 0xff;
    this.buf[this.len++] = v & 0xff;
  }

  private uint(v: number, code: number): void {
    switch (code) {
      case 0:
        this.u8(v);
        return;
      case 1:
        this.u8(v >>> 8);
        this.u8(v & 0xff);
        return;
      case 2:
        this.u32(v);
        return;
      default:
        this.u32(Math.floor(v / 2 ** 32));
        this.u32(v >>> 0);
    }
  }

  /** Emit a LITERAL command carrying `data[start, end)` (end > start). */
  literal(data: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.reserve(5 + n);
    if (n <= 64) {
      this.u8(n);
    } else {
      const code = widthCode(n);
      this.u8(OP_LITERAL_N1 + code);
      this.uint(n, code);
    }
    this.buf.set(data.subarray(start, end), this.len);
    this.len += n;
    this.stats.literalCmds++;
    this.stats.literalBytes += n;
  }

  /** Emit a COPY command (len > 0). */
  copy(offset: number, len: number): void {
    this.reserve(17);
    const oc = widthCode(offset);
    const lc = widthCode(len);
    this.u8(OP_COPY_BASE + 4 * oc + lc);
    this.uint(offset, oc);
    this.uint(len, lc);
    this.stats.copyCmds++;
    this.stats.copyBytes += len;
  }

  /** Emit END. */
  end(): void {
    this.reserve(1);
    this.u8(0);
  }

  /** Take the chunks completed so far; with `all`, the partial one too. */
  take(all = false): Uint8Array[] {
    if (all && this.len > 0) {
      this.ready.push(this.buf.subarray(0, this.len));
      this.buf = new Uint8Array(Math.min(2 * this.buf.length, CHUNK));
      this.len = 0;
    }
    return this.ready.splice(0, this.ready.length);
  }
}
