/**
 * Uploading an archive while it is written, so that a backup to object storage costs the
 * longer of making the archives and sending them, not the sum: a full backup of 2 GiB sent
 * its 1.65 GiB only once every archive was complete.
 *
 * The archive writer hands each block it writes to the file to {@link LiveUpload.tap} too,
 * which queues a copy for a save of the object (a multipart upload past one part), with
 * backpressure: a slow link slows the archive instead of filling memory (at most
 * {@link QUEUED} blocks of 1 MiB wait). The file is still written: it is what the upload
 * falls back to. An upload that fails does not fail the backup; it stops taking blocks, and
 * the archive is uploaded again from the finished file, with retries, like any other.
 */
import type { SaveOptions, Storage } from '../storage/index.js';
import { ChunkChannel } from './chunk-channel.js';

/** Blocks queued for the upload at most. */
const QUEUED = 8;

/** One archive's upload, fed as it is written. */
export class LiveUpload {
  private readonly channel = new ChunkChannel(QUEUED);
  private readonly done: Promise<void>;
  private failed = false;
  private ended = false;

  constructor(storage: Storage, key: string, options: SaveOptions) {
    this.done = storage.save(key, this.channel, options);
    // A save that ends before the archive does (it failed, or never read its source, as a dry
    // run's) takes no more blocks: the writer must never wait on a queue nobody empties.
    void this.done.then(
      () => this.stop(),
      () => this.stop(),
    );
  }

  private stop(): void {
    if (this.ended) return;
    this.failed = true;
    this.channel.fail(new Error('the upload ended before the archive'));
  }

  /** Queue a copy of `bytes` (the archive writer reuses its buffers); waits while the queue is full. */
  tap(bytes: Uint8Array): Promise<void> | undefined {
    if (this.failed) return undefined;
    return this.channel.push(Buffer.from(bytes)).catch(() => undefined);
  }

  /** The archive is complete: true once the object is stored whole, false when the upload failed. */
  async finish(): Promise<boolean> {
    this.ended = true;
    this.channel.end();
    return this.done.then(
      () => !this.failed,
      () => false,
    );
  }

  /** Stop the upload; nothing is left under its key (an object already there stays). */
  async abort(): Promise<void> {
    this.channel.fail(new Error('the archive was aborted'));
    await this.done.catch(() => undefined);
  }
}
