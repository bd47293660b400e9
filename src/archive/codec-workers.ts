/**
 * The threads that compress archive blocks with zstd, so the main thread, a backup's
 * bottleneck, never does.
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
import { ZstdFrameEncoder, type ZstdSupport } from './zstd-binding.js';

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

type Pending = { resolve: (frame: Uint8Array) => void; reject: (e: unknown) => void; worker: number };

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
      w.on('message', (reply: CodecReply) => this.settle(reply));
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => this.fail(new Error(`a codec worker exited with code ${code}`)));
      w.unref();
      this.workers.push(w);
    }
  }

  get usable(): boolean {
    return this.broken === undefined;
  }

  compress(block: Uint8Array, level: number): Promise<Uint8Array> {
    const whole = block.byteOffset === 0 && block.byteLength === block.buffer.byteLength && block.buffer instanceof ArrayBuffer;
    const data = whole ? (block.buffer as ArrayBuffer) : new Uint8Array(block).buffer;
    const worker = this.load.indexOf(Math.min(...this.load));
    const id = this.nextId++;
    return new Promise<Uint8Array>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker });
      if (this.load[worker]!++ === 0) this.workers[worker]!.ref();
      const req: CodecRequest = { id, level, data, length: block.length };
      this.workers[worker]!.postMessage(req, [data]);
    });
  }

  private settle(reply: CodecReply): void {
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    if (--this.load[p.worker]! === 0) this.workers[p.worker]!.unref();
    if (reply.error !== undefined) p.reject(new BackupError('EINTERNAL', `compressing a block with zstd failed: ${reply.error}`));
    else p.resolve(new Uint8Array(reply.data, 0, reply.length));
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
