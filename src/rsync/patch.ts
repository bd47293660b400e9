/**
 * Applies a delta to a basis and streams the result (README §7).
 *
 * The basis must be random-access: COPY commands may point anywhere, in any order, and may
 * repeat or overlap. Output is gathered into 1 MiB chunks: COPY data is read from the basis
 * straight into the chunk being filled and LITERAL data is copied in once, so a delta of
 * many small commands still reaches the consumer as a few large writes.
 *
 * Errors follow librsync: a zero-length command, an offset of 2^63 or more and a reserved
 * opcode are corrupt; a delta that ends inside a command or without END, or a COPY that
 * reaches past the end of the basis, is truncation (after the bytes that did exist are
 * written, as rdiff does). Bytes after END are ignored.
 *
 * The decoding is {@link DeltaReader}, exported with the windowed basis reader for callers
 * that carry out the commands their own way (the file-to-file patch in `src/engine` copies
 * COPYs inside the kernel).
 */
import { BackupError } from '../errors.js';
import { ChunkReader, chunksOf, readUintBE, type ByteSource } from './byte-source.js';
import { DELTA_MAGIC } from './format.js';

/** A basis that can be read at any position, such as a `fs.promises.FileHandle`. */
export interface RandomAccessBasis {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}

/** What {@link patch} can read the basis from. */
export type PatchBasis = Uint8Array | RandomAccessBasis;

const OUT_CHUNK = 1 << 20;
const WIDTHS = [1, 2, 4, 8] as const;

class OutputChunks {
  buf = new Uint8Array(OUT_CHUNK);
  len = 0;
  readonly full: Uint8Array[] = [];

  room(): number {
    if (this.len === this.buf.length) {
      this.full.push(this.buf);
      this.buf = new Uint8Array(OUT_CHUNK);
      this.len = 0;
    }
    return this.buf.length - this.len;
  }

  put(data: Uint8Array): void {
    let at = 0;
    while (at < data.length) {
      const n = Math.min(this.room(), data.length - at);
      this.buf.set(data.subarray(at, at + n), this.len);
      this.len += n;
      at += n;
    }
  }

  drain(all: boolean): Uint8Array[] {
    if (all && this.len > 0) {
      this.full.push(this.buf.subarray(0, this.len));
      this.buf = new Uint8Array(OUT_CHUNK);
      this.len = 0;
    }
    return this.full.splice(0, this.full.length);
  }
}

/** One command of a delta, as {@link DeltaReader} reads it. */
export type DeltaCommand =
  /** `length` bytes of new data follow in the delta: take them with {@link DeltaReader.literal}. */
  | { op: 'literal'; length: number }
  /** `length` bytes of the basis at `offset`. */
  | { op: 'copy'; offset: number; length: number }
  /** The delta's END: nothing after it is read. */
  | { op: 'end' };

/**
 * Reads a delta command by command (README §5, errors §7), with librsync's errors: the decoding shared
 * by {@link patch} and by callers that apply COPYs their own way (a file-to-file patch
 * copies them inside the kernel).
 */
export class DeltaReader {
  private readonly reader: ChunkReader;
  private started = false;
  private literalLeft = 0;

  constructor(delta: ByteSource) {
    this.reader = new ChunkReader(chunksOf(delta)[Symbol.asyncIterator]());
  }

  /** The next command. A literal's data must all be taken with {@link literal} first. */
  async next(): Promise<DeltaCommand> {
    const reader = this.reader;
    if (this.literalLeft > 0) throw new BackupError('EINTERNAL', 'a literal was not read before the next delta command');
    if (!this.started) {
      this.started = true;
      const magic = await reader.read(4);
      if (magic.length < 4) throw new BackupError('ETRUNCATED', 'delta ends inside its magic number');
      const m = readUintBE(magic, 0, 4);
      if (m !== DELTA_MAGIC) throw new BackupError('EBADMAGIC', `not a delta: bad magic 0x${m.toString(16).padStart(8, '0')}`);
    }
    const opByte = await reader.read(1);
    if (opByte.length === 0) throw new BackupError('ETRUNCATED', `delta ends without an END command at byte ${reader.consumed}`);
    const op = opByte[0]!;
    if (op === 0) return { op: 'end' };
    if (op <= 0x44) {
      const length = op <= 0x40 ? op : await this.param(WIDTHS[op - 0x41]!, 'length');
      if (length === 0) throw new BackupError('ECORRUPT', `delta has a zero-length literal at byte ${reader.consumed}`);
      this.literalLeft = length;
      return { op: 'literal', length };
    }
    if (op <= 0x54) {
      const code = op - 0x45;
      const offset = await this.param(WIDTHS[code >> 2]!, 'copy offset');
      const length = await this.param(WIDTHS[code & 3]!, 'copy length');
      if (length === 0) throw new BackupError('ECORRUPT', `delta has a zero-length copy at byte ${reader.consumed}`);
      return { op: 'copy', offset, length };
    }
    throw new BackupError('ECORRUPT', `delta has the reserved opcode 0x${op.toString(16)} at byte ${reader.consumed - 1}`);
  }

  /**
   * The next piece (at most `max` bytes, never empty) of the current literal's data: a view
   * of the delta's chunk, valid until the next read.
   */
  async literal(max: number): Promise<Uint8Array> {
    const piece = await this.reader.readSome(Math.min(max, this.literalLeft));
    if (piece.length === 0) throw new BackupError('ETRUNCATED', `delta ends inside literal data at byte ${this.reader.consumed}`);
    this.literalLeft -= piece.length;
    return piece;
  }

  /** Let the delta's source release its resources; it is not read to its end. */
  close(): Promise<void> {
    return this.reader.close();
  }

  private async param(width: number, what: string): Promise<number> {
    const bytes = await this.reader.read(width);
    if (bytes.length < width) throw new BackupError('ETRUNCATED', `delta ends inside the ${what} of a command at byte ${this.reader.consumed}`);
    if (width === 8 && bytes[0]! >= 0x80) {
      throw new BackupError('ECORRUPT', `delta has a ${what} of 2^63 or more at byte ${this.reader.consumed - 8}`);
    }
    return readUintBE(bytes, 0, width);
  }
}

/**
 * Apply `delta` to `basis`, yielding the new data in chunks. A `fs.promises.FileHandle`
 * works as the basis.
 */
export async function* patch(basis: PatchBasis, delta: ByteSource): AsyncGenerator<Uint8Array, void, undefined> {
  const reader = new DeltaReader(delta);
  const out = new OutputChunks();
  const source = new BasisReader(basis);
  try {
    for (;;) {
      const cmd = await reader.next();
      if (cmd.op === 'end') break;
      if (cmd.op === 'literal') {
        for (let left = cmd.length; left > 0; ) {
          const piece = await reader.literal(left);
          out.put(piece);
          left -= piece.length;
          if (out.full.length > 0) yield* out.drain(false);
        }
      } else {
        yield* copyFromBasis(source, cmd.offset, cmd.length, out);
      }
    }
  } catch (e) {
    yield* out.drain(true);
    throw e;
  } finally {
    await reader.close();
  }
  yield* out.drain(true);
}

const WINDOW = 1 << 20;

/**
 * Reads of a random-access basis through a 1 MiB window: the many short COPYs of a delta of
 * repetitive or finely edited data then cost a memory copy each instead of a system call
 * each. A read of a window or more goes straight into the output.
 */
export class BasisReader {
  private window: Uint8Array | undefined;
  private winStart = 0;
  private winLen = 0;

  /** Reads `basis`; read errors other than {@link BackupError}s become `EIO`. */
  constructor(private readonly basis: PatchBasis) {}

  private async pread(dst: Uint8Array, at: number, n: number, pos: number): Promise<number> {
    const basis = this.basis;
    if (basis instanceof Uint8Array) {
      const got = pos >= basis.length ? 0 : Math.min(n, basis.length - pos);
      dst.set(basis.subarray(pos, pos + got), at);
      return got;
    }
    // Node reads at the current file position for an unsafe integer position.
    if (pos > Number.MAX_SAFE_INTEGER) return 0;
    try {
      return (await basis.read(dst, at, n, pos)).bytesRead;
    } catch (e) {
      if (e instanceof BackupError) throw e;
      const why = e instanceof Error ? e.message : String(e);
      throw new BackupError('EIO', `reading the basis at offset ${pos}: ${why}`, { cause: e });
    }
  }

  /**
   * The size of a basis known to end at or before `limit`. A random-access basis has no size
   * to ask for, so this searches for the end with one-byte reads: at most 54 of them, and
   * only to name the size in the error of a COPY past the end.
   */
  async size(limit: number): Promise<number> {
    if (this.basis instanceof Uint8Array) return this.basis.length;
    const probe = new Uint8Array(1);
    let lo = 0;
    let hi = Math.min(limit, Number.MAX_SAFE_INTEGER);
    while (lo < hi) {
      const mid = lo + Math.floor((hi - lo) / 2);
      if ((await this.pread(probe, 0, 1, mid)) > 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Copy `n` bytes at `pos` into `dst[at…]`; returns fewer only at the end of the basis. */
  async read(dst: Uint8Array, at: number, n: number, pos: number): Promise<number> {
    if (this.basis instanceof Uint8Array || n >= WINDOW) {
      let done = 0;
      while (done < n) {
        const got = await this.pread(dst, at + done, n - done, pos + done);
        if (got === 0) break;
        done += got;
      }
      return done;
    }
    let done = 0;
    while (done < n) {
      const p = pos + done;
      if (!this.window || p < this.winStart || p >= this.winStart + this.winLen) {
        this.window ??= new Uint8Array(WINDOW);
        this.winStart = p;
        this.winLen = await this.pread(this.window, 0, WINDOW, p);
        if (this.winLen === 0) break;
      }
      const from = p - this.winStart;
      const take = Math.min(n - done, this.winLen - from);
      dst.set(this.window.subarray(from, from + take), at + done);
      done += take;
    }
    return done;
  }
}

/** Copy from the basis into `out`, handing out each chunk as it fills: a COPY may be gigabytes. */
async function* copyFromBasis(basis: BasisReader, offset: number, len: number, out: OutputChunks): AsyncGenerator<Uint8Array, void, undefined> {
  let pos = offset;
  let left = len;
  while (left > 0) {
    const room = Math.min(out.room(), left);
    const got = await basis.read(out.buf, out.len, room, pos);
    out.len += got;
    pos += got;
    left -= got;
    if (got < room) {
      // A COPY that read nothing only shows that the basis ends at or before its offset.
      const size = pos > offset ? pos : await basis.size(offset);
      throw new BackupError('ETRUNCATED', `delta copies ${len} bytes at offset ${offset}, past the end of the basis (${size} bytes)`);
    }
    if (out.full.length > 0) yield* out.drain(false);
  }
}
