/**
 * The tree layer's worker threads: system calls made synchronously off the main thread, a
 * batch per message (see `tree-worker.ts` for what they do, `batch-reads.ts` and `walk.ts`
 * for who asks).
 *
 * Why: a tree of many small entries costs system calls, not bytes, and through node's
 * asynchronous API each call is a round trip between the main thread and libuv's thread pool
 * that costs the main thread more than the call itself. A worker makes the same calls
 * synchronously, which blocks only the worker, and answers a batch in one message.
 *
 * Two workers at least, four at most (one per core): their time is mostly the kernel's (a
 * restore's creates and renames), which a second thread overlaps even on two cores, and
 * which one worker alone left the main thread waiting on (20,000 small files restored:
 * the main thread 68 % idle with one worker).
 *
 * The workers cost a start-up (tens of milliseconds) and a thread each, so callers start
 * them only when a tree is big enough to pay for that. They are ref'd while a request is
 * pending, so a process never exits under one, and unref'd while idle. A worker that dies
 * fails what is pending and every later request (`EINTERNAL`: a defect, not a problem of the
 * tree). Under vitest this module runs from `src/` as TypeScript, which a worker cannot load:
 * the worker script then comes from the package's `dist/`, and without one there are no
 * workers. `IBT_THREADS=1` turns them off, as it does the engine's.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { BackupError } from '../errors.js';
import { workerExecArgv, workerScriptPath } from '../io/worker-script.js';
import type { ReadReply, ReadRequest, StatReply, StatRequest, TreeReply, WriteReply, WriteRequest } from './worker-protocol.js';

type Pending = { resolve: (reply: TreeReply) => void; reject: (e: unknown) => void };
type Unsent<T> = Omit<T, 'id' | 'op'>;

function workerScript(): string | undefined {
  return workerScriptPath(import.meta.url, 'tree/tree-worker.js');
}

/** A few worker threads taking the tree's system calls in batches. */
export class TreeWorkers {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private next = 0;
  private broken?: Error;

  private constructor(private readonly workers: Worker[]) {
    for (const w of workers) {
      w.on('message', (reply: TreeReply) => this.settle(reply));
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => this.fail(new Error(`a tree worker exited with code ${code}`)));
      w.unref();
    }
  }

  /** Start the workers; undefined where worker threads are unavailable or turned off. */
  static start(): TreeWorkers | undefined {
    const script = workerScript();
    if (!script || process.env.IBT_THREADS === '1') return undefined;
    const count = Math.min(4, Math.max(2, availableParallelism()));
    return new TreeWorkers(Array.from({ length: count }, () => new Worker(script, { execArgv: workerExecArgv() })));
  }

  /** Read files whole (see {@link ReadRequest}). */
  async read(req: Unsent<ReadRequest>): Promise<ReadReply> {
    return (await this.request({ op: 'read', ...req })) as ReadReply;
  }

  /** lstat entries (see {@link StatRequest}). */
  async stat(req: Unsent<StatRequest>): Promise<StatReply> {
    return (await this.request({ op: 'stat', ...req })) as StatReply;
  }

  /** Write files whole (see {@link WriteRequest}); their bytes are copied to the worker. */
  async write(req: Unsent<WriteRequest>): Promise<WriteReply> {
    return (await this.request({ op: 'write', ...req })) as WriteReply;
  }

  /** Stop the workers; what is pending fails. */
  close(): void {
    this.fail(new Error('the tree workers were stopped'));
  }

  private request(msg: Omit<ReadRequest, 'id'> | Omit<StatRequest, 'id'> | Omit<WriteRequest, 'id'>): Promise<TreeReply> {
    if (this.broken) return Promise.reject(new BackupError('EINTERNAL', `tree workers are down: ${this.broken.message}`));
    const id = this.nextId++;
    return new Promise<TreeReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) for (const w of this.workers) w.ref();
      this.workers[this.next]!.postMessage({ ...msg, id });
      this.next = (this.next + 1) % this.workers.length;
    });
  }

  private settle(reply: TreeReply): void {
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) for (const w of this.workers) w.unref();
    if ('error' in reply) p.reject(new BackupError('EINTERNAL', `a tree worker failed: ${reply.error}`));
    else p.resolve(reply);
  }

  private fail(e: Error): void {
    if (this.broken) return;
    this.broken = e;
    for (const p of this.pending.values()) p.reject(new BackupError('EINTERNAL', `a tree worker failed: ${e.message}`, { cause: e }));
    this.pending.clear();
    for (const w of this.workers) void w.terminate();
  }
}
