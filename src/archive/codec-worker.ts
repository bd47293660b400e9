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
import { ZstdFrameDecoder, ZstdFrameEncoder, zstdSupport, type ZstdBinding } from './zstd-binding.js';
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

const decodings = new Map<number, ZstdFrameDecoder>();

/** Output of stream `req.stream` until the input is used up or a step's worth is made. */
function decodeStep(req: DecodeRequest): DecodeReply {
  let d = decodings.get(req.stream);
  if (!d) decodings.set(req.stream, (d = new ZstdFrameDecoder(binding(), (size) => new Uint8Array(new ArrayBuffer(size)))));
  if (req.data) d.feed(new Uint8Array(req.data, 0, req.length));
  const pieces: ArrayBuffer[] = [];
  const lengths: number[] = [];
  let out = 0;
  while (out < DECODE_STEP) {
    const piece = d.next();
    if (!piece) break;
    pieces.push(piece.buffer as ArrayBuffer);
    lengths.push(piece.length);
    out += piece.length;
  }
  return { id: req.id, pieces, lengths, inFrame: d.inFrame, more: d.pending };
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
