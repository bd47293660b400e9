/**
 * A block of tar bytes as one independent gzip member, compressed off the main thread.
 *
 * A gzip file may hold any number of members (RFC 1952 §2.2); gzip, GNU tar and node's
 * gunzip read them as one stream. Cutting the tar stream into fixed-size blocks and making
 * each one its own member lets several blocks compress at once: zlib's asynchronous one-shot
 * call runs on libuv's thread pool, so every core works and the event loop stays free. A
 * member starts with an empty dictionary, which costs well under 1 % of the size on 1 MiB
 * blocks. The output buffer (`chunkSize`) holds a whole member, so a block does not go back
 * to the pool for every 16 KiB of output (the issue measured parallel members as a gain only
 * with that); the member's bytes depend on that size, which is why it follows from the block's
 * length alone.
 *
 * Deflating data that is already compressed (photos, archives, video) is the slowest thing a
 * backup can do and gains nothing, so each block is sampled at 8 evenly spaced places (16 KiB
 * each) and stored (level 0) only when every sample looks random: storing a block that is
 * partly text loses that text's compression for good, deflating a block that is partly random
 * only costs CPU once. Any stretch of text longer than the spacing plus half a sample (136 KiB)
 * fills at least half of some sample, which then looks compressible; only shorter text lying
 * between samples can end up stored. Tar headers and padding between random files of 16 KiB or
 * more leave the samples random; smaller random files get deflated.
 * The level depends on the block's bytes alone, so the output is the same on every run.
 */
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';

const gzipAsync = promisify(gzip);

/** gzip level for compressible data: archives are written once per backup, so speed beats the last percent. */
const GZIP_LEVEL = 1;
/** Bytes sampled, and the entropy (bits per byte) above which a sample counts as incompressible. */
const SNIFF_BYTES = 16 * 1024;
const INCOMPRESSIBLE_BITS = 7.5;
/** Samples taken from each block, and their length. */
const SAMPLES = 8;
const SAMPLE_BYTES = 16 * 1024;
/** Room in the output buffer beyond the input: deflate's worst case adds a few hundred bytes per MiB. */
const OUTPUT_SLACK = 64 * 1024;

/** Whether `chunk` looks already compressed: the byte entropy of its first bytes is near 8 bits. */
export function looksIncompressible(chunk: Uint8Array): boolean {
  const n = Math.min(chunk.length, SNIFF_BYTES);
  if (n < 1024) return false;
  const counts = new Uint32Array(256);
  for (let i = 0; i < n; i++) counts[chunk[i]!]!++;
  let bits = 0;
  for (const c of counts) if (c > 0) bits -= (c / n) * Math.log2(c / n);
  return bits > INCOMPRESSIBLE_BITS;
}

/** The deflate level for `block`: 0 (stored) when every sample looks random, else {@link GZIP_LEVEL}. */
export function blockLevel(block: Uint8Array): number {
  if (block.length < SAMPLES * SAMPLE_BYTES) return GZIP_LEVEL;
  const stride = Math.floor(block.length / SAMPLES);
  for (let i = 0; i < SAMPLES; i++) {
    if (!looksIncompressible(block.subarray(i * stride, i * stride + SAMPLE_BYTES))) return GZIP_LEVEL;
  }
  return 0;
}

/** `block` as one complete gzip member, deflated on the thread pool at {@link blockLevel}. */
export function gzipMember(block: Uint8Array): Promise<Buffer> {
  return gzipAsync(block, { level: blockLevel(block), chunkSize: block.length + OUTPUT_SLACK });
}
