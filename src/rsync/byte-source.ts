/**
 * The input types every engine function accepts, normalised to one async iterable of byte
 * chunks. A Node `Readable` is already an async iterable of Buffers; a whole `Uint8Array`
 * is one chunk. Strings are refused rather than silently encoded: these are binary formats.
 */
import { BackupError } from '../errors.js';

/** Bytes in one piece, or a stream of chunks (a Node `Readable` is an `AsyncIterable`). */
export type ByteSource = Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** Iterate over `source` as byte chunks. */
export async function* chunksOf(source: ByteSource): AsyncGenerator<Uint8Array, void, undefined> {
  if (source instanceof Uint8Array) {
    if (source.length > 0) yield source;
    return;
  }
  if (source == null || (typeof (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] !== 'function' &&
    typeof (source as Iterable<Uint8Array>)[Symbol.iterator] !== 'function')) {
    throw new BackupError('EPARAM', 'input must be a Uint8Array, a Readable or an iterable of Uint8Array chunks');
  }
  for await (const chunk of source as AsyncIterable<Uint8Array>) {
    if (!(chunk instanceof Uint8Array)) {
      throw new BackupError('EPARAM', 'input stream yielded a non-binary chunk (is an encoding set on the stream?)');
    }
    if (chunk.length > 0) yield chunk;
  }
}

/** The byte length of `source` when it is known without reading it. */
export function knownLength(source: ByteSource): number {
  return source instanceof Uint8Array ? source.length : -1;
}

/**
 * Reads a chunked byte stream as a sequence of fixed-size fields and variable-length runs,
 * for the signature and delta parsers. Fields that straddle chunk boundaries are joined in a
 * small scratch buffer; long runs are handed out as subarrays of the chunks, never copied.
 */
export class ChunkReader {
  private chunk: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private done = false;
  /** Bytes consumed so far, for error messages. */
  consumed = 0;

  constructor(private readonly source: AsyncIterator<Uint8Array>) {}

  private async refill(): Promise<boolean> {
    if (this.done) return false;
    const next = await this.source.next();
    if (next.done) {
      this.done = true;
      return false;
    }
    this.chunk = next.value;
    this.pos = 0;
    return true;
  }

  /** True when no byte is left. */
  async atEnd(): Promise<boolean> {
    while (this.pos >= this.chunk.length) {
      if (!(await this.refill())) return true;
    }
    return false;
  }

  /**
   * Exactly `n` bytes (n small), or fewer when the input ends first: the caller decides
   * whether that is truncation.
   */
  async read(n: number): Promise<Uint8Array> {
    if (this.chunk.length - this.pos >= n) {
      const out = this.chunk.subarray(this.pos, this.pos + n);
      this.pos += n;
      this.consumed += n;
      return out;
    }
    const out = new Uint8Array(n);
    let have = 0;
    while (have < n) {
      if (this.pos >= this.chunk.length && !(await this.refill())) break;
      const take = Math.min(n - have, this.chunk.length - this.pos);
      out.set(this.chunk.subarray(this.pos, this.pos + take), have);
      this.pos += take;
      have += take;
    }
    this.consumed += have;
    return have === n ? out : out.subarray(0, have);
  }

  /** Up to `max` bytes from the current chunk, without copying; empty at the end of input. */
  async readSome(max: number): Promise<Uint8Array> {
    if (await this.atEnd()) return new Uint8Array(0);
    const take = Math.min(max, this.chunk.length - this.pos);
    const out = this.chunk.subarray(this.pos, this.pos + take);
    this.pos += take;
    this.consumed += take;
    return out;
  }

  /** Let the underlying iterator release its resources (a file stream closes its handle). */
  async close(): Promise<void> {
    if (!this.done) {
      this.done = true;
      await this.source.return?.();
    }
  }
}

/** Read an unsigned big-endian integer of 1, 2, 4 or 8 bytes (8-byte values must be safe integers). */
export function readUintBE(bytes: Uint8Array, offset: number, width: number): number {
  switch (width) {
    case 1:
      return bytes[offset]!;
    case 2:
      return (bytes[offset]! << 8) | bytes[offset + 1]!;
    case 4:
      return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
    default: {
      const hi = readUintBE(bytes, offset, 4);
      const lo = readUintBE(bytes, offset + 4, 4);
      return hi * 2 ** 32 + lo;
    }
  }
}
