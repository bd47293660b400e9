/**
 * The TypeScript engine's worker threads: one per core (at most 8), started on first use and
 * kept for the life of the process, but unref'd while idle so they never keep it alive.
 *
 * The worker script is `rsync-worker.js` beside this module in `dist/`, or the package's
 * built copy under vitest (see `io/worker-script.ts`); with neither, or with `IBT_THREADS=1`,
 * there is no pool and the engine runs on the calling thread. A worker that dies takes the
 * pool with it: pending requests fail and later jobs run on the calling thread.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { BackupError } from '../errors.js';
import { workerExecArgv, workerScriptPath } from '../io/worker-script.js';
import type { WorkerReply, WorkerRequest } from './worker-protocol.js';

type Pending = { resolve: (reply: WorkerReply) => void; reject: (e: unknown) => void; worker: number };
type WithoutId<T> = T extends { id: number } ? Omit<T, 'id'> : never;

function workerScript(): string | undefined {
  return workerScriptPath(import.meta.url, 'engine/rsync-worker.js');
}

/** Threads the pool has, or will have when it starts: `IBT_THREADS`, else one per core (at most 8). */
export function workerThreads(): number {
  const env = Number(process.env.IBT_THREADS);
  if (Number.isInteger(env) && env >= 1) return Math.min(env, 64);
  return Math.min(availableParallelism(), 8);
}

/** A fixed set of engine workers with request/reply messaging. */
export class WorkerPool {
  private readonly workers: Worker[];
  private readonly load: number[];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private nextJob = 1;
  private broken: Error | undefined;
  /** Data buffers the workers sent back, for reuse: see {@link takeBuffer}. */
  private readonly spare: ArrayBuffer[] = [];

  constructor(script: string, readonly size: number) {
    this.workers = [];
    this.load = new Array<number>(size).fill(0);
    for (let i = 0; i < size; i++) {
      const w = new Worker(script, { execArgv: workerExecArgv() });
      w.on('message', (reply: WorkerReply) => this.settle(reply));
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => {
        if (!this.broken) this.fail(new Error(`engine worker exited with code ${code}`));
      });
      w.unref();
      this.workers.push(w);
    }
  }

  /**
   * A buffer of exactly `size` bytes for data to transfer to a worker. Workers send their
   * input buffers back with the reply and they are reused here, so a long job allocates a
   * handful of buffers instead of one per stripe and leaves no garbage trail behind it.
   */
  takeBuffer(size: number): ArrayBuffer {
    const i = this.spare.findIndex((b) => b.byteLength === size);
    return i >= 0 ? this.spare.splice(i, 1)[0]! : new ArrayBuffer(size);
  }

  private giveBuffer(buffer: ArrayBuffer | undefined): void {
    if (buffer && this.spare.length < 4 * this.size) this.spare.push(buffer);
  }

  /** A new id for a job whose state lives in the workers (a delta's block index). */
  newJob(): number {
    return this.nextJob++;
  }

  /** Whether the pool can still take work. */
  get healthy(): boolean {
    return this.broken === undefined;
  }

  private settle(reply: WorkerReply): void {
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    this.load[p.worker]!--;
    if ('data' in reply) this.giveBuffer(reply.data);
    if (this.pending.size === 0) for (const w of this.workers) w.unref();
    if ('error' in reply) p.reject(new BackupError('EINTERNAL', `engine worker failed: ${reply.error}`));
    else p.resolve(reply);
  }

  private fail(e: Error): void {
    this.broken = e;
    shared = undefined;
    for (const p of this.pending.values()) p.reject(new BackupError('EINTERNAL', `engine worker failed: ${e.message}`, { cause: e }));
    this.pending.clear();
    for (const w of this.workers) void w.terminate();
  }

  /** The index of the worker with the fewest requests in flight. */
  leastLoaded(): number {
    let best = 0;
    for (let i = 1; i < this.size; i++) if (this.load[i]! < this.load[best]!) best = i;
    return best;
  }

  /** Send a request that has no reply, to one worker or (`worker` undefined) to all. */
  post(msg: WorkerRequest, worker?: number): void {
    if (this.broken) throw new BackupError('EINTERNAL', `engine workers are down: ${this.broken.message}`);
    for (let i = 0; i < this.size; i++) if (worker === undefined || worker === i) this.workers[i]!.postMessage(msg);
  }

  /** Send a request to `worker` and wait for its reply; `transfer` moves buffers instead of copying. */
  request<R extends WorkerRequest>(worker: number, msg: WithoutId<R>, transfer: ArrayBuffer[] = []): Promise<WorkerReply> {
    if (this.broken) return Promise.reject(new BackupError('EINTERNAL', `engine workers are down: ${this.broken.message}`));
    const id = this.nextId++;
    return new Promise<WorkerReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker });
      if (this.pending.size === 1) for (const w of this.workers) w.ref();
      this.load[worker]!++;
      this.workers[worker]!.postMessage({ ...msg, id }, transfer);
    });
  }
}

let shared: WorkerPool | undefined;
let unavailable = false;

/**
 * Bytes of input from which a job starts the pool when it is not running yet. Starting it
 * costs each thread its own node start-up and module loading, 0.1-0.15 s of CPU per thread
 * (measured with `node --cpu-prof`, half of it loading hash-wasm), about what one thread
 * takes to scan 32 MiB; so a cold pool is started only once that much input has been seen,
 * while a running pool is worth using from the first segment.
 */
export const COLD_START_BYTES = 32 << 20;

/** Whether the pool is running (started and healthy), so using it costs no start-up. */
export function workerPoolRunning(): boolean {
  return shared?.healthy === true;
}

/**
 * Whether {@link workerPool} gives a pool, without starting one: callers that may not need
 * the threads (an input that turns out small) decide their method first and start the pool
 * only when the first piece of work for it is ready, since starting the threads costs more
 * than a small job.
 */
export function workerPoolAvailable(): boolean {
  if (shared?.healthy) return true;
  if (unavailable) return false;
  if (workerThreads() < 2 || !workerScript()) unavailable = true;
  return !unavailable;
}

/** The shared pool, started on first call; undefined when threads are off or unavailable. */
export function workerPool(): WorkerPool | undefined {
  if (shared?.healthy) return shared;
  if (!workerPoolAvailable()) return undefined;
  shared = new WorkerPool(workerScript()!, workerThreads());
  return shared;
}
