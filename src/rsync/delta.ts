/**
 * The delta encoder: finds the blocks of a signature in new data and writes COPY commands
 * for them and LITERAL commands for everything else, byte-identical to `rdiff delta`.
 *
 * It buffers the new data, lets a {@link MatchScanner} find matches (librsync's greedy scan)
 * and a {@link DeltaEmitter} turn them into commands. A literal run is cut at `maxLiteral`
 * bytes (32768 in rdiff ≤ 2.3.2, 65533 from 2.3.3). Memory is the signature's index plus a
 * buffer of about one literal run and two blocks, whatever the size of the new data.
 */
import { BlockIndex } from './block-index.js';
import { chunksOf, type ByteSource } from './byte-source.js';
import { MAX_LITERAL_2_3_2 } from './format.js';
import { DeltaEmitter } from './delta-emitter.js';
import { DeltaWriter } from './delta-writer.js';
import { MatchScanner } from './match-scanner.js';
import { parseSignature, type Signature } from './signature.js';
import { createStrongHasher, type StrongHasher } from './strong-sum.js';
import { BackupError } from '../errors.js';

/** Options of {@link delta}. */
export interface DeltaOptions {
  /**
   * The longest literal command before a run is cut: 32768 (the default) gives the bytes of
   * rdiff 2.3.2 (Debian 12), 65533 those of rdiff 2.3.3 and later. Any value patches the same.
   */
  maxLiteral?: number;
}

/** Counts like `rdiff -s` prints. */
export interface DeltaStats {
  literalCmds: number;
  literalBytes: number;
  copyCmds: number;
  copyBytes: number;
}

/** `options.maxLiteral`, checked. */
export function maxLiteralOf(options: DeltaOptions): number {
  const maxLiteral = options.maxLiteral ?? MAX_LITERAL_2_3_2;
  if (!Number.isSafeInteger(maxLiteral) || maxLiteral < 1 || maxLiteral > 0xffffffff) {
    throw new BackupError('EPARAM', `maxLiteral must be a whole number from 1 to 2^32-1, not ${maxLiteral}`);
  }
  return maxLiteral;
}

/**
 * rdiff's chunking of a delta against an empty signature (no block can match): 2.3.2 cuts
 * literals at its input buffer, one block long; 2.3.3 and later at 4·(64 KiB + block).
 */
export function slackChunkOf(sig: Signature, maxLiteral: number): number {
  return maxLiteral === MAX_LITERAL_2_3_2 ? sig.blockLength : 4 * (65536 + sig.blockLength);
}

/**
 * Holds the new data from the start of the pending literal run to the last byte pushed. `base`
 * is the absolute offset of `buf[0]`.
 */
export class DeltaBuffer {
  buf: Uint8Array;
  base = 0;
  avail = 0;

  constructor(capacity: number) {
    this.buf = new Uint8Array(capacity);
  }

  /** Append `chunk`, first dropping the bytes before absolute offset `keepFrom`. */
  append(chunk: Uint8Array, keepFrom: number): void {
    if (this.avail + chunk.length > this.buf.length) {
      const keep = keepFrom - this.base;
      const live = this.avail - keep;
      // Compacting moves the live bytes; with them over half the buffer it would move them
      // again at nearly every append (a consumer lagging by 16 MiB moved 16 MiB per 1 MiB
      // chunk), so the buffer grows instead and each byte is moved a bounded number of times.
      if (2 * (live + chunk.length) > this.buf.length) {
        const bigger = new Uint8Array(Math.max(2 * this.buf.length, 2 * (live + chunk.length)));
        bigger.set(this.buf.subarray(keep, this.avail));
        this.buf = bigger;
      } else {
        this.buf.copyWithin(0, keep, this.avail);
      }
      this.avail = live;
      this.base = keepFrom;
    }
    this.buf.set(chunk, this.avail);
    this.avail += chunk.length;
  }

  /** Absolute offset one past the last byte held. */
  get end(): number {
    return this.base + this.avail;
  }
}

/** A push-style delta encoder over one signature. */
export class DeltaEncoder {
  private readonly writer = new DeltaWriter();
  private readonly emitter: DeltaEmitter;
  private readonly scanner: MatchScanner | undefined;
  private readonly slackChunk: number;
  private readonly data: DeltaBuffer;
  /** Absolute position of the next window to try. */
  private p = 0;
  private readonly onMatch = (pos: number, block: number, len: number): void => {
    this.emitter.match(this.data.base + pos, block, len, this.data.buf, this.data.base);
    this.observe?.(this.data.base + pos, block, len);
  };

  /**
   * @param observe - told of every match, at its absolute position, as the scan finds it
   *   (see `matched-signature.ts`).
   */
  constructor(
    readonly sig: Signature,
    hasher: StrongHasher,
    options: DeltaOptions = {},
    private readonly observe?: (pos: number, block: number, len: number) => void,
  ) {
    if (hasher.kind !== sig.strong) throw new BackupError('EINTERNAL', 'strong hasher kind does not match the signature');
    const maxLiteral = maxLiteralOf(options);
    this.emitter = new DeltaEmitter(this.writer, maxLiteral, sig.blockLength);
    this.slackChunk = slackChunkOf(sig, maxLiteral);
    this.scanner = sig.count > 0 ? new MatchScanner(new BlockIndex(sig), hasher) : undefined;
    // Small at first (it doubles as needed): a delta of a small file must not pay for a large buffer.
    this.data = new DeltaBuffer(64 << 10);
  }

  /** Counts of the commands written so far. */
  get stats(): DeltaStats {
    return { ...this.writer.stats };
  }

  /** Every window that starts before this absolute position has been tried (matched or not). */
  get scanned(): number {
    return this.p;
  }

  /** Feed the next chunk of new data; returns any delta bytes that are complete. */
  push(chunk: Uint8Array): Uint8Array[] {
    this.data.append(chunk, this.emitter.litStart);
    this.process(false);
    return this.writer.take();
  }

  /** Finish: the rest of the delta, END included. */
  end(): Uint8Array[] {
    this.process(true);
    this.emitter.finish(this.data.end, this.data.buf, this.data.base);
    return this.writer.take(true);
  }

  private process(eof: boolean): void {
    const { buf, base, avail } = this.data;
    if (!this.scanner) {
      this.slack(eof);
      return;
    }
    this.p = base + this.scanner.scan(buf, this.p - base, avail, eof, Infinity, this.onMatch);
    this.emitter.passed(this.p, buf, base);
  }

  private slack(eof: boolean): void {
    const { buf, base } = this.data;
    const end = this.data.end;
    let at = this.emitter.litStart;
    while (end - at >= this.slackChunk || (eof && end > at)) {
      const stop = Math.min(end, at + this.slackChunk);
      this.writer.literal(buf, at - base, stop - base);
      at = stop;
    }
    this.emitter.litStart = at;
    this.p = at;
  }
}

/** `sig` itself when parsed already, else the signature its bytes hold. */
export async function signatureOf(sig: Signature | ByteSource): Promise<Signature> {
  const parsed = typeof sig === 'object' && sig !== null && (sig as Signature).weakSums instanceof Uint32Array;
  return parsed ? (sig as Signature) : parseSignature(sig as ByteSource);
}

/**
 * Stream the delta that turns the basis described by `sig` into `newData`. `sig` is a parsed
 * {@link Signature} or the bytes of a signature file.
 */
export async function* delta(
  sig: Signature | ByteSource,
  newData: ByteSource,
  options: DeltaOptions = {},
): AsyncGenerator<Uint8Array, void, undefined> {
  const signature = await signatureOf(sig);
  const encoder = new DeltaEncoder(signature, await createStrongHasher(signature.strong), options);
  for await (const chunk of chunksOf(newData)) {
    for (const out of encoder.push(chunk)) yield out;
  }
  for (const out of encoder.end()) yield out;
}
