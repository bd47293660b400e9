/**
 * Small files read whole by worker threads, a directory's worth per message.
 *
 * A backup of many small files costs system calls, not bytes: five per file (open, fstat,
 * read, fstat, close), each a round trip between the main thread and libuv's thread pool
 * that costs the main thread more than the call itself. Here the main thread only groups the
 * files the walk meets by directory, pins the directory (so its descriptor stays valid,
 * `io/dir-tree.ts`) and sends the worker the anchored paths; the worker makes the calls
 * synchronously and sends back each file's bytes (moved, not copied), metadata and content
 * hash (`read-worker.ts`). The outcome of each file is what {@link openStable} and a full read
 * of its chunks would give: the same warnings, `changed`, `racy`, and `EIO` for a read error.
 *
 * Batches: consecutive requests of one directory, sent when the directory changes, when a
 * batch holds {@link BATCH_FILES} files or {@link BATCH_BYTES} bytes, or at the end of the
 * current turn of the event loop. The caller bounds what is in flight (`backup/read-ahead.ts`).
 *
 * The workers cost a start-up (tens of milliseconds) and a thread each; a caller starts them
 * only when a tree has enough small files to pay for that. They are ref'd while a request is
 * pending, so a process never exits under a read, and stopped by {@link BatchReader.close}.
 * Under vitest this module runs from `src/` as TypeScript, which a worker cannot load: the
 * worker script then comes from the package's `dist/`, and without one there are no workers.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { BackupError, wrapIoError } from '../errors.js';
import type { DirTree } from '../io/dir-tree.js';
import { packageRoot } from '../io/native-addon.js';
import type { SignatureParams } from '../rsync/format.js';
import type { EntryMeta } from './dir-state.js';
import type { ReadReply, ReadRequest, ReadResult } from './read-protocol.js';
import { notAFile, RACY_MARGIN_MS, refused, type Refusal } from './stable-read.js';

/** Files per message, and the bytes they may add up to. */
const BATCH_FILES = 32;
const BATCH_BYTES = 4 << 20;

/** A small file read whole. */
export interface WholeRead {
  /** The metadata of the opened file (from its descriptor). */
  meta: EntryMeta;
  /** Exactly `meta.size` bytes (a shrunk file zero-padded). */
  bytes: Uint8Array;
  /** Their content hash. */
  hash: string;
  /** As {@link StableRead.changed}. */
  changed: boolean;
  /** As {@link StableRead.racy}. */
  racy: boolean;
  /** The signature asked for (header and records), when the file had the size it was asked for. */
  signature?: Uint8Array;
}

/** What a batch read of one file gave: the file, a refusal, or `grown` past the size asked for. */
export type BatchOutcome = { read: WholeRead } | Refusal | { grown: true };

interface Request {
  name: string;
  path: string;
  sign: ReadRequest['signs'][number];
  resolve: (o: BatchOutcome) => void;
  reject: (e: unknown) => void;
}

interface Batch {
  dir: string;
  requests: Request[];
  bytes: number;
}

type Pending = { resolve: (reply: ReadReply) => void; reject: (e: unknown) => void };

function workerScript(): string | undefined {
  const beside = fileURLToPath(new URL('./read-worker.js', import.meta.url));
  if (existsSync(beside)) return beside;
  const root = packageRoot();
  const built = root && join(root, 'dist', 'tree', 'read-worker.js');
  return built && existsSync(built) ? built : undefined;
}

/** Worker threads reading the small files of one tree. */
export class BatchReader {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private next = 0;
  private batch?: Batch;
  private scheduled = false;
  private broken?: Error;

  private constructor(
    private readonly tree: DirTree,
    private readonly workers: Worker[],
    private readonly maxSize: number,
  ) {
    for (const w of workers) {
      w.on('message', (reply: ReadReply) => this.settle(reply));
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => this.fail(new Error(`file reading worker exited with code ${code}`)));
      w.unref();
    }
  }

  /**
   * Start the workers reading files of `tree` up to `maxSize` bytes; undefined where worker
   * threads are unavailable (no built worker script) or turned off (`IBT_THREADS=1`).
   */
  static start(tree: DirTree, maxSize: number): BatchReader | undefined {
    const script = workerScript();
    if (!script || process.env.IBT_THREADS === '1') return undefined;
    const count = Math.max(1, Math.min(2, availableParallelism() - 1));
    return new BatchReader(
      tree,
      Array.from({ length: count }, () => new Worker(script)),
      maxSize,
    );
  }

  /**
   * Read the file at `path` (relative to the tree's root), expected to hold `size` bytes,
   * whole; with `params`, also compute its signature if it still has that size. Never throws
   * for what the tree contains (see {@link openStable}); `EIO` for a read error after the open.
   */
  read(path: string, size: number, params?: SignatureParams): Promise<BatchOutcome> {
    const cut = path.lastIndexOf('/');
    const dir = cut < 0 ? '' : path.slice(0, cut);
    const name = path.slice(cut + 1);
    return new Promise<BatchOutcome>((resolve, reject) => {
      if (this.batch && (this.batch.dir !== dir || this.batch.requests.length >= BATCH_FILES || this.batch.bytes + size > BATCH_BYTES)) this.send();
      this.batch ??= { dir, requests: [], bytes: 0 };
      this.batch.requests.push({ name, path, sign: params ? { params, size } : null, resolve, reject });
      this.batch.bytes += size;
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.send();
        });
      }
    });
  }

  /** Stop the workers. Reads still pending fail. */
  async close(): Promise<void> {
    this.fail(new Error('the file reader was closed'));
    const unsent = this.batch?.requests ?? [];
    this.batch = undefined;
    for (const r of unsent) r.reject(new BackupError('EINTERNAL', `${r.path}: read after the file reader was closed`, { path: r.path }));
  }

  private send(): void {
    const batch = this.batch;
    if (!batch) return;
    this.batch = undefined;
    void this.tree
      .use(batch.dir, async (dir) => {
        const reply = await this.request(
          batch.requests.map((r) => dir.entry(r.name)),
          batch.requests.map((r) => r.sign),
        );
        batch.requests.forEach((r, i) => {
          try {
            r.resolve(this.outcome(reply.results[i]!, r.path));
          } catch (e) {
            r.reject(e);
          }
        });
      })
      .catch((e: unknown) => {
        for (const r of batch.requests) {
          try {
            r.resolve(refused(e, r.path));
          } catch (err) {
            r.reject(err);
          }
        }
      });
  }

  private outcome(r: ReadResult, path: string): BatchOutcome {
    switch (r.kind) {
      case 'ok':
        return { read: { meta: r.meta, bytes: r.bytes, hash: r.hash, changed: r.changed, racy: r.racy, ...(r.signature ? { signature: r.signature } : {}) } };
      case 'type':
        return notAFile(r.type, path);
      case 'grown':
        return { grown: true };
      case 'open':
        return refused(Object.assign(new Error(r.message), { code: r.code }), path);
      case 'read':
        throw wrapIoError(Object.assign(new Error(r.message), { code: r.code }), join(this.tree.root.path, path), 'reading');
    }
  }

  private request(paths: string[], signs: ReadRequest['signs']): Promise<ReadReply> {
    if (this.broken) return Promise.reject(new BackupError('EINTERNAL', `file reading workers are down: ${this.broken.message}`));
    const id = this.nextId++;
    const msg: ReadRequest = { id, paths, signs, maxSize: this.maxSize, marginNs: BigInt(RACY_MARGIN_MS) * 1_000_000n };
    return new Promise<ReadReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) for (const w of this.workers) w.ref();
      this.workers[this.next]!.postMessage(msg);
      this.next = (this.next + 1) % this.workers.length;
    });
  }

  private settle(reply: ReadReply): void {
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) for (const w of this.workers) w.unref();
    p.resolve(reply);
  }

  private fail(e: Error): void {
    if (this.broken) return;
    this.broken = e;
    for (const p of this.pending.values()) p.reject(new BackupError('EINTERNAL', `file reading worker failed: ${e.message}`, { cause: e }));
    this.pending.clear();
    for (const w of this.workers) void w.terminate();
  }
}
