/**
 * Small files read whole by the tree workers, a directory's worth per message.
 *
 * Storing a small file costs five system calls (open, fstat, read, fstat, close) and next to
 * no bytes. Here the main thread only groups the files the walk meets by directory, pins the
 * directory (so its descriptor stays valid, `io/dir-tree.ts`) and sends a worker the anchored
 * paths; the worker makes the calls synchronously and sends back each file's bytes (moved,
 * not copied), metadata, content hash and, when asked, signature (`tree-worker.ts`). The
 * outcome of each file is what {@link openStable} and a full read of its chunks would give:
 * the same warnings, `changed`, `racy`, and `EIO` for a read error.
 *
 * Batches: consecutive requests of one directory, sent when the directory changes, when a
 * batch holds {@link BATCH_FILES} files or {@link BATCH_BYTES} bytes, or at the end of the
 * current turn of the event loop. The caller bounds what is in flight (`backup/read-ahead.ts`).
 */
import { join } from 'node:path';
import { BackupError, wrapIoError } from '../errors.js';
import type { DirTree } from '../io/dir-tree.js';
import type { SignatureParams } from '../rsync/format.js';
import type { EntryMeta } from './dir-state.js';
import type { ReadRequest, ReadResult } from './worker-protocol.js';
import type { TreeWorkers } from './tree-workers.js';
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

/** Reads of the small files of one tree, by its workers. */
export class BatchReader {
  private batch?: Batch;
  private scheduled = false;
  private closed = false;

  /** Read files of `tree` up to `maxSize` bytes with `workers`. */
  constructor(
    private readonly tree: DirTree,
    private readonly workers: TreeWorkers,
    private readonly maxSize: number,
  ) {}

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
      if (this.closed) {
        reject(new BackupError('EINTERNAL', `${path}: read after the file reader was closed`, { path }));
        return;
      }
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

  /** Fail the reads not sent yet (the caller stops the workers, failing those sent). */
  close(): void {
    this.closed = true;
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
        const reply = await this.workers.read({
          paths: batch.requests.map((r) => dir.entry(r.name)),
          signs: batch.requests.map((r) => r.sign),
          maxSize: this.maxSize,
          marginNs: BigInt(RACY_MARGIN_MS) * 1_000_000n,
        });
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
}
