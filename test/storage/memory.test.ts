/**
 * The memory storage: the conformance suite (cold classes included, since it is their
 * reference) and what is particular to it.
 */
import { describe, expect, it } from 'vitest';
import { MemoryStorage, listKeys } from '../../src/storage/index.js';
import { storageConformance } from '../../src/testing/index.js';
import { collect } from '../helpers/streams.js';

storageConformance('MemoryStorage', async () => new MemoryStorage({ cold: true }), { cold: true });
storageConformance('MemoryStorage without cold classes', async () => new MemoryStorage());

describe('MemoryStorage', () => {
  it('keeps its own copy: changing the saved or the loaded bytes does not change the object', async () => {
    const s = new MemoryStorage();
    const data = new Uint8Array([1, 2, 3]);
    await s.save('k', data);
    data[0] = 9;
    const loaded = await collect(s.load('k'));
    loaded[1] = 9;
    expect([...(await collect(s.load('k')))]).toEqual([1, 2, 3]);
  });

  it('archives only the cold classes, only when asked to, and a new save of an object is archived afresh', async () => {
    const s = new MemoryStorage({ cold: true });
    await s.save('ia', new Uint8Array(5), { storageClass: 'STANDARD_IA' });
    await s.save('deep', new Uint8Array(5), { storageClass: 'DEEP_ARCHIVE' });
    expect(await s.stat('ia')).toEqual({ size: 5, availability: 'ready', storageClass: 'STANDARD_IA' });
    expect(await s.stat('deep')).toEqual({ size: 5, availability: 'archived', storageClass: 'DEEP_ARCHIVE' });
    await s.thaw('deep', { days: 1, tier: 'Bulk' });
    expect((await s.stat('deep')).availability).toBe('ready');
    await s.save('deep', new Uint8Array(6), { storageClass: 'DEEP_ARCHIVE' });
    expect((await s.stat('deep')).availability).toBe('archived');

    const warm = new MemoryStorage();
    await warm.save('g', new Uint8Array(1), { storageClass: 'GLACIER' });
    expect((await warm.stat('g')).availability).toBe('ready');
  });

  it('reports a thaw of a missing key as not found', async () => {
    const s = new MemoryStorage({ cold: true });
    const e = await s.thaw('none', { days: 1, tier: 'Standard' }).catch((err: unknown) => err);
    expect(s.isNotFound(e)).toBe(true);
  });

  it('lists a snapshot: keys saved while a listing runs do not disturb its order', async () => {
    const s = new MemoryStorage();
    for (const k of ['b', 'd']) await s.save(k, new Uint8Array(1));
    const seen: string[] = [];
    for await (const k of s.list('')) {
      seen.push(k);
      await s.save('a', new Uint8Array(1));
    }
    expect(seen).toEqual(['b', 'd']);
    expect(await listKeys(s, '')).toEqual(['a', 'b', 'd']);
  });

  it('rejects ranges with a negative or fractional offset or length (EPARAM)', async () => {
    const s = new MemoryStorage();
    await s.save('k', new Uint8Array(10));
    for (const range of [{ offset: -1 }, { length: -1 }, { offset: 1.5 }, { length: Number.NaN }]) {
      await expect(collect(s.load('k', range))).rejects.toMatchObject({ code: 'EPARAM' });
    }
  });
});
