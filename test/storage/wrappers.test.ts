/**
 * The storage wrappers: retry, concurrency limit, dry run, progress. Their inner storage is
 * a MemoryStorage with faults added on purpose (a test double of the backend the wrapper
 * wraps: failing the next calls transiently, cutting loads and listings after some bytes or
 * keys, holding operations open), and the wrapped stacks also pass the conformance suite.
 */
import { describe, expect, it } from 'vitest';
import {
  DryRunStorage,
  LimitedStorage,
  MemoryStorage,
  ProgressStorage,
  RetryingStorage,
  listKeys,
  openerOf,
  type LoadOptions,
  type TransferEvent,
  type RetryEvent,
  type SaveOptions,
  type SaveSource,
  type SkipEvent,
  type StoredObject,
} from '../../src/storage/index.js';
import { storageConformance } from '../../src/testing/index.js';
import { BackupError } from '../../src/errors.js';
import { collect } from '../helpers/streams.js';
import { Prng } from '../helpers/data.js';

/** The error the flaky backend says is worth retrying; numbered, to tell the last one. */
class TransientError extends Error {
  constructor(readonly n: number) {
    super(`transient failure ${n}`);
  }
}

type Op = 'save' | 'load' | 'stat' | 'list' | 'remove' | 'thaw';

/** A memory backend with faults on demand. */
class FlakyStorage extends MemoryStorage {
  /** Calls per operation. */
  readonly calls: Record<string, number> = {};
  /** Offsets the loads were asked for, in order. */
  readonly loadOffsets: number[] = [];
  /** How many of the next calls of each operation fail transiently (a save after reading its first chunk). */
  readonly failNext = new Map<Op, number>();
  /** Each load takes the next number and fails after yielding that many bytes (none left: it does not fail). */
  cutLoads: number[] = [];
  /** Each listing takes the next number and fails after giving that many keys. */
  cutLists: number[] = [];
  /** Treat every error as transient (to show the wrapper's own refusals). */
  everythingTransient = false;
  /** Thrown by every call while set. */
  refuseWith: unknown;
  private thrown = 0;

  override isTransient(error: unknown): boolean {
    return this.everythingTransient || error instanceof TransientError;
  }

  private fault(op: Op): TransientError | undefined {
    this.calls[op] = (this.calls[op] ?? 0) + 1;
    if (this.refuseWith !== undefined) throw this.refuseWith;
    const left = this.failNext.get(op) ?? 0;
    if (left === 0) return undefined;
    this.failNext.set(op, left - 1);
    return new TransientError(++this.thrown);
  }

  override async save(key: string, source: SaveSource, options?: SaveOptions): Promise<void> {
    const e = this.fault('save');
    if (e) {
      for await (const chunk of openerOf(source).open()) if (chunk) break;
      throw e;
    }
    return super.save(key, source, options);
  }

  override async *load(key: string, options: LoadOptions = {}): AsyncGenerator<Uint8Array> {
    this.loadOffsets.push(options.offset ?? 0);
    const e = this.fault('load');
    if (e) throw e;
    const cut = this.cutLoads.shift() ?? Infinity;
    let given = 0;
    for await (const chunk of super.load(key, options)) {
      const part = chunk.subarray(0, Math.max(0, cut - given));
      if (part.length > 0) yield part;
      given += part.length;
      if (given >= cut) throw new TransientError(++this.thrown);
    }
  }

  override async stat(key: string): Promise<StoredObject> {
    const e = this.fault('stat');
    if (e) throw e;
    return super.stat(key);
  }

  override async *list(prefix: string): AsyncGenerator<string> {
    const e = this.fault('list');
    if (e) throw e;
    const cut = this.cutLists.shift() ?? Infinity;
    let given = 0;
    for await (const key of super.list(prefix)) {
      if (given++ === cut) throw new TransientError(++this.thrown);
      yield key;
    }
  }

  override async remove(key: string): Promise<void> {
    const e = this.fault('remove');
    if (e) throw e;
    return super.remove(key);
  }
}

const quick = { baseDelayMs: 1, maxDelayMs: 2 };

storageConformance('RetryingStorage(LimitedStorage(ProgressStorage(MemoryStorage)))', async () => new RetryingStorage(new LimitedStorage(new ProgressStorage(new MemoryStorage({ cold: true }), { onProgress: () => undefined }), { concurrency: 4 }), quick), { cold: true });
storageConformance('RetryingStorage over a backend that cuts every load after 70 kB and its first listings in the middle', async () => {
  const flaky = new FlakyStorage();
  flaky.cutLoads = Array<number>(1000).fill(70_000);
  flaky.cutLists = [400, 800, 1050];
  return new RetryingStorage(flaky, { ...quick, attempts: 3 });
});

describe('RetryingStorage', () => {
  it('resumes a load that breaks in the middle from the next byte: the reader sees one seamless stream', async () => {
    const inner = new FlakyStorage();
    const data = new Prng(1).bytes(300_000);
    await inner.save('k', data);
    inner.cutLoads = Array<number>(10).fill(50_000);
    const s = new RetryingStorage(inner, { ...quick, attempts: 2 });
    expect((await collect(s.load('k'))).equals(data)).toBe(true);
    // The last cut comes with the last byte: the resumed load past the end is empty.
    expect(inner.loadOffsets).toEqual([0, 50_000, 100_000, 150_000, 200_000, 250_000, 300_000]);

    inner.loadOffsets.length = 0;
    inner.cutLoads = Array<number>(10).fill(30_000);
    expect((await collect(s.load('k', { offset: 1000, length: 100_000 }))).equals(data.subarray(1000, 101_000))).toBe(true);
    expect(inner.loadOffsets).toEqual([1000, 31_000, 61_000, 91_000]);
  });

  it('gives up after the set number of tries with the last error, and tells onRetry before each wait', async () => {
    const inner = new FlakyStorage();
    await inner.save('k', new Uint8Array(10));
    inner.failNext.set('stat', 10);
    const events: RetryEvent[] = [];
    const s = new RetryingStorage(inner, { ...quick, attempts: 3, onRetry: (e) => events.push(e) });
    const error = await s.stat('k').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as TransientError).n).toBe(3);
    expect(inner.calls.stat).toBe(3);
    expect(events.map((e) => [e.operation, e.key, e.attempt])).toEqual([
      ['stat', 'k', 1],
      ['stat', 'k', 2],
    ]);
    for (const e of events) expect(e.delayMs).toBeLessThanOrEqual(2);

    inner.failNext.set('load', 10);
    await expect(collect(s.load('k'))).rejects.toBeInstanceOf(TransientError);
    expect(inner.calls.load).toBe(3);
  });

  it('retries stat, remove and a load that fails before its first byte', async () => {
    const inner = new FlakyStorage();
    await inner.save('k', new Uint8Array([1, 2, 3]));
    const s = new RetryingStorage(inner, quick);
    inner.failNext.set('stat', 4);
    expect((await s.stat('k')).size).toBe(3);
    inner.failNext.set('load', 4);
    expect([...(await collect(s.load('k')))]).toEqual([1, 2, 3]);
    inner.failNext.set('remove', 2);
    await s.remove('k');
    expect(await listKeys(inner, '')).toEqual([]);
  });

  it('retries a save from the first byte when its source can be opened again, and never a one-shot iterable', async () => {
    const inner = new FlakyStorage();
    const s = new RetryingStorage(inner, quick);
    const data = new Prng(2).bytes(10_000);
    inner.failNext.set('save', 2);
    await s.save('fn', async function* () {
      yield data.subarray(0, 4000);
      yield data.subarray(4000);
    });
    expect((await collect(inner.load('fn'))).equals(data)).toBe(true);
    inner.failNext.set('save', 2);
    await s.save('bytes', data);
    expect((await collect(inner.load('bytes'))).equals(data)).toBe(true);

    inner.failNext.set('save', 1);
    const before = inner.calls.save!;
    const oneShot = (async function* () {
      yield data;
    })();
    await expect(s.save('once', oneShot)).rejects.toBeInstanceOf(TransientError);
    expect(inner.calls.save! - before).toBe(1);
  });

  it('restarts a broken listing and skips the keys it already gave', async () => {
    const inner = new FlakyStorage();
    const keys = Array.from({ length: 50 }, (_, i) => `l/${String(i).padStart(2, '0')}`);
    for (const k of keys) await inner.save(k, new Uint8Array(1));
    inner.cutLists = [7, 20, 21, 35];
    inner.failNext.set('list', 1);
    const s = new RetryingStorage(inner, { ...quick, attempts: 2 });
    expect(await listKeys(s, 'l/')).toEqual(keys);
  });

  it('does not retry what is not transient: EEXIST, EAUTH-like refusals, not-found, bad keys', async () => {
    const inner = new FlakyStorage();
    inner.everythingTransient = true;
    const s = new RetryingStorage(inner, quick);
    await s.save('k', new Uint8Array(1), { ifNoneMatch: true });
    const saves = inner.calls.save!;
    await expect(s.save('k', new Uint8Array(2), { ifNoneMatch: true })).rejects.toMatchObject({ code: 'EEXIST' });
    expect(inner.calls.save! - saves).toBe(1);
    await expect(s.stat('missing')).rejects.toSatisfy((e) => s.isNotFound(e));
    expect(inner.calls.stat).toBe(1);
    await expect(collect(s.load('a//b'))).rejects.toMatchObject({ code: 'EPARAM' });
    expect(inner.calls.load).toBe(1);


    inner.refuseWith = new BackupError('EAUTH', 'refused');
    await expect(s.remove('k')).rejects.toMatchObject({ code: 'EAUTH' });
    expect(inner.calls.remove).toBe(1);
  });

  it('stops waiting and trying when its signal, or the operation signal, aborts', async () => {
    const inner = new FlakyStorage();
    await inner.save('k', new Uint8Array(1));
    const stop = new AbortController();
    const s = new RetryingStorage(inner, { baseDelayMs: 3_600_000, maxDelayMs: 3_600_000, signal: stop.signal, onRetry: () => setImmediate(() => stop.abort()) });
    inner.failNext.set('stat', 1);
    await expect(s.stat('k')).rejects.toMatchObject({ code: 'EABORTED' });
    expect(inner.calls.stat).toBe(1);
    inner.failNext.set('stat', 1);
    await expect(s.stat('k')).rejects.toMatchObject({ code: 'EABORTED' });
    expect(inner.calls.stat).toBe(2);

    const op = new AbortController();
    const t = new RetryingStorage(inner, { baseDelayMs: 3_600_000, maxDelayMs: 3_600_000, onRetry: () => op.abort() });
    inner.failNext.set('save', 1);
    const before = inner.calls.save!;
    await expect(t.save('k', new Uint8Array(2), { signal: op.signal })).rejects.toMatchObject({ code: 'EABORTED' });
    expect(inner.calls.save! - before).toBe(1);
    expect([...(await collect(inner.load('k')))]).toEqual([0]);
  });

  it('has the optional methods exactly when the wrapped storage has them', () => {
    const overMemory = new RetryingStorage(new MemoryStorage());
    expect(typeof overMemory.thaw).toBe('function');
    expect(typeof overMemory.isTransient).toBe('function');
    expect(overMemory.abortIncomplete).toBeUndefined();
    const bare = { location: 'bare', save: async () => undefined, load: async function* () {}, stat: async () => ({ size: 0 }), list: async function* () {}, remove: async () => undefined, isNotFound: () => false };
    for (const w of [new RetryingStorage(bare), new LimitedStorage(bare, { concurrency: 1 }), new DryRunStorage(bare), new ProgressStorage(bare, { onProgress: () => undefined })]) {
      expect(w.thaw).toBeUndefined();
      expect(w.isTransient).toBeUndefined();
      expect(w.abortIncomplete).toBeUndefined();
      expect(w.location).toBe('bare');
    }
  });
});

/** A memory backend whose operations wait for the test to let them finish, counting those in flight. */
class GatedStorage extends MemoryStorage {
  /** Whether saves and stats wait for {@link open}. */
  gated = true;
  inFlight = 0;
  maxInFlight = 0;
  started = 0;
  private gates: (() => void)[] = [];

  private async enter(): Promise<void> {
    this.started++;
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    if (this.gated) await new Promise<void>((r) => this.gates.push(r));
  }

  /** Let every operation waiting now go on. */
  open(): void {
    for (const g of this.gates.splice(0)) g();
  }

  override async save(key: string, source: SaveSource, options?: SaveOptions): Promise<void> {
    await this.enter();
    try {
      await super.save(key, source, options);
    } finally {
      this.inFlight--;
    }
  }

  override async stat(key: string): Promise<StoredObject> {
    await this.enter();
    try {
      return await super.stat(key);
    } finally {
      this.inFlight--;
    }
  }

  override async *load(key: string, options?: LoadOptions): AsyncGenerator<Uint8Array> {
    this.started++;
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    try {
      yield* super.load(key, options);
    } finally {
      this.inFlight--;
    }
  }
}

/** Let every pending callback and promise run. */
const settle = () => new Promise((r) => setImmediate(r));

describe('LimitedStorage', () => {
  it('never has more than N operations in flight, and reaches N', async () => {
    const inner = new GatedStorage();
    const s = new LimitedStorage(inner, { concurrency: 3 });
    const saves = Array.from({ length: 10 }, (_, i) => s.save(`k${i}`, new Uint8Array([i])));
    while ((await listKeys(inner, '')).length < 10) {
      await settle();
      expect(inner.inFlight).toBeLessThanOrEqual(3);
      inner.open();
    }
    await Promise.all(saves);
    expect(inner.maxInFlight).toBe(3);
  });

  it('counts a load until its iterable ends or is closed', async () => {
    const inner = new GatedStorage();
    inner.gated = false;
    for (const k of ['a', 'b']) await inner.save(k, new Uint8Array(200_000));
    inner.gated = true;
    const s = new LimitedStorage(inner, { concurrency: 2 });
    const first = s.load('a')[Symbol.asyncIterator]();
    const second = s.load('b')[Symbol.asyncIterator]();
    await first.next();
    await second.next();
    const startedBefore = inner.started;
    const stat = s.stat('a');
    await settle();
    expect(inner.started).toBe(startedBefore);
    await first.return!(undefined);
    await settle();
    expect(inner.started).toBe(startedBefore + 1);
    inner.open();
    expect((await stat).size).toBe(200_000);
    while (!(await second.next()).done);
    expect(inner.inFlight).toBe(0);
  });

  it('lets a waiter whose signal aborts leave the queue without taking a slot', async () => {
    const inner = new GatedStorage();
    const s = new LimitedStorage(inner, { concurrency: 1 });
    const holder = s.save('a', new Uint8Array(1));
    await settle();
    const stop = new AbortController();
    const waiting = s.save('b', new Uint8Array(1), { signal: stop.signal });
    stop.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'EABORTED' });
    inner.open();
    await holder;
    const next = s.save('c', new Uint8Array(1));
    await settle();
    inner.open();
    await next;
    expect(await listKeys(inner, '')).toEqual(['a', 'c']);
  });
});

describe('DryRunStorage', () => {
  it('writes nothing, reports what it would do, and reads through', async () => {
    const inner = new MemoryStorage({ cold: true });
    await inner.save('old', new Uint8Array([1, 2]), { storageClass: 'GLACIER' });
    const skipped: SkipEvent[] = [];
    const s = new DryRunStorage(inner, { onSkip: (e) => skipped.push(e) });
    let opened = false;
    await s.save('new/bytes', new Uint8Array(5));
    await s.save(
      'new/fn',
      () => {
        opened = true;
        return (async function* () {})();
      },
      { size: 7 },
    );
    await s.save('new/iterable', (async function* () {})());
    await s.remove('old');
    await s.thaw!('old', { days: 1, tier: 'Bulk' });
    expect(await s.abortIncomplete?.('new/')).toBeUndefined();
    expect(opened).toBe(false);
    expect(skipped).toEqual([
      { operation: 'save', key: 'new/bytes', size: 5 },
      { operation: 'save', key: 'new/fn', size: 7 },
      { operation: 'save', key: 'new/iterable' },
      { operation: 'remove', key: 'old' },
      { operation: 'thaw', key: 'old' },
    ]);
    expect(await listKeys(s, '')).toEqual(['old']);
    expect(await s.stat('old')).toMatchObject({ size: 2, availability: 'archived' });
    await inner.thaw('old', { days: 1, tier: 'Bulk' });
    expect([...(await collect(s.load('old')))]).toEqual([1, 2]);
  });

  it('fails a conditional save where the key exists, as the real run would, and rejects bad keys', async () => {
    const inner = new MemoryStorage();
    await inner.save('lock', new Uint8Array([1]));
    const s = new DryRunStorage(inner);
    await expect(s.save('lock', new Uint8Array([2]), { ifNoneMatch: true })).rejects.toMatchObject({ code: 'EEXIST' });
    await s.save('free', new Uint8Array([2]), { ifNoneMatch: true });
    await expect(s.save('a//b', new Uint8Array(1))).rejects.toMatchObject({ code: 'EPARAM' });
    await expect(s.remove('/a')).rejects.toMatchObject({ code: 'EPARAM' });
    expect(await listKeys(inner, '')).toEqual(['lock']);
  });
});

describe('ProgressStorage', () => {
  it('counts bytes uploaded as sources are read, bytes fetched as loads yield, and requests', async () => {
    const events: TransferEvent[] = [];
    const inner = new MemoryStorage();
    const s = new ProgressStorage(inner, { onProgress: (e) => events.push(e) });
    const data = new Prng(3).bytes(100_000);
    await s.save('a', data);
    await s.save('b', async function* () {
      yield data.subarray(0, 10);
      yield data.subarray(10, 30);
    });
    await s.save(
      'c',
      (async function* () {
        yield data.subarray(0, 7);
      })(),
    );
    expect(s.totals).toEqual({ uploaded: 100_037, fetched: 0, requests: 3 });
    expect((await collect(s.load('a', { offset: 10, length: 1000 }))).length).toBe(1000);
    expect((await collect(s.load('a'))).length).toBe(100_000);
    await s.stat('b');
    await listKeys(s, '');
    await s.remove('c');
    expect(s.totals).toEqual({ uploaded: 100_037, fetched: 101_000, requests: 8 });
    expect(events.at(-1)).toEqual({ ...s.totals, key: 'c' });
    expect(events.filter((e) => e.key === 'b').map((e) => e.uploaded)).toEqual([100_000, 100_010, 100_030, 100_037]);
    expect([...(await collect(inner.load('b')))]).toEqual([...data.subarray(0, 30)]);
  });

  it('under a retrying wrapper, counts every try of a save: what was really sent', async () => {
    const flaky = new FlakyStorage();
    flaky.failNext.set('save', 2);
    const progress = new ProgressStorage(flaky, { onProgress: () => undefined });
    const s = new RetryingStorage(progress, quick);
    await s.save('k', new Uint8Array(1000));
    expect(progress.totals).toEqual({ uploaded: 3000, fetched: 0, requests: 3 });
  });
});
