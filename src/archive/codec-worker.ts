/**
 * A codec worker thread (`codec-workers.ts` starts them): compresses each block it is sent
 * into one zstd frame and sends the frame back. The block's buffer arrives transferred and the
 * frame's leaves so, so no block is copied between threads. The block's buffer goes back too:
 * left here it would be garbage of a thread that allocates almost nothing else, whose
 * collector then seldom runs (dead blocks held 30 MB per thread, measured). One context per
 * level is kept for the life of the thread. It also decodes zstd streams for restores, one
 * context per stream, a step of output at a time (see `zstdDecodeOffThread`).
 */
import { parentPort } from 'node:worker_threads';
import { DECODE_OUT, ZstdFrameEncoder, zstdSupport, type ZstdBinding, type ZstdDCtx } from './zstd-binding.js';
import { DECODE_STEP, type CodecReply, type CodecRequest, type DecodeReply, type DecodeRequest } from './codec-workers.js';

const encoders = new Map<number, ZstdFrameEncoder>();

function encoder(level: number): ZstdFrameEncoder {
  let e = encoders.get(level);
  if (!e) encoders.set(level, (e = new ZstdFrameEncoder(binding(), level)));
  return e;
}

function binding(): ZstdBinding {
  const zstd = zstdSupport();
  if (!zstd.binding) throw new Error(zstd.reason);
  return zstd.binding;
}

interface Decoding {
  dctx: ZstdDCtx;
  src: Uint8Array;
  inFrame: boolean;
  /** Whether the last call filled its output: zstd may hold more of the frame back. */
  full: boolean;
}

const decodings = new Map<number, Decoding>();

/** The same loop as the one-thread decoder (`zstdDecoder`), stopped after a step's output. */
function decodeStep(req: DecodeRequest): DecodeReply {
  let d = decodings.get(req.stream);
  if (!d) decodings.set(req.stream, (d = { dctx: new (binding().DCtx)(), src: new Uint8Array(0), inFrame: false, full: false }));
  if (req.data) {
    d.src = new Uint8Array(req.data, 0, req.length);
    d.full = true;
  }
  const pieces: ArrayBuffer[] = [];
  const lengths: number[] = [];
  let out = 0;
  while ((d.src.length > 0 || (d.full && d.inFrame)) && out < DECODE_STEP) {
    const dst = new Uint8Array(new ArrayBuffer(DECODE_OUT));
    const [hint, written, consumed] = d.dctx.decompressStream(dst, d.src);
    if (consumed === 0 && written === 0 && d.src.length > 0) throw new Error('zstd made no progress on its input');
    d.src = d.src.subarray(consumed);
    d.inFrame = hint !== 0;
    d.full = written === dst.length;
    if (written > 0) {
      pieces.push(dst.buffer as ArrayBuffer);
      lengths.push(written);
      out += written;
    }
  }
  return { id: req.id, pieces, lengths, inFrame: d.inFrame, more: d.src.length > 0 || (d.full && d.inFrame) };
}

parentPort!.on('message', (req: CodecRequest | DecodeRequest) => {
  if ('stream' in req) {
    if (req.close) {
      decodings.delete(req.stream);
      return;
    }
    let reply: DecodeReply;
    try {
      reply = decodeStep(req);
    } catch (e) {
      decodings.delete(req.stream);
      reply = { id: req.id, error: (e as Error | undefined)?.message ?? String(e) };
    }
    parentPort!.postMessage(reply, reply.pieces ?? []);
    return;
  }
  let reply: CodecReply;
  try {
    const frame = encoder(req.level).frame(new Uint8Array(req.data, 0, req.length));
    reply = { id: req.id, data: frame.buffer as ArrayBuffer, length: frame.length, block: req.data };
  } catch (e) {
    reply = { id: req.id, error: (e as Error | undefined)?.message ?? String(e) };
  }
  parentPort!.postMessage(reply, reply.data ? [reply.data, reply.block] : []);
});
