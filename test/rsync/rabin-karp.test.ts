import { describe, expect, it } from 'vitest';
import { RabinKarp, RK_ADJ, RK_INVM, RK_MULT, rabinKarpDigest, rkPower } from '../../src/rsync/rabin-karp.js';
import { rollingSuite } from './rolling-suite.js';

rollingSuite('RabinKarp', () => new RabinKarp(), rabinKarpDigest, {
  empty: 0x00000001,
  zero: 0x08104225,
  w0123: 0xaf981e97,
  w1234: 0xe2ef15f3,
  w4567: 0x7cf3fc07,
  w567: 0xf284a77f,
  ramp256: 0xc1972381,
});

describe('RabinKarp constants', () => {
  it('has the inverse, adjustment and square librsync uses', () => {
    expect(Math.imul(RK_MULT, RK_INVM) >>> 0).toBe(1);
    expect(RK_ADJ).toBe(RK_MULT - 1);
    expect(rkPower(2) >>> 0).toBe(0xa5b71959);
    expect(rkPower(0)).toBe(1);
  });

  it('rkPower(n) equals n multiplications', () => {
    let m = 1;
    for (let n = 0; n < 300; n++) {
      expect(rkPower(n) >>> 0).toBe(m >>> 0);
      m = Math.imul(m, RK_MULT);
    }
  });

  it('zero windows of different lengths differ (the seed)', () => {
    expect(rabinKarpDigest(new Uint8Array(3))).not.toBe(rabinKarpDigest(new Uint8Array(4)));
  });
});
