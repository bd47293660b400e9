/**
 * Composing a chain of deltas: the last version of a file as pieces of its first version and
 * of the deltas' literal data, without writing a version in between (README §5, §7).
 *
 * A chain basis → v1 → … → vn is usually replayed by patching n times, which writes every
 * intermediate version in full: a 512 MiB disk image changed in ten backups is written ten
 * times to restore it once. But a delta only says where each byte of its output comes from:
 * a COPY from the version before, a LITERAL from the delta itself. So the versions compose.
 * Each version is kept as a sorted list of pieces (output offset → a range of the basis, or
 * a range of one delta's bytes where a LITERAL's data lies); the next delta's COPY of a range
 * is mapped through that list with a binary search, giving the pieces it covers. After the
 * last delta, the list says where every byte of vn is, and vn is written once, in order.
 *
 * Memory is the pieces, not the bytes: three numbers a piece. For deltas that copy each byte
 * of the version before at most once (what rdiff makes of files edited in place, appended to,
 * or with data moved around), a delta adds at most three pieces per command. Deltas that
 * copy one range many times multiply the pieces of that range (a file doubled in every
 * version doubles them each time), so the composer takes a `maxPieces` and refuses a delta
 * that would pass it: the caller writes the version composed so far and starts again from it
 * (or, for a delta with that many commands, patches it alone).
 *
 * What a composition checks, with every version's size known in advance (a backup records
 * them): each delta's commands are parsed as `patch` parses them, with the same errors; no
 * COPY may reach past the end of the version before (ETRUNCATED, as `patch`); and a delta must
 * produce exactly the size recorded for its version: one that would produce more fails at the
 * command that passes it, before a byte is written (a delta expanding 6 bytes into 1 GiB is
 * refused after reading its first command). What it cannot check is the content of the
 * versions in between, which are never there to hash: only the last one is written.
 */
import { BackupError } from '../errors.js';
import { BasisReader, type PatchBasis } from './basis-reader.js';
import type { ByteSource } from './byte-source.js';
import { DeltaReader } from './delta-reader.js';

/** A command of a delta: a COPY of the version before, or a LITERAL whose data lies at `at` in the delta. */
type LocatedCommand = { op: 'copy'; offset: number; length: number } | { op: 'literal'; at: number; length: number };

/** What a delta of a chain must keep to. */
export interface DeltaBounds {
  /** The size of the version the delta applies to: no COPY may reach past it. */
  basisSize: number;
  /** The size of the version the delta must produce. */
  size: number;
  /**
   * The error for a delta that produces another size: `got` is the size it produces, or
   * undefined when it would produce more than `size` (it is stopped there). Default `ECORRUPT`.
   */
  wrongSize?: (got?: number) => BackupError;
}

/** Options of a {@link DeltaComposer}. */
export interface ComposerOptions {
  /**
   * Pieces the composition may hold (see the module header); a delta that would pass it is
   * refused, the first one too (its pieces are about its commands: such a delta is better
   * patched alone, streaming). Default: no limit.
   */
  maxPieces?: number;
}

/** One piece of a composed version: `length` bytes at `start`, read from `source` at `offset`. */
export interface ComposedPiece {
  /** Where the piece starts in the composed version. */
  start: number;
  /** Its length (at least 1). */
  length: number;
  /** -1 for the basis; else the index of the delta (in the order they were added) whose literal data it is. */
  source: number;
  /** Where the piece's bytes start in its source. */
  offset: number;
}

/** Output chunks of a composed version, at most. */
const OUT_CHUNK = 1 << 20;
/** Reads of a source shorter than this go through a window of this size (see {@link SourceReader}). */
const WINDOW = 128 << 10;

function defaultWrongSize(size: number): (got?: number) => BackupError {
  return (got) => new BackupError('ECORRUPT', `delta gives ${got === undefined ? `more than ${size}` : got} bytes where ${size} are recorded`);
}

/**
 * The commands of `delta`, each checked against `bounds` before it is handed out (see the
 * module header); the check of the total size comes after the last one. The decoding and its
 * errors are `patch`'s ({@link DeltaReader}); literal data is read past, not held.
 */
async function* boundedCommands(delta: ByteSource, bounds: DeltaBounds): AsyncGenerator<LocatedCommand, void, undefined> {
  const wrongSize = bounds.wrongSize ?? defaultWrongSize(bounds.size);
  let produced = 0;
  const reader = new DeltaReader(delta);
  for await (const c of reader.commands()) {
    if (c.op === 'copy' && c.offset + c.length > bounds.basisSize) {
      throw new BackupError('ETRUNCATED', `delta copies ${c.length} bytes at offset ${c.offset}, past the end of the basis (${bounds.basisSize} bytes)`);
    }
    if (produced + c.length > bounds.size) throw wrongSize();
    produced += c.length;
    // The literal's data is read past only when the next command is asked for: where it
    // starts is where the reader stands now.
    yield c.op === 'literal' ? { op: 'literal', at: reader.consumed, length: c.length } : c;
  }
  if (produced !== bounds.size) throw wrongSize(produced);
}

/**
 * Check `delta` against `bounds` without applying it (see the module header): the errors a
 * composition of it would give. Returns its number of commands.
 */
export async function checkDelta(delta: ByteSource, bounds: DeltaBounds): Promise<number> {
  let commands = 0;
  for await (const _ of boundedCommands(delta, bounds)) commands++;
  return commands;
}

/** Pieces in three growable arrays: where each ends in the version, its source, and where in the source it starts. */
class Pieces {
  ends = new Float64Array(16);
  offsets = new Float64Array(16);
  sources = new Int32Array(16);
  count = 0;

  get size(): number {
    return this.count === 0 ? 0 : this.ends[this.count - 1]!;
  }

  start(i: number): number {
    return i === 0 ? 0 : this.ends[i - 1]!;
  }

  /** Append `length` bytes of `source` at `offset`, joining the last piece when they continue it. */
  push(length: number, source: number, offset: number): void {
    const last = this.count - 1;
    if (last >= 0 && this.sources[last] === source && this.offsets[last]! + this.ends[last]! - this.start(last) === offset) {
      this.ends[last]! += length;
      return;
    }
    if (this.count === this.ends.length) this.grow();
    this.ends[this.count] = this.size + length;
    this.offsets[this.count] = offset;
    this.sources[this.count] = source;
    this.count++;
  }

  /** The index of the piece holding byte `at` (at < size). */
  find(at: number): number {
    let lo = 0;
    let hi = this.count - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ends[mid]! > at) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  private grow(): void {
    const n = this.ends.length * 2;
    const ends = new Float64Array(n);
    const offsets = new Float64Array(n);
    const sources = new Int32Array(n);
    ends.set(this.ends);
    offsets.set(this.offsets);
    sources.set(this.sources);
    Object.assign(this, { ends, offsets, sources });
  }
}

/**
 * The composition of a chain of deltas over a basis of known size: add the deltas in chain
 * order, then read the pieces of the last version or {@link applyComposition} them.
 */
export class DeltaComposer {
  private pieces = new Pieces();
  private added = 0;
  private readonly maxPieces: number;

  /** A composition of no delta yet: the basis itself, `basisSize` bytes. */
  constructor(basisSize: number, options: ComposerOptions = {}) {
    this.maxPieces = options.maxPieces ?? Infinity;
    if (basisSize > 0) this.pieces.push(basisSize, -1, 0);
  }

  /** The size of the version composed so far. */
  get size(): number {
    return this.pieces.size;
  }

  /** Deltas added so far. */
  get deltas(): number {
    return this.added;
  }

  /** Pieces of the version composed so far. */
  get pieceCount(): number {
    return this.pieces.count;
  }

  /**
   * Compose `delta`, which applies to the version composed so far and must produce
   * `bounds.size` bytes. Returns false, leaving the composition as it was, when the result
   * would hold more than `maxPieces` pieces. Errors are `patch`'s for a delta that does not
   * decode, `ETRUNCATED` for a COPY past the end of the version before, and
   * `bounds.wrongSize` for another size; each names `name` (the delta's artifact), if given.
   */
  async add(delta: ByteSource, bounds: Omit<DeltaBounds, 'basisSize'>, name?: string): Promise<boolean> {
    const before = this.pieces;
    const after = new Pieces();
    const source = this.added;
    try {
      for await (const c of boundedCommands(delta, { ...bounds, basisSize: before.size })) {
        if (c.op === 'literal') after.push(c.length, source, c.at);
        else mapRange(before, c.offset, c.length, after);
        if (after.count > this.maxPieces) return false;
      }
    } catch (e) {
      throw name !== undefined && e instanceof BackupError ? e.withPath(name) : e;
    }
    this.pieces = after;
    this.added++;
    return true;
  }

  /**
   * Whether the version composed so far is its basis with ranges written over it: every piece
   * of the basis lies at its own offset, as in the deltas of a file edited in place or
   * appended to. Then {@link changedRanges} is all that differs from the basis, besides the
   * length, and the version can be written over a copy of the basis.
   */
  get inPlace(): boolean {
    const p = this.pieces;
    for (let i = 0; i < p.count; i++) if (p.sources[i] === -1 && p.offsets[i] !== p.start(i)) return false;
    return true;
  }

  /** Bytes of the version composed so far that are not the basis at their own offset, counting those before offset `below` only. */
  changedBytes(below = Infinity): number {
    const p = this.pieces;
    let n = 0;
    for (let i = 0; i < p.count; i++) {
      const start = p.start(i);
      if (p.sources[i] !== -1 || p.offsets[i] !== start) n += Math.max(0, Math.min(p.ends[i]!, below) - start);
    }
    return n;
  }

  /** The pieces of the version composed so far, in order. */
  *list(): Generator<ComposedPiece, void, undefined> {
    const p = this.pieces;
    for (let i = 0; i < p.count; i++) {
      const start = p.start(i);
      yield { start, length: p.ends[i]! - start, source: p.sources[i]!, offset: p.offsets[i]! };
    }
  }
}

/** Append to `out` the pieces of `from` that hold its bytes `[offset, offset + length)`. */
function mapRange(from: Pieces, offset: number, length: number, out: Pieces): void {
  const end = offset + length;
  for (let i = from.find(offset), at = offset; at < end; i++) {
    const start = from.start(i);
    const stop = Math.min(end, from.ends[i]!);
    out.push(stop - at, from.sources[i]!, from.offsets[i]! + (at - start));
    at = stop;
  }
}

/**
 * Reads of one source of a composition, through a window (a delta's literals are often small
 * and close together, and each read of a file is a system call), each read exact.
 */
class SourceReader {
  private readonly reader: BasisReader;

  constructor(
    source: PatchBasis,
    private readonly what: string,
  ) {
    this.reader = new BasisReader(source, { what, window: WINDOW });
  }

  /** Exactly `n` bytes at `pos` into `dst[at…]`; `ETRUNCATED` when the source ends first. */
  async read(dst: Uint8Array, at: number, n: number, pos: number): Promise<void> {
    const got = await this.reader.read(dst, at, n, pos);
    if (got < n) throw new BackupError('ETRUNCATED', `${this.what} ends at byte ${pos + got}, inside a range the composed deltas read (${n} bytes at ${pos})`);
  }
}

/** Bytes of a composed version to write at `at`. */
export interface ChangedRange {
  /** Where they go in the version. */
  at: number;
  /** The bytes. */
  bytes: Uint8Array;
}

/**
 * For an {@link DeltaComposer.inPlace} composition: the ranges of the version that are not
 * the basis at its own offset, in order, read from `deltas` (as {@link applyComposition}
 * reads them) in chunks of up to 1 MiB, adjacent pieces joined. Writing them over a copy of
 * the basis, and setting its length to `composer.size`, gives the composed version.
 */
export async function* changedRanges(composer: DeltaComposer, deltas: readonly PatchBasis[]): AsyncGenerator<ChangedRange, void, undefined> {
  if (!composer.inPlace) throw new BackupError('EPARAM', 'the composition moves data of its basis: it cannot be written over it');
  if (deltas.length < composer.deltas) throw new BackupError('EPARAM', `the composition reads ${composer.deltas} deltas, ${deltas.length} were given`);
  const readers = deltas.map((d, i) => new SourceReader(d, `delta ${i + 1} of ${composer.deltas}`));
  let chunk: Uint8Array | undefined;
  let at = 0;
  let filled = 0;
  for (const piece of composer.list()) {
    if (piece.source < 0) continue;
    if (chunk && (at + filled !== piece.start || filled === chunk.length)) {
      yield { at, bytes: chunk.subarray(0, filled) };
      chunk = undefined;
    }
    for (let done = 0; done < piece.length; ) {
      if (!chunk) {
        chunk = new Uint8Array(OUT_CHUNK);
        at = piece.start + done;
        filled = 0;
      }
      const n = Math.min(piece.length - done, chunk.length - filled);
      await readers[piece.source]!.read(chunk, filled, n, piece.offset + done);
      filled += n;
      done += n;
      if (filled === chunk.length) {
        yield { at, bytes: chunk };
        chunk = undefined;
      }
    }
  }
  if (chunk) yield { at, bytes: chunk.subarray(0, filled) };
}

/**
 * The version `composer` composed, in chunks of up to 1 MiB, read from `basis` (the version
 * the first delta applies to) and `deltas` (the deltas added, in order, where their literal
 * data is read). Each chunk is a new buffer. A source that ends before a piece it holds is
 * `ETRUNCATED`; read errors are `EIO`.
 */
export async function* applyComposition(composer: DeltaComposer, basis: PatchBasis, deltas: readonly PatchBasis[]): AsyncGenerator<Uint8Array, void, undefined> {
  if (deltas.length < composer.deltas) throw new BackupError('EPARAM', `the composition reads ${composer.deltas} deltas, ${deltas.length} were given`);
  const readers = new Map<number, SourceReader>();
  const reader = (source: number): SourceReader => {
    let r = readers.get(source);
    if (!r) readers.set(source, (r = new SourceReader(source < 0 ? basis : deltas[source]!, source < 0 ? 'the basis' : `delta ${source + 1} of ${composer.deltas}`)));
    return r;
  };
  const size = composer.size;
  let chunk = new Uint8Array(Math.min(OUT_CHUNK, size));
  let filled = 0;
  let written = 0;
  for (const piece of composer.list()) {
    for (let done = 0; done < piece.length; ) {
      const n = Math.min(piece.length - done, chunk.length - filled);
      await reader(piece.source).read(chunk, filled, n, piece.offset + done);
      filled += n;
      done += n;
      if (filled === chunk.length) {
        yield chunk;
        written += filled;
        chunk = new Uint8Array(Math.min(OUT_CHUNK, size - written));
        filled = 0;
      }
    }
  }
}
