/**
 * Streams of many gigabytes, generated on the fly and never stored: a pseudo-random basis in
 * 1 MiB chunks (a fixed random pool XORed with a per-chunk word, so every 64 KiB block is
 * distinct yet each chunk costs one XOR per word), a copy of it with edits spliced in, and a
 * streaming xxh64 of anything.
 */
import xxhash from 'xxhash-wasm';
import { Prng } from './data.js';

const CHUNK = 1 << 20;

/** `size` bytes of deterministic pseudo-random data from `seed`, in fresh 1 MiB chunks. */
export function* bigStream(seed: number, size: number): Generator<Uint8Array> {
  const pool = new Uint32Array(new Prng(seed).bytes(CHUNK).buffer);
  for (let i = 0, at = 0; at < size; i++, at += CHUNK) {
    const mask = Math.imul(i + 1, 0x9e3779b1) ^ seed;
    const words = new Uint32Array(CHUNK / 4);
    for (let j = 0; j < words.length; j++) words[j] = pool[j]! ^ mask;
    yield new Uint8Array(words.buffer, 0, Math.min(CHUNK, size - at));
  }
}

/** A splice: at basis position `at`, drop `remove` bytes and put `insert` in their place. */
export interface Splice {
  at: number;
  remove: number;
  insert: Uint8Array;
}

/** `source` with `splices` applied; splices are in basis positions, sorted and non-overlapping. */
export function* spliced(source: Iterable<Uint8Array>, splices: readonly Splice[]): Generator<Uint8Array> {
  let pos = 0;
  let next = 0;
  let skip = 0;
  for (const chunk of source) {
    let at = 0;
    while (at < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - at);
        skip -= n;
        at += n;
        pos += n;
        continue;
      }
      const s = splices[next];
      if (s && s.at === pos) {
        if (s.insert.length > 0) yield s.insert;
        skip = s.remove;
        next++;
        continue;
      }
      const end = s ? Math.min(chunk.length, at + (s.at - pos)) : chunk.length;
      yield chunk.subarray(at, end);
      pos += end - at;
      at = end;
    }
  }
  for (; next < splices.length; next++) if (splices[next]!.insert.length > 0) yield splices[next]!.insert;
}

/** A streaming xxh64 that can also watch a stream go by. */
export class StreamHash {
  private constructor(private readonly h: { update(b: Uint8Array): unknown; digest(): bigint }) {}

  static async create(): Promise<StreamHash> {
    return new StreamHash((await xxhash()).create64());
  }

  /** Hash `chunk`, at most 1 MiB at a time (xxhash-wasm's heap grows to the largest input). */
  update(chunk: Uint8Array): void {
    for (let at = 0; at < chunk.length; at += CHUNK) this.h.update(chunk.subarray(at, at + CHUNK));
  }

  digest(): string {
    return this.h.digest().toString(16).padStart(16, '0');
  }

  /** `source`, unchanged, hashing every chunk as it passes. */
  *tap(source: Iterable<Uint8Array>): Generator<Uint8Array> {
    for (const chunk of source) {
      this.update(chunk);
      yield chunk;
    }
  }

  /** Hash every chunk of `source`. */
  async consume(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<string> {
    for await (const chunk of source) this.update(chunk);
    return this.digest();
  }
}
