/**
 * The conformance suite of the storage seam (restic's approach): one set of tests every
 * {@link Storage} backend must pass — memory, local, S3 here, and any custom backend a user
 * writes. A backend is done when this suite passes against it.
 *
 * It is exported (`incremental-backups-tools/testing`) so the author of a backend runs it
 * from their own vitest file:
 *
 * ```ts
 * import { storageConformance } from 'incremental-backups-tools/testing';
 * storageConformance('MyStorage', async () => new MyStorage(await freshBucket()));
 * ```
 *
 * The tests check what the repository layer relies on: whole and ranged loads, that a failed
 * or aborted save never leaves part of an object (nor an old object damaged), listing in
 * code-unit order across pages, not-found errors the backend recognises, exclusive creates
 * (locks and commits depend on exactly one winner), key validation, concurrent saves, and,
 * for backends with cold classes, the archived → thaw → readable cycle. The keys avoid
 * characters in U+E000–U+FFFF next to ones beyond U+FFFF, the one place where code-unit
 * order and S3's UTF-8 byte order disagree.
 */
import { describe, expect, it } from 'vitest';
import { isBackupError } from '../errors.js';
import type { LoadOptions, Storage } from '../storage/index.js';

/** Options of {@link storageConformance}. */
export interface ConformanceOptions {
  /**
   * The backend has cold classes: an object saved with `storageClass: 'GLACIER'` is
   * `archived`, refuses loads with `ETHAWING`, and becomes readable after `thaw` (the suite
   * polls `stat` until it says `ready`). Default false.
   */
  cold?: boolean;
  /** Timeout of each test in milliseconds (a remote backend needs more than vitest's default). Default 120 000. */
  timeout?: number;
}

/** Reads in the suite that wait for a thaw poll this often, this many times. */
const THAW_POLL_MS = 100;
const THAW_POLLS = 600;

/**
 * Register the conformance suite (vitest `describe` and `it`s) for the backend `make`
 * creates. Each test calls `make` once and expects a fresh, empty storage.
 */
export function storageConformance(label: string, make: () => Promise<Storage>, options: ConformanceOptions = {}): void {
  const timeout = options.timeout ?? 120_000;
  const test = (name: string, fn: () => Promise<void>) => it(name, fn, timeout);

  describe(`Storage conformance: ${label}`, () => {
    test('saves and loads from bytes, from a function that reopens the content, and from a one-shot iterable', async () => {
      const s = await make();
      expect(typeof s.location).toBe('string');
      const a = content(1000, 1);
      const b = content(300_000, 2);
      const c = content(5000, 3);
      await s.save('k/bytes', a);
      await s.save('k/function', () => inChunks(b, 65_536));
      await s.save('k/iterable', inChunks(c, 777));
      expect(await loadAll(s, 'k/bytes')).toEqual(a);
      expect(equal(await loadAll(s, 'k/function'), b)).toBe(true);
      expect(await loadAll(s, 'k/iterable')).toEqual(c);
    });

    test('stores sizes exactly, the empty object included', async () => {
      const s = await make();
      const sizes = [0, 1, 1 << 20, (1 << 20) + 3];
      for (const size of sizes) await s.save(`size/${size}`, () => inChunks(content(size, size), 100_000));
      for (const size of sizes) {
        const st = await s.stat(`size/${size}`);
        expect(st.size).toBe(size);
        expect(st.availability ?? 'ready').toBe('ready');
        expect((await loadAll(s, `size/${size}`)).length).toBe(size);
      }
    });

    test('loads ranges: from the start, in the middle, to the end, empty, and past the end', async () => {
      const s = await make();
      const data = content(200_000, 7);
      await s.save('r', data);
      const range = async (o: LoadOptions) => loadAll(s, 'r', o);
      expect(await range({ offset: 0, length: 10 })).toEqual(data.subarray(0, 10));
      expect(await range({ length: 5 })).toEqual(data.subarray(0, 5));
      expect(await range({ offset: 65_530, length: 20 })).toEqual(data.subarray(65_530, 65_550));
      expect(equal(await range({ offset: 1000 }), data.subarray(1000))).toBe(true);
      expect(await range({ offset: 199_998 })).toEqual(data.subarray(199_998));
      expect((await range({ offset: 5, length: 0 })).length).toBe(0);
      expect(await range({ offset: 199_990, length: 100 })).toEqual(data.subarray(199_990));
      expect((await range({ offset: 200_000 })).length).toBe(0);
      expect((await range({ offset: 300_000, length: 10 })).length).toBe(0);
    });

    test('replaces an object on save, with a shorter and with a longer one', async () => {
      const s = await make();
      await s.save('o', content(1000, 1));
      await s.save('o', content(10, 2));
      expect(await loadAll(s, 'o')).toEqual(content(10, 2));
      expect((await s.stat('o')).size).toBe(10);
      await s.save('o', content(5000, 3));
      expect(await loadAll(s, 'o')).toEqual(content(5000, 3));
      expect((await s.stat('o')).size).toBe(5000);
    });

    test('a save whose source fails half-way leaves the old object whole, and no object where there was none', async () => {
      const s = await make();
      const old = content(4000, 1);
      await s.save('atomic/old', old);
      await expect(s.save('atomic/old', failingHalfWay(content(8000, 2)))).rejects.toThrow();
      expect(await loadAll(s, 'atomic/old')).toEqual(old);
      expect((await s.stat('atomic/old')).size).toBe(old.length);

      await expect(s.save('atomic/new', failingHalfWay(content(8000, 3)))).rejects.toThrow();
      expect(s.isNotFound(await s.stat('atomic/new').catch((e: unknown) => e))).toBe(true);
      expect(await keys(s, 'atomic/')).toEqual(['atomic/old']);
    });

    test('an aborted save rejects and leaves nothing, even while its source is waiting', async () => {
      const s = await make();
      const before = new AbortController();
      before.abort();
      await expect(s.save('abort/before', content(10, 1), { signal: before.signal })).rejects.toSatisfy(isAbort);
      const during = new AbortController();
      const saving = s.save('abort/during', stalledAfter(content(1000, 2), () => during.abort()), { signal: during.signal });
      await expect(saving).rejects.toSatisfy(isAbort);
      await s.save('abort/old', content(10, 3));
      const again = new AbortController();
      await expect(s.save('abort/old', stalledAfter(content(1000, 4), () => again.abort()), { signal: again.signal })).rejects.toSatisfy(isAbort);
      expect(await loadAll(s, 'abort/old')).toEqual(content(10, 3));
      expect(await keys(s, 'abort/')).toEqual(['abort/old']);
    });

    test('an aborted load rejects', async () => {
      const s = await make();
      const size = 4 << 20;
      await s.save('big', () => inChunks(content(size, 5), 1 << 20));
      const before = new AbortController();
      before.abort();
      await expect(loadAll(s, 'big', { signal: before.signal })).rejects.toSatisfy(isAbort);
      const during = new AbortController();
      let first = 0;
      const reading = (async () => {
        for await (const chunk of s.load('big', { signal: during.signal })) {
          if (first === 0) {
            first = chunk.length;
            during.abort();
          }
        }
      })();
      const outcome = await reading.then(
        () => undefined,
        (e: unknown) => e,
      );
      if (first < size) expect(isAbort(outcome)).toBe(true);
    });

    test('lists keys in code-unit order, by prefixes that end inside a name as well as at a folder', async () => {
      const s = await make();
      const names = ['b', 'a0', 'a/c/d', 'a/b', 'a-b', 'A', 'a b', 'a.b', 'aé', 'a日本', 'a😀', 'odd/sp ace+plus%25#hash?q=1&é=ü'];
      for (const k of names) await s.save(k, content(3, 1));
      expect(await keys(s, '')).toEqual(['A', 'a b', 'a-b', 'a.b', 'a/b', 'a/c/d', 'a0', 'aé', 'a日本', 'a😀', 'b', 'odd/sp ace+plus%25#hash?q=1&é=ü']);
      expect(await keys(s, 'a')).toEqual(['a b', 'a-b', 'a.b', 'a/b', 'a/c/d', 'a0', 'aé', 'a日本', 'a😀']);
      expect(await keys(s, 'a/')).toEqual(['a/b', 'a/c/d']);
      expect(await keys(s, 'a/c')).toEqual(['a/c/d']);
      expect(await keys(s, 'a/c/d')).toEqual(['a/c/d']);
      expect(await keys(s, 'a/c/d/')).toEqual([]);
      expect(await keys(s, 'c')).toEqual([]);
      expect(await keys(s, 'odd/sp ace+')).toEqual(['odd/sp ace+plus%25#hash?q=1&é=ü']);
      expect(await loadAll(s, 'odd/sp ace+plus%25#hash?q=1&é=ü')).toEqual(content(3, 1));

      await s.save('n/locks/a.json', content(1, 1));
      await s.save('n/locks/b/c.json', content(1, 1));
      await s.save('n/lockstep', content(1, 1));
      await s.save('n/lo', content(1, 1));
      await s.save('n/m', content(1, 1));
      expect(await keys(s, 'n/lo')).toEqual(['n/lo', 'n/locks/a.json', 'n/locks/b/c.json', 'n/lockstep']);
      expect(await keys(s, 'n/locks')).toEqual(['n/locks/a.json', 'n/locks/b/c.json', 'n/lockstep']);
      expect(await keys(s, 'n/locks/')).toEqual(['n/locks/a.json', 'n/locks/b/c.json']);
    });

    test('lists more keys than one page of a bucket listing (1000), in order, and stops when the reader stops', async () => {
      const s = await make();
      const all = [...Array.from({ length: 1100 }, (_, i) => `page/${i}`), ...Array.from({ length: 5 }, (_, i) => `page/sub/${i}`)];
      await forEachConcurrently(all, 32, (k) => s.save(k, content(1, 0)));
      await s.save('pagf', content(1, 0));
      const sorted = [...all].sort();
      expect(await keys(s, 'page/')).toEqual(sorted);
      expect(await keys(s, 'page/1')).toEqual(sorted.filter((k) => k.startsWith('page/1')));
      const firstThree: string[] = [];
      for await (const k of s.list('page/')) {
        firstThree.push(k);
        if (firstThree.length === 3) break;
      }
      expect(firstThree).toEqual(sorted.slice(0, 3));
      expect((await keys(s, '')).length).toBe(all.length + 1);
    });

    test('removes objects, and removing a missing key is not an error', async () => {
      const s = await make();
      await s.save('rm/a', content(1, 1));
      await s.save('rm/b', content(1, 1));
      await s.remove('rm/a');
      await s.remove('rm/a');
      await s.remove('rm/never');
      expect(await keys(s, 'rm/')).toEqual(['rm/b']);
      expect(s.isNotFound(await s.stat('rm/a').catch((e: unknown) => e))).toBe(true);
    });

    test('reports missing keys through isNotFound, for load and stat, and only those', async () => {
      const s = await make();
      await s.save('dir/inner', content(1, 1));
      for (const key of ['missing', 'dir', 'dir/inner/deeper', 'dir/other']) {
        const loadError = await loadAll(s, key).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(loadError, `load of ${key}`).toBeDefined();
        expect(s.isNotFound(loadError), `load of ${key}`).toBe(true);
        const statError = await s.stat(key).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(s.isNotFound(statError), `stat of ${key}`).toBe(true);
      }
      expect(s.isNotFound(new Error('other'))).toBe(false);
      expect(s.isNotFound(undefined)).toBe(false);
    });

    test('a conditional save creates once: the second fails with EEXIST and leaves the object unchanged', async () => {
      const s = await make();
      await s.save('c/lock', content(100, 1), { ifNoneMatch: true });
      const second = await s.save('c/lock', content(50, 2), { ifNoneMatch: true }).catch((e: unknown) => e);
      expect(isBackupError(second, 'EEXIST')).toBe(true);
      expect(await loadAll(s, 'c/lock')).toEqual(content(100, 1));
      await s.remove('c/lock');
      await s.save('c/lock', content(20, 3), { ifNoneMatch: true });
      expect(await loadAll(s, 'c/lock')).toEqual(content(20, 3));
    });

    test('of 8 concurrent conditional saves of one key, exactly one wins', async () => {
      const s = await make();
      const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => s.save('race/lock', () => inChunks(content(20_000, i), 4096), { ifNoneMatch: true })));
      const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      expect(winners.length).toBe(1);
      for (const r of results) if (r.status === 'rejected') expect(isBackupError(r.reason, 'EEXIST')).toBe(true);
      expect(equal(await loadAll(s, 'race/lock'), content(20_000, winners[0]!))).toBe(true);
      expect(await keys(s, 'race/')).toEqual(['race/lock']);
    });

    test('rejects invalid keys with EPARAM', async () => {
      const s = await make();
      for (const key of ['', '/a', 'a/', 'a//b', 'a/../b', './a', 'a/.', 'a\0b', 'k'.repeat(1025)]) {
        const shown = JSON.stringify(key.slice(0, 20));
        const attempts: [string, () => Promise<unknown>][] = [
          ['save', () => s.save(key, content(1, 1))],
          ['load', () => loadAll(s, key)],
          ['stat', () => s.stat(key)],
          ['remove', () => s.remove(key)],
        ];
        for (const [op, run] of attempts) {
          const error = await Promise.resolve()
            .then(run)
            .then(
              () => undefined,
              (e: unknown) => e,
            );
          expect(isBackupError(error, 'EPARAM'), `${op} of ${shown}`).toBe(true);
        }
      }
      expect(await keys(s, '')).toEqual([]);
    });

    test('concurrent saves of different keys all land; of one key, one of the contents lands whole', async () => {
      const s = await make();
      await Promise.all(Array.from({ length: 16 }, (_, i) => s.save(`many/${i}`, () => inChunks(content(10_000 + i, i), 3000))));
      for (let i = 0; i < 16; i++) expect(equal(await loadAll(s, `many/${i}`), content(10_000 + i, i))).toBe(true);
      await Promise.all(Array.from({ length: 8 }, (_, i) => s.save('same', () => inChunks(new Uint8Array(100_000 + i).fill(i + 1), 8192))));
      const got = await loadAll(s, 'same');
      const i = got[0]! - 1;
      expect(i >= 0 && i < 8).toBe(true);
      expect(equal(got, new Uint8Array(100_000 + i).fill(i + 1))).toBe(true);
    });

    if (options.cold) {
      test('an object saved in GLACIER is archived, refuses loads with ETHAWING, and reads after a thaw', async () => {
        const s = await make();
        expect(typeof s.thaw).toBe('function');
        const data = content(3000, 9);
        await s.save('cold/a', data, { storageClass: 'GLACIER' });
        await s.save('cold/hot', data);
        expect((await s.stat('cold/hot')).availability ?? 'ready').toBe('ready');
        expect((await s.stat('cold/a')).availability).toBe('archived');
        const refused = await loadAll(s, 'cold/a').then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isBackupError(refused, 'ETHAWING')).toBe(true);
        expect(s.isNotFound(refused)).toBe(false);
        await s.thaw!('cold/a', { days: 1, tier: 'Expedited' });
        await s.thaw!('cold/a', { days: 1, tier: 'Expedited' });
        let polls = 0;
        while ((await s.stat('cold/a')).availability !== 'ready') {
          if (++polls > THAW_POLLS) throw new Error('cold/a never became ready after its thaw');
          await new Promise((r) => setTimeout(r, THAW_POLL_MS));
        }
        expect(await loadAll(s, 'cold/a')).toEqual(data);
        expect(await loadAll(s, 'cold/a', { offset: 10, length: 5 })).toEqual(data.subarray(10, 15));
      });
    }
  });
}

/** `n` bytes that differ from those of another `seed`. */
function content(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = (seed * 2_654_435_761 + 1) >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x * 1_103_515_245 + 12_345) >>> 0;
    out[i] = x >>> 24;
  }
  if (n > 0) out[0] = seed & 255;
  return out;
}

async function* inChunks(data: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < data.length; at += size) yield data.slice(at, at + size);
}

/** The first half of `data`, then an error, as a one-shot source (so no wrapper can retry it). */
async function* failingHalfWay(data: Uint8Array): AsyncGenerator<Uint8Array> {
  yield data.slice(0, data.length >> 1);
  throw new Error('the source failed half-way');
}

/** `data`, then a source that never gives its next chunk; `stalled` is called once it waits. */
async function* stalledAfter(data: Uint8Array, stalled: () => void): AsyncGenerator<Uint8Array> {
  yield data;
  setTimeout(stalled, 20);
  await new Promise<never>(() => undefined);
}

/** Every byte `storage` loads for `key`; a synchronous throw of `load` becomes a rejection. */
async function loadAll(storage: Storage, key: string, options?: LoadOptions): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of storage.load(key, options)) parts.push(chunk);
  return new Uint8Array(Buffer.concat(parts));
}

async function keys(storage: Storage, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const k of storage.list(prefix)) out.push(k);
  return out;
}

/** Byte equality without vitest diffing megabytes on failure. */
function equal(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function isAbort(e: unknown): boolean {
  return isBackupError(e, 'EABORTED') || (e as Error | undefined)?.name === 'AbortError';
}

async function forEachConcurrently<T>(items: readonly T[], width: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await run(items[next++]!);
  };
  await Promise.all(Array.from({ length: width }, worker));
}
