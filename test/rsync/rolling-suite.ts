/**
 * What every rolling checksum must satisfy: librsync's known values, the rotate/rollout
 * sequence of librsync's unit tests, and the invariant that a rolled digest always equals a
 * fresh digest of the current window (rolling is only an optimisation).
 */
import { describe, expect, it } from 'vitest';
import { Prng } from '../helpers/data.js';

interface Rolling {
  count: number;
  reset(data: Uint8Array, start?: number, end?: number): void;
  update(data: Uint8Array, start?: number, end?: number): void;
  rotate(out: number, inn: number): void;
  rollout(out: number): void;
  digest(): number;
}

/** Digests of the windows in `src/rsync/README.md` §3 for one checksum. */
export interface KnownDigests {
  empty: number;
  zero: number;
  w0123: number;
  w1234: number;
  w4567: number;
  w567: number;
  ramp256: number;
}

export function rollingSuite(
  name: string,
  make: () => Rolling,
  digest: (data: Uint8Array, start?: number, end?: number) => number,
  known: KnownDigests,
): void {
  const bytes = (...xs: number[]) => Uint8Array.from(xs);
  const ramp = Uint8Array.from({ length: 256 }, (_, i) => i);
  const vectors: [string, Uint8Array, number][] = [
    ['[]', bytes(), known.empty],
    ['[0]', bytes(0), known.zero],
    ['[0,1,2,3]', bytes(0, 1, 2, 3), known.w0123],
    ['[1,2,3,4]', bytes(1, 2, 3, 4), known.w1234],
    ['[4,5,6,7]', bytes(4, 5, 6, 7), known.w4567],
    ['[5,6,7]', bytes(5, 6, 7), known.w567],
    ['0..255', ramp, known.ramp256],
  ];

  describe(`${name} known values`, () => {
    it.each(vectors)('digest of %s', (_, data, want) => {
      expect(digest(data)).toBe(want);
      const r = make();
      r.update(data);
      expect(r.digest()).toBe(want);
    });

    it('digests a sub-range like a fresh array', () => {
      expect(digest(ramp, 4, 8)).toBe(known.w4567);
    });
  });

  describe(`${name} rolling`, () => {
    it('rotate gives the librsync sequence [0,1,2,3] → [1,2,3,4] → … → [4,5,6,7], rollout [5,6,7]', () => {
      const r = make();
      r.update(bytes(0, 1, 2, 3));
      r.rotate(0, 4);
      expect(r.digest()).toBe(known.w1234);
      r.rotate(1, 5);
      r.rotate(2, 6);
      r.rotate(3, 7);
      expect(r.digest()).toBe(known.w4567);
      r.rollout(4);
      expect(r.digest()).toBe(known.w567);
      expect(r.count).toBe(3);
    });

    it('rotate and rollout always equal a fresh digest of the window', () => {
      const data = new Prng(11).bytes(5000);
      for (const window of [1, 2, 7, 64, 1000]) {
        const r = make();
        r.reset(data, 0, window);
        for (let p = 0; p + window < data.length; p += 1) {
          r.rotate(data[p]!, data[p + window]!);
          if (p % 97 === 0) expect(r.digest()).toBe(digest(data, p + 1, p + 1 + window));
        }
        for (let p = data.length - window; p < data.length; p++) {
          r.rollout(data[p]!);
          expect(r.digest()).toBe(digest(data, p + 1, data.length));
        }
        expect(r.digest()).toBe(known.empty);
      }
    });
  });
}
