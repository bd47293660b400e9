/**
 * The writers' pool: what running tasks side by side could break. Its bounds (tasks in flight,
 * bytes held) are what keep a restore's memory flat whatever the tree, and its choice of
 * failure (the earliest task's, not the first to happen) is what keeps a restore's error
 * independent of timing. Tasks here are settled by hand, so every interleaving is the one
 * the test chose.
 */
import { describe, expect, it } from 'vitest';
import { forEachConcurrently, WriterPool } from '../../src/restore/writer-pool.js';

/** A promise and the functions that settle it. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('the writer pool', () => {
  it('regression guard: a later task failing first does not hide the failure of an earlier one', async () => {
    const pool = new WriterPool({ tasks: 4, bytes: 100 });
    const early = deferred();
    const late = deferred();
    pool.start(0, 1, () => early.promise);
    pool.start(1, 1, () => late.promise);
    late.reject(new Error('later task'));
    await tick();
    expect(pool.failure?.order).toBe(1);
    early.reject(new Error('earlier task'));
    await pool.drain();
    expect(pool.failure).toEqual({ order: 0, error: new Error('earlier task') });
  });

  it('never has more tasks in flight, nor more bytes held, than its bounds (and reaches them)', async () => {
    const pool = new WriterPool({ tasks: 3, bytes: 10 });
    const running: { bytes: number; done: () => void }[] = [];
    let maxTasks = 0;
    let maxBytes = 0;
    const sizes = [4, 4, 1, 6, 2, 2, 2, 5, 5, 1, 9, 3];
    const driver = (async () => {
      for (const [i, bytes] of sizes.entries()) {
        await pool.admit(bytes);
        const d = deferred();
        const entry = { bytes, done: d.resolve };
        pool.start(i, bytes, async () => {
          running.push(entry);
          maxTasks = Math.max(maxTasks, running.length);
          maxBytes = Math.max(maxBytes, running.reduce((s, r) => s + r.bytes, 0));
          await d.promise;
          running.splice(running.indexOf(entry), 1);
        });
      }
    })();
    // Finish the oldest task whenever the driver is stuck waiting for room.
    for (let rounds = 0; rounds < 100 && (running.length > 0 || rounds === 0); rounds++) {
      await tick();
      running[0]?.done();
    }
    await driver;
    await pool.drain();
    expect(maxTasks).toBe(3);
    expect(maxBytes).toBe(10);
    expect(pool.failure).toBeUndefined();
  });

  it('runs a task larger than the byte bound alone rather than never', async () => {
    const pool = new WriterPool({ tasks: 4, bytes: 10 });
    const small = deferred();
    pool.start(0, 3, () => small.promise);
    let admitted = false;
    const waiting = pool.admit(50).then(() => {
      admitted = true;
    });
    await tick();
    expect(admitted).toBe(false);
    small.resolve();
    await waiting;
    expect(admitted).toBe(true);
  });

  it('forEachConcurrently: after a failure nothing more starts, those in flight settle, and the earliest failure is thrown', async () => {
    const started: number[] = [];
    const settled: number[] = [];
    const gates = Array.from({ length: 10 }, () => deferred());
    const run = forEachConcurrently([...gates.keys()], 3, undefined, async (i) => {
      started.push(i);
      try {
        await gates[i]!.promise;
      } finally {
        settled.push(i);
      }
    });
    await tick();
    expect(started).toEqual([0, 1, 2]);
    gates[2]!.reject(new Error('item 2'));
    await tick();
    gates[1]!.reject(new Error('item 1'));
    gates[0]!.resolve();
    await expect(run).rejects.toThrow('item 1');
    expect(started.length).toBeLessThanOrEqual(4);
    expect(settled.sort()).toEqual(started.sort());
  });

  it('forEachConcurrently: an abort starts nothing more and is thrown once those in flight settle', async () => {
    const abort = new AbortController();
    const gates = Array.from({ length: 10 }, () => deferred());
    const started: number[] = [];
    let inFlight = 0;
    const run = forEachConcurrently([...gates.keys()], 4, abort.signal, async (i) => {
      started.push(i);
      inFlight++;
      await gates[i]!.promise;
      inFlight--;
    });
    await tick();
    abort.abort();
    gates[0]!.resolve();
    await tick();
    let rejected = false;
    void run.catch(() => {
      rejected = true;
    });
    await tick();
    expect(rejected, 'the abort waits for the tasks in flight').toBe(false);
    for (const g of gates) g.resolve();
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(inFlight).toBe(0);
    expect(started.length).toBeLessThanOrEqual(5);
  });
});
