/**
 * The zstd pieces under the codec registry: a block as one frame (recording its size and a
 * checksum, the same bytes on a codec thread as on the calling one), and the streamed decoder
 * (any chunking of the input, truncation, and the regression it prevents: zstd-napi's own
 * stream expands a whole input chunk at once, so a few bytes of a hostile archive could take
 * gigabytes of memory).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { zstdBlock } from '../../src/archive/codec-workers.js';
import { ZSTD_LEVEL } from '../../src/archive/codec.js';
import { zstdDecodeOffThread } from '../../src/archive/codec-workers.js';
import { DECODE_OUT, ZstdFrameEncoder, zstdDecoder, zstdSupport, type ZstdBinding, type ZstdDCtx } from '../../src/archive/zstd-binding.js';
import { logText, Prng } from '../helpers/data.js';
import { onCi } from '../helpers/tools.js';
import { requireZstdBinding, zstdBinding } from '../helpers/zstd.js';

const MiB = 1 << 20;
/** Whether blocks go to codec threads here: the worker script is built (CI builds it first). */
const threaded = existsSync('dist/archive/codec-worker.js') && process.env.IBT_THREADS !== '1';

/** zstd-napi's own single-shot calls, to check frames independently of the code under test. */
interface Oracle {
  decompress(dst: Uint8Array, src: Uint8Array): number;
  getFrameContentSize(frame: Uint8Array): number | null;
  findFrameCompressedSize(frame: Uint8Array): number;
}

type Decode = (source: AsyncIterable<Uint8Array>) => AsyncGenerator<Uint8Array, void, undefined>;

async function decodeAll(binding: ZstdBinding, chunks: Iterable<Uint8Array>, decode: Decode = zstdDecoder(binding)): Promise<Buffer> {
  const out: Uint8Array[] = [];
  for await (const piece of decode(
    (async function* () {
      // Copies: a chunk handed to a codec thread whole is transferred, and the test reuses them.
      for (const c of chunks) yield Uint8Array.from(c);
    })(),
  )) {
    out.push(piece);
  }
  return Buffer.concat(out);
}

const zstd = requireZstdBinding();

describe.skipIf(zstd.skip)(`zstd frames and their decoder${zstd.note}`, () => {
  const binding = zstdBinding!;
  const oracle = (): Oracle => createRequire(import.meta.url)('zstd-napi/binding') as Oracle;
  const blocks = (): Uint8Array[] => [logText(1, MiB), new Prng(2).bytes(MiB), logText(3, 1000), new Uint8Array(1024)];

  it('the codec threads are used (CI builds their script before the tests)', () => {
    if (onCi) expect(threaded, 'dist/archive/codec-worker.js must exist: npm run build').toBe(true);
  });

  it('a block is one frame recording its content size and a checksum, the same bytes on a codec thread as on this one', async () => {
    const inline = new ZstdFrameEncoder(binding, ZSTD_LEVEL);
    for (const block of blocks()) {
      const expected = Buffer.from(inline.frame(block));
      const frame = await zstdBlock(zstdSupport(), new Uint8Array(block), ZSTD_LEVEL);
      expect(Buffer.from(frame).equals(expected)).toBe(true);
      expect(oracle().getFrameContentSize(frame)).toBe(block.length);
      expect(oracle().findFrameCompressedSize(frame)).toBe(frame.length);
      // Frame header descriptor, bit 2: Content_Checksum_flag (RFC 8878 §3.1.1.1.1).
      expect(frame[4]! & 4).toBe(4);
      const back = new Uint8Array(block.length);
      expect(oracle().decompress(back, frame)).toBe(block.length);
      expect(Buffer.from(back).equals(block)).toBe(true);
    }
  });

  it('random data is stored, not expanded beyond a few bytes per 128 KiB', async () => {
    const frame = await zstdBlock(zstdSupport(), new Prng(4).bytes(MiB), ZSTD_LEVEL);
    expect(frame.length).toBeLessThan(MiB + 64);
  });

  it('a block filling its buffer is handed to the thread; one sharing a buffer is copied, leaving the buffer as it was', async () => {
    const whole = new Uint8Array(logText(5, 100_000));
    const frame = await zstdBlock(zstdSupport(), whole, ZSTD_LEVEL);
    expect(whole.byteLength).toBe(threaded ? 0 : 100_000);
    const big = logText(5, 300_000);
    const before = Buffer.from(big);
    const part = await zstdBlock(zstdSupport(), big.subarray(0, 100_000), ZSTD_LEVEL);
    expect(Buffer.from(big).equals(before)).toBe(true);
    expect(Buffer.from(part).equals(Buffer.from(frame))).toBe(true);
  });

  /** The frames of `parts`, cut into chunks anywhere, decode to `parts` joined. */
  const decodesCutAnywhere = async (parts: Uint8Array[], decode: () => Decode, numRuns: number): Promise<Uint8Array> => {
    const encoder = new ZstdFrameEncoder(binding, ZSTD_LEVEL);
    const plain = Buffer.concat(parts);
    const stream = Buffer.concat(parts.map((p) => encoder.frame(p)));
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 12 }), async (cuts) => {
        const at = [0, ...cuts.sort((a, b) => a - b), stream.length];
        const chunks = at.slice(1).map((end, i) => stream.subarray(at[i], end));
        expect((await decodeAll(binding, chunks, decode())).equals(plain)).toBe(true);
      }),
      { numRuns },
    );
    return stream;
  };

  it('frames concatenated and cut into chunks anywhere decode to the blocks, in order', async () => {
    const parts = [logText(6, 300_000), new Prng(7).bytes(200_000), logText(8, 5000)];
    const plain = Buffer.concat(parts);
    const stream = await decodesCutAnywhere(parts, () => zstdDecoder(binding), 40);
    expect((await decodeAll(binding, [...Array.from(stream.subarray(0, 3000), (b) => Uint8Array.of(b)), stream.subarray(3000)])).equals(plain)).toBe(true);
  });

  it('data ending inside a frame, or holding none, is an unexpected end; garbage is zstd\'s error', async () => {
    const stream = new ZstdFrameEncoder(binding, ZSTD_LEVEL).frame(logText(9, 200_000));
    for (const end of [1, 5, 100, stream.length - 1]) {
      await expect(decodeAll(binding, [stream.subarray(0, end)]), `cut at ${end}`).rejects.toThrow(/^unexpected end of zstd data: the archive ends inside a frame$/);
    }
    await expect(decodeAll(binding, [])).rejects.toThrow(/^unexpected end of zstd data: the archive holds no frame$/);
    await expect(decodeAll(binding, [new TextEncoder().encode('not zstd at all')])).rejects.toThrow(/unknown frame descriptor/i);
  });

  it('regression: a few bytes that expand to 1 GiB are decoded a piece at a time, only as fast as they are read', async () => {
    const frame = new ZstdFrameEncoder(binding, ZSTD_LEVEL).frame(new Uint8Array(64 * MiB));
    const bomb = Buffer.concat(Array.from({ length: 16 }, () => frame));
    expect(bomb.length).toBeLessThan(64 * 1024);
    let calls = 0;
    const counting: ZstdBinding = {
      ...binding,
      DCtx: class {
        private readonly inner: ZstdDCtx = new binding.DCtx();
        decompressStream(dst: Uint8Array, src: Uint8Array): [number, number, number] {
          calls++;
          return this.inner.decompressStream(dst, src);
        }
      },
    };
    let pieces = 0;
    for await (const piece of zstdDecoder(counting)((async function* () {
      yield bomb;
    })())) {
      expect(piece.length).toBeLessThanOrEqual(DECODE_OUT);
      if (++pieces === 3) break;
    }
    expect(calls).toBe(3);
  });

  describe.skipIf(!threaded)('decoded on a codec thread', () => {
    const offThread = (): Decode => zstdDecodeOffThread()!;

    it('frames cut into chunks anywhere decode to the blocks, in order, as on this thread', async () => {
      await decodesCutAnywhere([logText(16, 3 * MiB), new Prng(17).bytes(200_000), logText(18, 5000), new Uint8Array(2 * MiB)], offThread, 20);
    });

    it('gives the same errors as the one-thread decoder', async () => {
      const stream = new ZstdFrameEncoder(binding, ZSTD_LEVEL).frame(logText(19, 200_000));
      for (const end of [1, 100, stream.length - 1]) {
        await expect(decodeAll(binding, [stream.subarray(0, end)], offThread()), `cut at ${end}`).rejects.toThrow(/^unexpected end of zstd data: the archive ends inside a frame$/);
      }
      await expect(decodeAll(binding, [], offThread())).rejects.toThrow(/^unexpected end of zstd data: the archive holds no frame$/);
      await expect(decodeAll(binding, [new TextEncoder().encode('not zstd at all')], offThread())).rejects.toThrow(/unknown frame descriptor/i);
      expect((await decodeAll(binding, [stream], offThread())).equals(Buffer.from(logText(19, 200_000)))).toBe(true);
    });

    it('regression: a bomb is decoded a step at a time, and a reader that stops leaves the thread fit for the next stream', async () => {
      const frame = new ZstdFrameEncoder(binding, ZSTD_LEVEL).frame(new Uint8Array(64 * MiB));
      const bomb = Buffer.concat(Array.from({ length: 16 }, () => frame));
      let pieces = 0;
      for await (const piece of offThread()(
        (async function* () {
          yield Uint8Array.from(bomb);
        })(),
      )) {
        expect(piece.length).toBeLessThanOrEqual(DECODE_OUT);
        if (++pieces === 3) break;
      }
      const stream = new ZstdFrameEncoder(binding, ZSTD_LEVEL).frame(logText(20, 100_000));
      expect((await decodeAll(binding, [stream], offThread())).equals(Buffer.from(logText(20, 100_000)))).toBe(true);
    });
  });
});
