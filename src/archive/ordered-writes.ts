/**
 * Writes whose bytes are still being computed, done strictly in the order they were queued,
 * with a bound on how many are outstanding.
 *
 * The tar writer compresses several blocks at once on the thread pool; they may finish in
 * any order, but the file must receive them in tar order, and the producer must wait when it
 * runs ahead (that bound is the writer's memory bound). Each write is chained to the one
 * before it, so the first failure fails everything queued after it at once: a producer
 * waiting for room is woken by that failure instead of waiting for a write that will never
 * happen.
 */

const ignore = (): void => undefined;

/** An ordered queue of pending writes. */
export class OrderedWrites {
  private tail: Promise<void> = Promise.resolve();
  private readonly pending: Promise<void>[] = [];

  /**
   * @param write - writes one piece; called one at a time, in queue order.
   * @param limit - pieces queued but not yet written before {@link push} waits.
   */
  constructor(
    private readonly write: (bytes: Uint8Array) => Promise<void>,
    private readonly limit: number,
  ) {}

  /**
   * Queue `bytes` (which may still be computing) behind everything queued before. Resolves
   * once at most `limit` pieces are outstanding; rejects with the first failure of any write
   * or computation queued so far.
   */
  async push(bytes: Promise<Uint8Array>): Promise<void> {
    // Once an earlier write failed this piece is never awaited; its own failure is moot.
    bytes.catch(ignore);
    const done = this.tail.then(() => bytes).then((b) => this.write(b));
    done.catch(ignore);
    this.tail = done;
    this.pending.push(done);
    while (this.pending.length > this.limit) await this.pending.shift();
  }

  /** Wait until everything queued is written; rejects with the first failure. */
  async flush(): Promise<void> {
    this.pending.length = 0;
    await this.tail;
  }

  /** Wait until no write is running, whether the queue failed or not (before closing the file). */
  settled(): Promise<void> {
    return this.tail.catch(ignore);
  }
}
