/**
 * The threads that compress archive blocks with zstd, so the main thread, a backup's
 * bottleneck, never does; and that decode zstd archives for restores, whose main thread is
 * theirs (see {@link zstdDecodeOffThread}).
 *
 * zstd-napi's calls are synchronous: made on the main thread they would stall the walk, the
 * reads and the tar writer for every block. gzip gets the same effect from zlib's thread pool;
 * zstd gets two worker threads of its own (one on a single core), started on the first block
 * and kept for the life of the process, unref'd while idle so they never keep it alive. A
 * block is sent to the thread with the fewest blocks pending; a block that fills its whole
 * buffer (every full block of the tar writer) is transferred, not copied, and so is the frame
 * that comes back. Which thread compresses a block does not change its frame.
 *
 * The worker script is `codec-worker.js` beside this module in `dist/`; under vitest, which
 * runs this module from `src/` as TypeScript, it is the package's built copy, as for the
 * engine's and the tree's workers. With neither, or with `IBT_THREADS=1`, blocks are
 * compressed on the calling thread: slower, but the same bytes. A worker that dies fails the
 * blocks it had (`EINTERNAL`, a defect) and the next block starts a new set of threads.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { BackupError } from '../errors.js';
import { workerExecArgv, workerScriptPath } from '../io/worker-script.js';
import { checkZstdEnd, ZstdFrameEncoder, type ZstdSupport } from './zstd-binding.js';

/** A block to compress: `length` bytes at the start of `data`. */
export interface CodecRequest {
  id: number;
  level: number;
  data: ArrayBuffer;
  length: number;
}

/**
 * The frame of a block (`length` bytes at the start of `data`), and the block's buffer given
 * back; or why it failed.
 */
export type CodecReply =
  | { id: number; data: ArrayBuffer; length: number; block: ArrayBuffer; error?: undefined }
  | { id: number; data?: undefined; length?: undefined; block?: undefined; error: string };

/**
 * A step of decoding zstd stream `stream` on the thread that holds its context: new input
 * (`length` bytes at the start of `data`), or with no `data` the rest of the last input;
 * `close` forgets the stream (no reply).
 */
export interface DecodeRequest {
  id: number;
  stream: number;
  data?: ArrayBuffer;
  length?: number;
  close?: true;
}

/**
 * What a decode step produced: at most {@link DECODE_STEP} bytes of output, in pieces
 * (`lengths[i]` bytes at the start of `pieces[i]`), whether the stream is inside a frame, and
 * whether the same input has more to give (another step without data); or why it failed.
 */
export type DecodeReply =
  | { id: number; pieces: ArrayBuffer[]; lengths: number[]; inFrame: boolean; more: boolean; error?: undefined }
  | { id: number; pieces?: undefined; error: string };

/**
 * Output one decode step may give: what a hostile archive can make a thread hold at once,
 * however far its frames expand.
 */
export const DECODE_STEP = 1 << 20;

type Pending = { resolve: (reply: CodecReply | DecodeReply) => void; reject: (e: unknown) => void; worker: number };

/** A few threads compressing blocks into zstd frames. */
class CodecWorkers {
  private readonly workers: Worker[] = [];
  private readonly load: number[];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private broken?: Error;

  constructor(script: string, count: number) {
    this.load = new Array<number>(count).fill(0);
    const execArgv = workerExecArgv();
    for (let i = 0; i < count; i++) {
      const w = new Worker(script, { execArgv });
      w.on('message', (reply: CodecReply | DecodeReply) => this.settle(reply));
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => this.fail(new Error(`a codec worker exited with code ${code}`)));
      w.unref();
      this.workers.push(w);
    }
  }

  get usable(): boolean {
    return this.broken === undefined;
  }

  /** The thread with the fewest requests pending. */
  leastLoaded(): number {
    return this.load.indexOf(Math.min(...this.load));
  }

  async compress(block: Uint8Array, level: number): Promise<Uint8Array> {
    const data = ownBuffer(block);
    const reply = (await this.request(this.leastLoaded(), { level, data, length: block.length }, [data])) as CodecReply;
    if (reply.error !== undefined) throw new BackupError('EINTERNAL', `compressing a block with zstd failed: ${reply.error}`);
    return new Uint8Array(reply.data, 0, reply.length);
  }

  /** Send `req` (its id assigned here) to thread `worker` and wait for the reply. */
  request(worker: number, req: Omit<CodecRequest, 'id'> | Omit<DecodeRequest, 'id'>, transfer: ArrayBuffer[]): Promise<CodecReply | DecodeReply> {
    if (this.broken) return Promise.reject(this.broken);
    const id = this.nextId++;
    return new Promise<CodecReply | DecodeReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker });
      if (this.load[worker]!++ === 0) this.workers[worker]!.ref();
      this.workers[worker]!.postMessage({ ...req, id }, transfer);
    });
  }

  /** Send `req`, which has no reply. */
  post(worker: number, req: Omit<DecodeRequest, 'id'>): void {
    if (!this.broken) this.workers[worker]!.postMessage(req);
  }

  private settle(reply: CodecReply | DecodeReply): void {
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    if (--this.load[p.worker]! === 0) this.workers[p.worker]!.unref();
    p.resolve(reply);
  }

  private fail(e: unknown): void {
    if (this.broken) return;
    this.broken = new BackupError('EINTERNAL', `a codec worker failed: ${(e as Error | undefined)?.message ?? String(e)}`, { cause: e });
    for (const p of this.pending.values()) p.reject(this.broken);
    this.pending.clear();
    for (const w of this.workers) void w.terminate();
  }
}

/** The threads, once started; `null` where this process compresses on the calling thread. */
let shared: CodecWorkers | null | undefined;
let inline: Map<number, ZstdFrameEncoder> | undefined;

function threads(): CodecWorkers | null {
  if (shared === undefined || (shared !== null && !shared.usable)) {
    const script = process.env.IBT_THREADS === '1' ? undefined : workerScriptPath(import.meta.url, 'archive/codec-worker.js');
    shared = script ? new CodecWorkers(script, Math.min(2, availableParallelism())) : null;
  }
  return shared;
}

/**
 * `block` as one zstd frame at `level`, compressed on a codec thread (on this one where there
 * are none). A block that fills its whole `ArrayBuffer` is handed over: that buffer is
 * detached once this returns. `ENATIVE` when `zstd` says zstd-napi cannot be used.
 */
export function zstdBlock(zstd: ZstdSupport, block: Uint8Array, level: number): Promise<Uint8Array> {
  if (!zstd.binding) return Promise.reject(new BackupError('ENATIVE', `zstd is not available: ${zstd.reason}`));
  const pool = threads();
  if (pool) return pool.compress(block, level);
  inline ??= new Map();
  let encoder = inline.get(level);
  if (!encoder) inline.set(level, (encoder = new ZstdFrameEncoder(zstd.binding, level)));
  try {
    return Promise.resolve(encoder.frame(block));
  } catch (e) {
    return Promise.reject(e);
  }
}

/** A buffer of `bytes` alone that can be transferred: its own when it fills it, else a copy. */
function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
  return whole ? (bytes.buffer as ArrayBuffer) : new Uint8Array(bytes).buffer;
}

let nextStream = 1;

/**
 * The zstd frames of `source` decompressed on a codec thread, so a restore's main thread
 * (its bottleneck: 1.9 s of 9.5 for a 2 GiB tree) only parses and writes; undefined where
 * there are no threads (the caller decodes on its own thread). One step is in flight while
 * the caller takes the last one's output, and each step gives at most {@link DECODE_STEP}
 * bytes, so a small archive that expands without end holds no more than that. Input the
 * source hands over whole is transferred, the rest copied. Errors are those of the one-thread
 * decoder (`zstd-binding.ts`), with the same messages.
 */
export function zstdDecodeOffThread(): ((source: AsyncIterable<Uint8Array>) => AsyncGenerator<Uint8Array, void, undefined>) | undefined {
  const pool = threads();
  if (!pool) return undefined;
  return async function* decode(source) {
    const worker = pool.leastLoaded();
    const stream = nextStream++;
    const input = source[Symbol.asyncIterator]();
    let sawInput = false;
    let inFrame = false;
    let more = false;
    const step = async (): Promise<Extract<DecodeReply, { error?: undefined }> | undefined> => {
      let req: Omit<DecodeRequest, 'id'>;
      let transfer: ArrayBuffer[] = [];
      if (more) {
        req = { stream };
      } else {
        let next = await input.next();
        while (!next.done && next.value.length === 0) next = await input.next();
        if (next.done) return undefined;
        sawInput = true;
        const data = ownBuffer(next.value);
        req = { stream, data, length: next.value.length };
        transfer = [data];
      }
      const reply = (await pool.request(worker, req, transfer)) as DecodeReply;
      if (reply.error !== undefined) throw new Error(reply.error);
      more = reply.more;
      inFrame = reply.inFrame;
      return reply;
    };
    try {
      let pending = step();
      for (;;) {
        const reply = await pending;
        if (!reply) break;
        pending = step();
        // Settled in the next turn, or dropped by the `finally`: never an unhandled rejection.
        pending.catch(() => undefined);
        for (let i = 0; i < reply.pieces.length; i++) yield new Uint8Array(reply.pieces[i]!, 0, reply.lengths[i]!);
      }
      checkZstdEnd(inFrame, sawInput);
    } finally {
      pool.post(worker, { stream, close: true });
    }
  };
}