/**
 * Signatures: the weak and strong checksum of every block of a basis file.
 *
 * Format (big-endian): magic u32, block_len u32, strong_len u32, then per block a u32 weak
 * sum and `strong_len` bytes of strong sum. Blocks are consecutive; the last may be short
 * and its length is not recorded (the delta encoder only ever matches it at the end of the
 * new file). Weak sums are stored raw. The encoder here is a push-style state machine so it
 * can run over a stream of any size in memory bounded by one block; the parser is its
 * inverse and reproduces librsync's reader errors (README §2).
 */
import { BackupError } from '../errors.js';
import { ChunkReader, chunksOf, knownLength, readUintBE, type ByteSource } from './byte-source.js';
import {
  parseSignatureMagic,
  signatureParams,
  strongSumMax,
  type SignatureParams,
  type SignatureParamsOptions,
  type StrongSumKind,
  type WeakSumKind,
} from './format.js';
import { rabinKarpDigest } from './rabin-karp.js';
import { rollsumDigest } from './rollsum.js';
import { createStrongHasher, type StrongHasher } from './strong-sum.js';

/** A parsed signature, held in two flat typed arrays (a few bytes per block). */
export interface Signature extends SignatureParams {
  /** Number of blocks. */
  count: number;
  /** Weak sum of block i at index i. */
  weakSums: Uint32Array;
  /** Strong sum of block i at `[i*strongLength, (i+1)*strongLength)`. */
  strongSums: Uint8Array;
}

/** The weak sum function of a kind, over `data[start, end)`. */
export function weakDigestFn(weak: WeakSumKind): (data: Uint8Array, start: number, end: number) => number {
  return weak === 'rabinkarp' ? rabinKarpDigest : rollsumDigest;
}

const HEADER_LEN = 12;

function writeU32(out: Uint8Array, offset: number, value: number): void {
  out[offset] = value >>> 24;
  out[offset + 1] = (value >>> 16) & 0xff;
  out[offset + 2] = (value >>> 8) & 0xff;
  out[offset + 3] = value & 0xff;
}

/** The 12-byte header of a signature with these parameters. */
export function signatureHeader(params: SignatureParams): Uint8Array {
  const out = new Uint8Array(HEADER_LEN);
  writeU32(out, 0, params.magic);
  writeU32(out, 4, params.blockLength);
  writeU32(out, 8, params.strongLength);
  return out;
}

/**
 * Computes signature records from pushed chunks of a basis. Each `push` returns the
 * serialized records of the blocks it completed (possibly empty); `end` returns the record
 * of the short last block, if any.
 */
export class SignatureEncoder {
  private readonly weakFn: (data: Uint8Array, start: number, end: number) => number;
  private readonly recordLen: number;
  private readonly pending: Uint8Array;
  private pendingLen = 0;
  /** Blocks written so far. */
  blocks = 0;

  constructor(
    readonly params: SignatureParams,
    private readonly hasher: StrongHasher,
  ) {
    if (hasher.kind !== params.strong) throw new BackupError('EINTERNAL', 'strong hasher kind does not match the signature');
    this.weakFn = weakDigestFn(params.weak);
    this.recordLen = 4 + params.strongLength;
    this.pending = new Uint8Array(params.blockLength);
  }

  private record(out: Uint8Array, at: number, data: Uint8Array, start: number, end: number): void {
    writeU32(out, at, this.weakFn(data, start, end));
    const strong = this.hasher.digest(data, start, end);
    out.set(strong.subarray(0, this.params.strongLength), at + 4);
    this.blocks++;
  }

  /** Feed the next chunk of the basis; returns the records of every block it completed. */
  push(chunk: Uint8Array): Uint8Array {
    const bl = this.params.blockLength;
    let pos = 0;
    const firstFill = this.pendingLen > 0 ? Math.min(bl - this.pendingLen, chunk.length) : 0;
    const completesPending = this.pendingLen > 0 && this.pendingLen + firstFill === bl;
    const whole = Math.floor((chunk.length - firstFill) / bl);
    const out = new Uint8Array((whole + (completesPending ? 1 : 0)) * this.recordLen);
    let at = 0;
    if (this.pendingLen > 0) {
      this.pending.set(chunk.subarray(0, firstFill), this.pendingLen);
      this.pendingLen += firstFill;
      pos = firstFill;
      if (this.pendingLen === bl) {
        this.record(out, at, this.pending, 0, bl);
        at += this.recordLen;
        this.pendingLen = 0;
      }
    }
    for (let i = 0; i < whole; i++) {
      this.record(out, at, chunk, pos, pos + bl);
      at += this.recordLen;
      pos += bl;
    }
    if (pos < chunk.length) {
      this.pending.set(chunk.subarray(pos), this.pendingLen);
      this.pendingLen += chunk.length - pos;
    }
    return out;
  }

  /** The record of the short last block, if the basis did not end on a block boundary. */
  end(): Uint8Array {
    if (this.pendingLen === 0) return new Uint8Array(0);
    const out = new Uint8Array(this.recordLen);
    this.record(out, 0, this.pending, 0, this.pendingLen);
    this.pendingLen = 0;
    return out;
  }
}

/** Options of {@link signature} and {@link computeSignature}. */
export interface SignatureOptions extends SignatureParamsOptions {}

/**
 * Stream the serialized signature of `basis`. With a `Uint8Array` the size is known, so the
 * defaults match `rdiff signature` of a file; with a stream give `fileSize` for the same
 * result, or rdiff's stdin defaults apply (2048-byte blocks).
 */
export async function* signature(basis: ByteSource, options: SignatureOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
  const fileSize = options.fileSize ?? knownLength(basis);
  const params = signatureParams({ ...options, fileSize });
  const encoder = new SignatureEncoder(params, await createStrongHasher(params.strong));
  yield signatureHeader(params);
  for await (const chunk of chunksOf(basis)) {
    const records = encoder.push(chunk);
    if (records.length > 0) yield records;
  }
  const last = encoder.end();
  if (last.length > 0) yield last;
}

/** Compute the signature of `basis` as a {@link Signature} object. */
export async function computeSignature(basis: ByteSource, options: SignatureOptions = {}): Promise<Signature> {
  return parseSignature(signature(basis, options));
}

/** Serialize a {@link Signature} to the librsync signature format. */
export function serializeSignature(sig: Signature): Uint8Array {
  const recordLen = 4 + sig.strongLength;
  const out = new Uint8Array(HEADER_LEN + sig.count * recordLen);
  out.set(signatureHeader(sig), 0);
  for (let i = 0, at = HEADER_LEN; i < sig.count; i++, at += recordLen) {
    writeU32(out, at, sig.weakSums[i]!);
    out.set(sig.strongSums.subarray(i * sig.strongLength, (i + 1) * sig.strongLength), at + 4);
  }
  return out;
}

/**
 * Parse a serialized signature, with librsync's error behaviour: an unknown magic is
 * `EBADMAGIC`; a zero block length or a strong length over 32 is `ECORRUPT`; a strong length
 * longer than the magic's digest is `EPARAM`; a record cut inside its strong sum is
 * `ETRUNCATED`; 1–3 stray bytes after the last record are ignored, as librsync does.
 */
export async function parseSignature(source: ByteSource): Promise<Signature> {
  const reader = new ChunkReader(chunksOf(source)[Symbol.asyncIterator]());
  try {
    // librsync reads the whole header, then checks the lengths, and only then the magic:
    // the same order gives the same error (and rdiff exit code) for every bad header.
    const header = await reader.read(HEADER_LEN);
    if (header.length < HEADER_LEN) throw new BackupError('ETRUNCATED', `signature ends inside its ${HEADER_LEN}-byte header`);
    const magic = readUintBE(header, 0, 4);
    const blockLength = readUintBE(header, 4, 4);
    let strongLength = readUintBE(header, 8, 4);
    if (blockLength < 1 || blockLength > 0x7fffffff) throw new BackupError('ECORRUPT', `signature has an invalid block length ${blockLength}`);
    if (strongLength > 32) throw new BackupError('ECORRUPT', `signature has an invalid strong sum length ${strongLength}`);
    const kind = parseSignatureMagic(magic);
    if (!kind) throw new BackupError('EBADMAGIC', `not a signature: bad magic 0x${magic.toString(16).padStart(8, '0')}`);
    const max = strongSumMax(kind.strong);
    if (strongLength === 0) strongLength = max;
    if (strongLength > max) {
      throw new BackupError('EPARAM', `signature asks for ${strongLength}-byte ${kind.strong} sums, longer than the ${max} bytes that sum has`);
    }
    return await readRecords(reader, { magic, ...kind, blockLength, strongLength });
  } finally {
    await reader.close();
  }
}

async function readRecords(reader: ChunkReader, params: SignatureParams): Promise<Signature> {
  const recordLen = 4 + params.strongLength;
  let capacity = 1024;
  let weakSums = new Uint32Array(capacity);
  let strongSums = new Uint8Array(capacity * params.strongLength);
  let count = 0;
  for (;;) {
    const rec = await reader.read(recordLen);
    if (rec.length < recordLen) {
      if (rec.length >= 4) {
        throw new BackupError('ETRUNCATED', `signature ends inside the strong sum of block ${count}`);
      }
      break;
    }
    if (count === capacity) {
      capacity *= 2;
      const w = new Uint32Array(capacity);
      w.set(weakSums);
      weakSums = w;
      const s = new Uint8Array(capacity * params.strongLength);
      s.set(strongSums);
      strongSums = s;
    }
    weakSums[count] = readUintBE(rec, 0, 4);
    strongSums.set(rec.subarray(4), count * params.strongLength);
    count++;
  }
  return {
    ...params,
    count,
    weakSums: weakSums.subarray(0, count),
    strongSums: strongSums.subarray(0, count * params.strongLength),
  };
}

/** The kinds a signature magic can name, re-exported for callers that inspect signatures. */
export type { StrongSumKind, WeakSumKind };
