/**
 * The native engine frees librsync's state: after each finished job, after a failed one,
 * after an iterator abandoned mid-stream (`return()`), and when an unclosed job object is
 * collected. Checked two ways: the addon's count of jobs holding librsync state returns to
 * zero, and the process's RSS stays flat over thousands of jobs whose state (a 64 KiB input
 * buffer inside librsync, a signature and its hash table) would add up to hundreds of
 * megabytes if it leaked.
 */
import { expect, it } from 'vitest';
import { randomData } from '../helpers/data.js';
import { collect, collectOutcome } from '../helpers/streams.js';
import { describeNative, gc } from './native.js';

const MiB = 1024 * 1024;
const BASIS = randomData(1, 64 * 1024);
const NEW = Uint8Array.from(BASIS).fill(9, 1000, 1200);

async function settle(): Promise<number> {
  // Finalizers of collected job objects run after the collection, on a later turn.
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage.rss();
}

describeNative('native engine: librsync state is freed', ({ engine, addon }) => {
  it('10,000 small jobs in a loop keep RSS flat and leave no live job', async () => {
    const sig = await collect(engine.signature(BASIS));
    const delta = await collect(engine.delta(sig, NEW));
    const jobs = [
      () => engine.signature(NEW),
      () => engine.delta(sig, NEW),
      () => engine.patch(BASIS, delta),
    ];
    const run = async (n: number) => {
      for (let i = 0; i < n; i++) await collect(jobs[i % jobs.length]!());
    };
    await run(1000);
    const before = await settle();
    await run(10_000);
    const after = await settle();
    expect(addon.liveJobs()).toBe(0);
    // A leak of the delta job's state alone would be over 200 MiB here.
    expect((after - before) / MiB).toBeLessThan(40);
  });

  it('failed jobs free their state', async () => {
    for (let i = 0; i < 200; i++) {
      const bad = await collectOutcome(engine.patch(BASIS, Uint8Array.of(0x72, 0x73, 0x02, 0x36, 0x45, 0, 5)));
      expect(bad.error).toMatchObject({ code: 'ETRUNCATED' });
      const badSig = await collectOutcome(engine.delta(Uint8Array.of(1, 2, 3, 4, 0, 0, 8, 0, 0, 0, 0, 32), NEW));
      expect(badSig.error).toMatchObject({ code: 'EBADMAGIC' });
    }
    expect(addon.liveJobs()).toBe(0);
  });

  it('an iterator abandoned mid-stream (return()) frees its job at once', async () => {
    // 256 COPY commands of the whole 64 KiB basis: 16 MiB of output, several steps of it.
    const copyAll = [0x47, 0, 0x00, 0x01, 0x00, 0x00];
    const longDelta = Uint8Array.from([0x72, 0x73, 0x02, 0x36, ...Array.from({ length: 256 }, () => copyAll).flat(), 0]);
    expect((await collect(engine.patch(BASIS, longDelta))).length).toBe(256 * 65536);
    const sig = await collect(engine.signature(BASIS));
    const abandon = async (it: AsyncIterable<Uint8Array>) => {
      const iter = it[Symbol.asyncIterator]();
      const first = await iter.next();
      expect(first.done).toBe(false);
      expect(addon.liveJobs()).toBe(1);
      await iter.return?.();
      expect(addon.liveJobs()).toBe(0);
    };
    await abandon(engine.patch(BASIS, longDelta));
    await abandon(engine.delta(sig, randomData(2, 4 * MiB)));
    await abandon(engine.signature(randomData(3, 4 * MiB), { blockLength: 256 }));

    const before = await settle();
    for (let i = 0; i < 2000; i++) await abandon(engine.patch(BASIS, longDelta));
    const after = await settle();
    expect((after - before) / MiB).toBeLessThan(40);
  });

  it('a job object dropped without close() is freed when collected', async () => {
    for (let i = 0; i < 100; i++) new addon.Job('delta', true);
    expect(addon.liveJobs()).toBe(100);
    for (let i = 0; i < 20 && addon.liveJobs() > 0; i++) await settle();
    expect(addon.liveJobs()).toBe(0);
  });
});
