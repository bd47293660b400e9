/**
 * Work started ahead and finished in order: the backup's answer to a tree of small files.
 *
 * Storing a small file costs a handful of file-system calls (open, fstat, read, fstat,
 * close), each a round trip through libuv's thread pool, and next to no bytes. Done one file
 * after another, a backup of 50,000 files mostly waits. So the walk starts each file's reads
 * as soon as it meets the file (`start`), up to a bound of items and bytes in flight, and
 * the archive writers consume the results strictly in walk order (`finish`): the archives
 * stay byte-for-byte what a one-at-a-time backup writes, and a failure surfaces at its place
 * in that order, once everything started before it has settled, whatever the timing.
 *
 * Memory: at most `maxItems` items and about `maxBytes` bytes of started work (an item
 * bigger than `maxBytes` on its own is let in alone).
 */

/** One item: work already started, and what to do with its result when its turn comes. */
interface Item {
  ready: Promise<unknown>;
  finish: (value: unknown) => Promise<void> | void;
  bytes: number;
}

/** An ordered queue of started work, bounded by items and bytes. */
export class ReadAhead {
  private readonly queue: Item[] = [];
  private held = 0;

  constructor(
    private readonly maxItems: number,
    private readonly maxBytes: number,
  ) {}

  /**
   * Start `start` now and queue `finish` for its result; first finish the oldest items while
   * the new one would exceed the bounds. With nothing in flight, `start`'s result is
   * finished at once.
   */
  async add<T>(bytes: number, start: () => Promise<T>, finish: (value: T) => Promise<void> | void): Promise<void> {
    while (this.queue.length > 0 && (this.queue.length >= this.maxItems || this.held + bytes > this.maxBytes)) await this.next();
    const ready = start();
    // Settled in `next` or `settle`; a rejection waits its turn instead of going unhandled.
    ready.catch(() => undefined);
    this.queue.push({ ready, finish: finish as Item['finish'], bytes });
    this.held += bytes;
  }

  /** Queue `finish` behind the items in flight, or run it now when there are none. */
  async then(finish: () => Promise<void> | void): Promise<void> {
    if (this.queue.length === 0) return finish();
    return this.add(0, () => Promise.resolve(), finish);
  }

  /** Finish every queued item, in order. */
  async drain(): Promise<void> {
    while (this.queue.length > 0) await this.next();
  }

  /**
   * Wait until every started item has settled, dropping their results: after a failure, so
   * that nothing started is still reading when the caller cleans up.
   */
  async settle(): Promise<void> {
    const items = this.queue.splice(0);
    this.held = 0;
    await Promise.allSettled(items.map((i) => i.ready));
  }

  private async next(): Promise<void> {
    const item = this.queue[0]!;
    try {
      const value = await item.ready;
      await item.finish(value);
    } catch (e) {
      this.queue.shift();
      this.held -= item.bytes;
      await this.settle();
      throw e;
    }
    this.queue.shift();
    this.held -= item.bytes;
  }
}
