/**
 * Decoding a delta command by command (README §5), with librsync's errors (§7): the one
 * reading of deltas that every consumer shares. `patch` streams the new data, the
 * file-to-file patch in `src/engine` copies COPYs inside the kernel, and `compose` maps
 * commands through a chain without reading literal data at all, so the decoder hands out
 * commands and leaves what to do with them, literal data included, to the caller.
 *
 * A bad magic, a zero-length command, an offset of 2^63 or more and a reserved opcode are
 * corrupt; a delta that ends inside a command or without END is truncation. Nothing after
 * END is read. A LITERAL is handed out before its data is read: a consumer that refuses it
 * (a literal too long for its version) stops without reading, or waiting for, its data.
 */
import { BackupError } from '../errors.js';
import { ChunkReader, chunksOf, readUintBE, type ByteSource } from './byte-source.js';
import { DELTA_MAGIC } from './format.js';

/** One command of a delta, as {@link DeltaReader.commands} hands it out (END ends the iteration). */
export type DeltaCommand =
  /** `length` bytes of new data follow in the delta: take them with {@link DeltaReader.literalData}. */
  | { op: 'literal'; length: number }
  /** `length` bytes of the basis at `offset`. */
  | { op: 'copy'; offset: number; length: number };

const WIDTHS = [1, 2, 4, 8] as const;

/** Reads one delta, once, through {@link commands}. */
export class DeltaReader {
  private readonly reader: ChunkReader;
  private literalLeft = 0;

  constructor(delta: ByteSource) {
    this.reader = new ChunkReader(chunksOf(delta)[Symbol.asyncIterator]());
  }

  /**
   * Bytes of the delta read so far. While a LITERAL is the current command and none of its
   * data has been taken, this is where its data starts in the delta.
   */
  get consumed(): number {
    return this.reader.consumed;
  }

  /**
   * The commands up to END. A literal's data not taken with {@link literalData} before the
   * next command is read past (and must still be there: else `ETRUNCATED`). The delta's source
   * is released when the iteration ends, by END, by an error, or by the consumer stopping.
   */
  async *commands(): AsyncGenerator<DeltaCommand, void, undefined> {
    const reader = this.reader;
    try {
      const magic = await reader.read(4);
      if (magic.length < 4) throw new BackupError('ETRUNCATED', 'delta ends inside its magic number');
      const m = readUintBE(magic, 0, 4);
      if (m !== DELTA_MAGIC) throw new BackupError('EBADMAGIC', `not a delta: bad magic 0x${m.toString(16).padStart(8, '0')}`);
      for (;;) {
        while (this.literalLeft > 0) await this.literalPiece();
        const opByte = await reader.read(1);
        if (opByte.length === 0) throw new BackupError('ETRUNCATED', `delta ends without an END command at byte ${reader.consumed}`);
        const op = opByte[0]!;
        if (op === 0) return;
        if (op <= 0x44) {
          const length = op <= 0x40 ? op : await this.param(WIDTHS[op - 0x41]!, 'length');
          if (length === 0) throw new BackupError('ECORRUPT', `delta has a zero-length literal at byte ${reader.consumed}`);
          this.literalLeft = length;
          yield { op: 'literal', length };
        } else if (op <= 0x54) {
          const code = op - 0x45;
          const offset = await this.param(WIDTHS[code >> 2]!, 'copy offset');
          const length = await this.param(WIDTHS[code & 3]!, 'copy length');
          if (length === 0) throw new BackupError('ECORRUPT', `delta has a zero-length copy at byte ${reader.consumed}`);
          yield { op: 'copy', offset, length };
        } else {
          throw new BackupError('ECORRUPT', `delta has the reserved opcode 0x${op.toString(16)} at byte ${reader.consumed - 1}`);
        }
      }
    } finally {
      await reader.close();
    }
  }

  /**
   * The current literal's data (what is left of it), in pieces that are views of the delta's
   * chunks, each valid until the next read.
   */
  async *literalData(): AsyncGenerator<Uint8Array, void, undefined> {
    while (this.literalLeft > 0) yield await this.literalPiece();
  }

  private async literalPiece(): Promise<Uint8Array> {
    const piece = await this.reader.readSome(this.literalLeft);
    if (piece.length === 0) throw new BackupError('ETRUNCATED', `delta ends inside literal data at byte ${this.reader.consumed}`);
    this.literalLeft -= piece.length;
    return piece;
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
