/**
 * Small files restored by the tree workers, a directory's worth per message.
 *
 * A small file costs a restore seven system calls (create, write, fchown, fchmod, futimens,
 * close, rename) and next to no bytes; through node's asynchronous API each is a round trip
 * between the main thread and libuv's pool, and the round trips, not the calls, are what a
 * restore of many small files spends its time on. Here the main thread only groups the final
 * versions it has checked by directory, pins the directory (`target.ts`: the directory is
 * reached by descriptor, never by path) and sends a worker the anchored paths and bytes; the
 * worker makes the same calls synchronously (`tree/tree-worker.ts`): the same temporary name
 * beside the file, the same O_EXCL|O_NOFOLLOW create, attributes set on the descriptor, the
 * rename last. So everything the target promises holds: nothing is written outside it, and no
 * partial file ever has a final name.
 *
 * Only the ordinary case goes this way: a final version, written whole, without a block of
 * zeros to leave as a hole. A file the worker cannot write (something in the way, a directory
 * removed meanwhile, any error) has nothing left of it there, and the restore writes it
 * itself, where what is in the way is handled and errors are named.
 *
 * The bytes are copied to the worker, not moved: they are still there to write if it fails.
 */
import { basename } from 'node:path';
import { parentOf } from '../archive/index.js';
import { tempName } from '../io/temp-name.js';
import type { FileEntry } from '../state/index.js';
import type { TreeWorkers, WriteFile } from '../tree/index.js';
import type { RestoreTarget } from './target.js';

/** Files per message, and the bytes they may add up to. */
const BATCH_FILES = 64;
const BATCH_BYTES = 8 << 20;

interface Request {
  e: FileEntry;
  bytes: Uint8Array;
  done: (written: boolean) => void;
}

interface Batch {
  dir: string;
  requests: Request[];
  bytes: number;
}

/** Final versions of small files written by the tree workers. */
export class BatchWriter {
  private batch?: Batch;
  private scheduled = false;

  constructor(
    private readonly target: RestoreTarget,
    private readonly workers: TreeWorkers,
  ) {}

  /**
   * Write `bytes`, already checked as the final version of `e`, and put it in place with its
   * attributes. False when it was not written (nothing of it is left): the caller writes it.
   */
  write(e: FileEntry, bytes: Uint8Array): Promise<boolean> {
    const dir = parentOf(e.path);
    return new Promise<boolean>((done) => {
      if (this.batch && (this.batch.dir !== dir || this.batch.requests.length >= BATCH_FILES || this.batch.bytes + bytes.length > BATCH_BYTES)) this.send();
      this.batch ??= { dir, requests: [], bytes: 0 };
      this.batch.requests.push({ e, bytes, done });
      this.batch.bytes += bytes.length;
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.send();
        });
      }
    });
  }

  private send(): void {
    const batch = this.batch;
    if (!batch) return;
    this.batch = undefined;
    const chown = this.target.setsOwners;
    const native = this.target.timesOptions.native;
    void this.target
      .inDirectory(batch.dir, async (dir) => {
        const files: WriteFile[] = batch.requests.map(({ e, bytes }) => {
          const name = basename(e.path);
          return { temp: dir.entry(tempName(name)), final: dir.entry(name), bytes, mode: e.mode, uid: e.uid, gid: e.gid, chown, mtimeNs: BigInt(e.mtime) };
        });
        const { written } = await this.workers.write({ files, ...(native === undefined ? {} : { native }) });
        batch.requests.forEach((r, i) => r.done(written[i]!.ok));
      })
      .catch(() => {
        for (const r of batch.requests) r.done(false);
      });
  }
}
