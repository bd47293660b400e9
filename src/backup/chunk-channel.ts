/**
 * A bounded channel of chunks: one reader pushes, an engine pipeline pulls.
 *
 * The engine's parallel signature and delta (`engine/parallel-*.ts`) pull their input as an
 * async iterable, while a backup reads each file once and hands every chunk to several
 * consumers (the archive, the content hash, the signature, the delta). A channel turns the
 * reader's pushes into the pull a pipeline wants. `push` waits while {@link capacity} chunks
 * are queued, so a slow consumer slows the reader instead of growing memory: at most that
 * many chunks are held. The chunks are shared, not copied: consumers must not write into them.
 */

/** A chunk queue with backpressure, iterated once. */
export class ChunkChannel implements AsyncIterable<Uint8Array> {
  private readonly queue: Uint8Array[] = [];
  private ended = false;
  private failure?: { error: unknown };
  /** The puller waiting for a chunk, or the pusher waiting for room. */
  private wakePuller?: () => void;
  private wakePusher?: () => void;

  constructor(readonly capacity = 4) {}

  /** Queue `chunk`; resolves once there is room for the next one. */
  async push(chunk: Uint8Array): Promise<void> {
    if (this.failure) throw this.failure.error;
    this.queue.push(chunk);
    this.wakePuller?.();
    while (this.queue.length >= this.capacity && !this.failure) await new Promise<void>((r) => (this.wakePusher = r));
  }

  /** No more chunks. */
  end(): void {
    this.ended = true;
    this.wakePuller?.();
  }

  /** Stop both sides with `error` (the reader failed, or the consumer did). */
  fail(error: unknown): void {
    this.failure ??= { error };
    this.wakePuller?.();
    this.wakePusher?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    for (;;) {
      if (this.failure) throw this.failure.error;
      const chunk = this.queue.shift();
      if (chunk) {
        this.wakePusher?.();
        yield chunk;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((r) => (this.wakePuller = r));
    }
  }
}
