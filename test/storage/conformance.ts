/**
 * The conformance suite every Storage backend must pass (restic's approach): a backend is
 * done when this suite passes against it.
 */
import { describe, expect, it } from 'vitest';
import type { Storage } from '../../src/storage/index.js';
import { collect } from '../backup/helpers.js';

/** Register the suite for the backend `make` creates (a fresh, empty one per test). */
export function storageConformance(label: string, make: () => Promise<Storage>): void {
  describe(`Storage conformance: ${label}`, () => {
    it('saves and loads whole objects, from bytes and from streams', async () => {
      const s = await make();
      await s.save('a/one', new Uint8Array([1, 2, 3]));
      await s.save('a/two', (async function* () {
        yield new Uint8Array([4]);
        yield new Uint8Array([5, 6]);
      })());
      expect([...(await collect(s.load('a/one')))]).toEqual([1, 2, 3]);
      expect([...(await collect(s.load('a/two')))]).toEqual([4, 5, 6]);
      expect(await s.stat('a/two')).toEqual({ size: 3 });
    });

    it('loads ranges', async () => {
      const s = await make();
      await s.save('r', new Uint8Array(Array.from({ length: 100 }, (_, i) => i)));
      expect([...(await collect(s.load('r', { offset: 10, length: 3 })))]).toEqual([10, 11, 12]);
      expect([...(await collect(s.load('r', { offset: 98 })))]).toEqual([98, 99]);
      expect((await collect(s.load('r', { offset: 5, length: 0 }))).length).toBe(0);
    });

    it('replaces on save, lists by prefix in order, removes idempotently', async () => {
      const s = await make();
      await s.save('n/b', new Uint8Array([1]));
      await s.save('n/a', new Uint8Array([1]));
      await s.save('m/c', new Uint8Array([1]));
      await s.save('n/b', new Uint8Array([9, 9]));
      expect(await s.stat('n/b')).toEqual({ size: 2 });
      expect(await s.list('n/')).toEqual(['n/a', 'n/b']);
      expect(await s.list('')).toEqual(['m/c', 'n/a', 'n/b']);
      await s.remove('n/a');
      await s.remove('n/a');
      expect(await s.list('n/')).toEqual(['n/b']);
    });

    it('reports missing keys through isNotFound', async () => {
      const s = await make();
      const loadErr = await collect(s.load('missing')).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(s.isNotFound(loadErr)).toBe(true);
      const statErr = await s.stat('missing').catch((e: unknown) => e);
      expect(s.isNotFound(statErr)).toBe(true);
      expect(s.isNotFound(new Error('other'))).toBe(false);
    });
  });
}
