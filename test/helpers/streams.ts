/**
 * Feeding engines and collecting what they produce. The engines accept whole buffers and
 * streams of chunks; tests feed the same bytes in different chunkings to prove that output
 * never depends on where chunk boundaries fall.
 */
import { Prng } from './data.js';

/** Concatenate every chunk of `source`. */
export async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of source) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

/** What a failing job produced before it failed, and the error. */
export interface Outcome {
  bytes: Buffer;
  error?: unknown;
}

/** Collect `source` to its end or its first error, keeping the bytes that came before. */
export async function collectOutcome(source: AsyncIterable<Uint8Array>): Promise<Outcome> {
  const parts: Uint8Array[] = [];
  try {
    for await (const chunk of source) parts.push(Buffer.from(chunk));
    return { bytes: Buffer.concat(parts) };
  } catch (error) {
    return { bytes: Buffer.concat(parts), error };
  }
}

/** `data` as an async stream of chunks of the given sizes (the last size repeats). */
export async function* inChunks(data: Uint8Array, sizes: readonly number[]): AsyncGenerator<Uint8Array> {
  let at = 0;
  let i = 0;
  while (at < data.length) {
    const n = Math.max(1, sizes[Math.min(i++, sizes.length - 1)]!);
    // Each chunk gets its own ArrayBuffer, as chunks from a real stream do, so an engine that
    // wrongly looked past a chunk's end through `.buffer` would not find the next bytes there.
    yield data.slice(at, at + n);
    at += n;
  }
}

/** `data` as a stream of chunks of seeded random sizes from 1 to `max` bytes. */
export async function* randomChunks(data: Uint8Array, seed: number, max = 4096): AsyncGenerator<Uint8Array> {
  const rng = new Prng(seed);
  for (let at = 0; at < data.length; ) {
    const n = 1 + rng.int(max);
    yield data.slice(at, at + n);
    at += n;
  }
}
