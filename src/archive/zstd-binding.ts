/**
 * zstd through zstd-napi, an optional dependency: loading it, one frame per block, and a
 * streamed decoder that keeps to the reader's pace.
 *
 * zstd-napi is a native addon built from zstd's bundled sources at install time; where it
 * cannot build, the package still installs (it is in `optionalDependencies`) and zstd is
 * simply not available. So it is loaded lazily, once per thread, and a failure becomes a
 * reason string the codec registry puts in its error, never an exception at import time. Only
 * the low-level binding (`zstd-napi/binding`) is used, through the small interface below, so
 * this compiles where the package is absent.
 *
 * Every block becomes one frame made with `ZSTD_compress2`: the block's length is known, so
 * the frame header records its content size, and with a checksum of its content each frame
 * is what `zstd -d` writes and checks by itself. A frame depends on the block's bytes and the
 * level alone (one thread per frame, no dictionary), so archives are reproducible.
 *
 * zstd-napi's own `DecompressStream` pushes everything one input chunk expands to at once; a
 * hostile archive of a few bytes can expand to gigabytes that way. {@link zstdDecoder} yields
 * at most {@link DECODE_OUT} bytes at a time and waits for the reader between yields, so
 * memory stays bounded whatever the archive claims.
 */
import { createRequire } from 'node:module';

/** A zstd compression context (`ZSTD_CCtx`). */
export interface ZstdCCtx {
  /** `ZSTD_CCtx_setParameter`. */
  setParameter(param: number, value: number): void;
  /** `ZSTD_compress2`: one whole frame of `src`; returns the bytes written to `dst`. */
  compress2(dst: Uint8Array, src: Uint8Array): number;
}

/** A zstd decompression context (`ZSTD_DCtx`). */
export interface ZstdDCtx {
  /** `ZSTD_decompressStream`: [a hint, 0 once a frame is complete; bytes written; bytes consumed]. */
  decompressStream(dst: Uint8Array, src: Uint8Array): [number, number, number];
}

/** The parts of zstd-napi's low-level binding this library uses. */
export interface ZstdBinding {
  /** Compression contexts. */
  readonly CCtx: new () => ZstdCCtx;
  /** Decompression contexts. */
  readonly DCtx: new () => ZstdDCtx;
  /** Parameter numbers of `setParameter`. */
  readonly CParameter: { readonly compressionLevel: number; readonly contentSizeFlag: number; readonly checksumFlag: number };
  /** The largest frame `size` bytes can make. */
  compressBound(size: number): number;
}

/** The binding, or why zstd cannot be used in this process. */
export type ZstdSupport = { binding: ZstdBinding; reason?: undefined } | { binding?: undefined; reason: string };

/** Largest piece the decoder yields: memory held per archive being read, whatever it expands to. */
export const DECODE_OUT = 256 * 1024;

const requireBinding = (): unknown => createRequire(import.meta.url)('zstd-napi/binding');

/**
 * Load the binding through `load` (zstd-napi's, by default) and check that it has what this
 * library calls; every failure becomes the reason.
 */
export function probeZstd(load: () => unknown = requireBinding): ZstdSupport {
  let b: Partial<ZstdBinding> | undefined;
  try {
    b = load() as Partial<ZstdBinding> | undefined;
  } catch (e) {
    const why = (e as Error | undefined)?.message?.split('\n')[0] ?? String(e);
    return { reason: `the optional dependency zstd-napi cannot be loaded (${why})` };
  }
  if (typeof b?.CCtx !== 'function' || typeof b.DCtx !== 'function' || typeof b.compressBound !== 'function' || typeof b.CParameter?.checksumFlag !== 'number') {
    return { reason: 'the installed zstd-napi lacks the CCtx and DCtx API this library uses' };
  }
  return { binding: b as ZstdBinding };
}

let support: ZstdSupport | undefined;

/** zstd-napi as this thread loaded it, on first call. */
export function zstdSupport(): ZstdSupport {
  return (support ??= probeZstd());
}

/** Compresses blocks into frames at one level, reusing one context. */
export class ZstdFrameEncoder {
  private readonly cctx: ZstdCCtx;

  constructor(
    private readonly binding: ZstdBinding,
    level: number,
  ) {
    this.cctx = new binding.CCtx();
    this.cctx.setParameter(binding.CParameter.compressionLevel, level);
    this.cctx.setParameter(binding.CParameter.contentSizeFlag, 1);
    this.cctx.setParameter(binding.CParameter.checksumFlag, 1);
  }

  /** `block` as one complete frame, in a buffer of its own (transferable to another thread). */
  frame(block: Uint8Array): Uint8Array {
    const out = new Uint8Array(new ArrayBuffer(this.binding.compressBound(block.length)));
    return out.subarray(0, this.cctx.compress2(out, block));
  }
}

/** Throws the "unexpected end" of input that stopped inside a frame (`inFrame`) or held none. */
export function checkZstdEnd(inFrame: boolean, sawInput: boolean): void {
  if (inFrame) throw new Error('unexpected end of zstd data: the archive ends inside a frame');
  if (!sawInput) throw new Error('unexpected end of zstd data: the archive holds no frame');
}

/**
 * zstd frames decompressed a piece of at most {@link DECODE_OUT} bytes at a time: the loop
 * of both decoders, this thread's ({@link zstdDecoder}) and a codec thread's.
 */
export class ZstdFrameDecoder {
  private readonly dctx: ZstdDCtx;
  private src: Uint8Array = new Uint8Array(0);
  /** Whether the last call filled its output: zstd holds output back only then. */
  private full = false;
  /** Whether the input so far stops inside a frame. */
  inFrame = false;
  /** Whether any input came at all. */
  sawInput = false;

  constructor(
    binding: ZstdBinding,
    private readonly alloc: (size: number) => Uint8Array = (size) => Buffer.allocUnsafe(size),
  ) {
    this.dctx = new binding.DCtx();
  }

  /** Take the next input, once {@link next} has given everything of the last. */
  feed(src: Uint8Array): void {
    this.src = src;
    this.full = true;
    this.sawInput ||= src.length > 0;
  }

  /** Whether the input fed has more output to give. */
  get pending(): boolean {
    return this.src.length > 0 || (this.full && this.inFrame);
  }

  /** The next piece of output, at the start of a buffer of its own; undefined when the input is used up. */
  next(): Uint8Array | undefined {
    while (this.pending) {
      const dst = this.alloc(DECODE_OUT);
      const [hint, written, consumed] = this.dctx.decompressStream(dst, this.src);
      if (consumed === 0 && written === 0 && this.src.length > 0) throw new Error('zstd made no progress on its input');
      this.src = this.src.subarray(consumed);
      this.inFrame = hint !== 0;
      this.full = written === dst.length;
      if (written > 0) return dst.subarray(0, written);
    }
    return undefined;
  }
}

/**
 * A stream stage that decompresses zstd frames, one after the other, as they arrive. Input
 * that stops inside a frame, or holds no frame at all, fails with "unexpected end" (read as
 * truncation); zstd's own errors (a bad magic number, a checksum mismatch) pass through.
 */
export function zstdDecoder(binding: ZstdBinding): (source: AsyncIterable<Uint8Array>) => AsyncGenerator<Uint8Array, void, undefined> {
  return async function* decode(source) {
    const d = new ZstdFrameDecoder(binding);
    for await (const chunk of source) {
      d.feed(chunk);
      for (let piece = d.next(); piece; piece = d.next()) yield piece;
    }
    checkZstdEnd(d.inFrame, d.sawInput);
  };
}
