/**
 * The writers of a restore: a bounded number of tasks in flight, and one failure that does
 * not depend on timing.
 *
 * A restore of many small files is bound by round trips, not bytes: every file costs a chain
 * of awaited system calls (open, write, close, rename), each a trip through libuv's thread
 * pool, and one file at a time leaves the pool idle between them (a 49k-file restore: about
 * 900,000 voluntary context switches, 50 s). With several files in flight the pool's threads
 * stay busy and the event loop collects several completions per wake-up. The pool bounds two
 * things: tasks in flight (file descriptors, directory pins) and bytes held by them (bodies
 * read into memory), so memory does not grow with the number or size of the files.
 *
 * Tasks start in a known order and each carries its place in it. A failure does not stop
 * the tasks already in flight (they settle, each cleaning up after itself); the caller stops
 * starting new ones, and the failure reported is the one of the earliest task, not the first
 * to happen: a one-at-a-time run would have met that one first. Which later tasks had
 * already run when it happened does vary with timing.
 */

/** A failed task: its place in the order of tasks, and what it threw. */
export interface PoolFailure {
  /** The task's place in the order tasks were started in. */
  order: number;
  /** What it threw. */
  error: unknown;
}

/** Limits of a {@link WriterPool}. */
export interface PoolLimits {
  /** Tasks in flight at most (1: one at a time). */
  tasks: number;
  /** Bytes held by the tasks in flight at most; a task larger than this runs alone. */
  bytes: number;
}

/** A bounded set of tasks in flight (see the module header). */
export class WriterPool {
  private running = 0;
  private held = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private waiters: (() => void)[] = [];
  private first: PoolFailure | undefined;

  constructor(private readonly limits: PoolLimits) {}

  /** The failure of the earliest task (in order) that failed so far, including those {@link WriterPool.fail} recorded. */
  get failure(): PoolFailure | undefined {
    return this.first;
  }

  /** Record a failure at `order`, of a task or of work done outside the pool; the earliest in order is kept. */
  fail(order: number, error: unknown): void {
    if (!this.first || order < this.first.order) this.first = { order, error };
  }

  /** Wait until a task holding `bytes` may start: a free slot, and room for its bytes (or nothing in flight). */
  async admit(bytes: number): Promise<void> {
    while (this.running >= this.limits.tasks || (this.running > 0 && this.held + bytes > this.limits.bytes)) {
      await new Promise<void>((wake) => this.waiters.push(wake));
    }
  }

  /** Start `task`, admitted with `bytes`; its failure is recorded at `order`, never thrown. */
  start(order: number, bytes: number, task: () => Promise<void>): void {
    this.running++;
    this.held += bytes;
    const settled = (async () => task())()
      .catch((e: unknown) => this.fail(order, e))
      .finally(() => {
        this.running--;
        this.held -= bytes;
        this.inFlight.delete(settled);
        const waiters = this.waiters;
        this.waiters = [];
        for (const wake of waiters) wake();
      });
    this.inFlight.add(settled);
  }

  /** Wait until every task started so far has settled. Never throws. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }
}

/**
 * Run `fn` on each of `items`, at most `limit` at a time, started in order. After a failure
 * or an abort nothing more is started; once all started have settled, the failure of the
 * earliest item is thrown, else the abort.
 */
export async function forEachConcurrently<T>(items: readonly T[], limit: number, signal: AbortSignal | undefined, fn: (item: T) => Promise<void>): Promise<void> {
  const pool = new WriterPool({ tasks: limit, bytes: Infinity });
  try {
    for (const [i, item] of items.entries()) {
      signal?.throwIfAborted();
      await pool.admit(0);
      if (pool.failure) break;
      pool.start(i, 0, () => fn(item));
    }
  } catch (abort) {
    await pool.drain();
    if (pool.failure) throw pool.failure.error;
    throw abort;
  }
  await pool.drain();
  if (pool.failure) throw pool.failure.error;
}
