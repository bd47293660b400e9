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
 * The decoding is {@link DeltaReader}'s and the reads of the basis {@link BasisReader}'s, both
 * shared with callers that carry out the commands their own way (the file-to-file patch in
 * `src/engine` copies COPYs inside the kernel; `compose.ts` maps them through a chain).
 */
import { BackupError } from '../errors.js';
import { BasisReader, type PatchBasis } from './basis-reader.js';
import type { ByteSource } from './byte-source.js';
import { DeltaReader } from './delta-reader.js';

const OUT_CHUNK = 1 << 20;

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

/**
 * Apply `delta` to `basis`, yielding the new data in chunks. A `fs.promises.FileHandle`
 * works as the basis.
 */
export async function* patch(basis: PatchBasis, delta: ByteSource): AsyncGenerator<Uint8Array, void, undefined> {
  const reader = new DeltaReader(delta);
  const out = new OutputChunks();
  const source = new BasisReader(basis);
  try {
    for await (const cmd of reader.commands()) {
      if (cmd.op === 'copy') {
        yield* copyFromBasis(source, cmd.offset, cmd.length, out);
        continue;
      }
      for await (const piece of reader.literalData()) {
        out.put(piece);
        if (out.full.length > 0) yield* out.drain(false);
      }
    }
  } catch (e) {
    yield* out.drain(true);
    throw e;
  }
  yield* out.drain(true);
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
