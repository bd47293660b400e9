import { describe, expect, it } from 'vitest';
import { Rollsum, rollsumDigest } from '../../src/rsync/rollsum.js';
import { rollingSuite } from './rolling-suite.js';

rollingSuite('rollsum', () => new Rollsum(), rollsumDigest, {
  empty: 0x00000000,
  zero: 0x001f001f,
  w0123: 0x01400082,
  w1234: 0x014a0086,
  w4567: 0x01680092,
  w567: 0x00dc006f,
  ramp256: 0x3a009e80,
});

describe('rollsum on long windows', () => {
  // s2 grows like n²·286/2: past ~8 MiB an unmasked float sum loses its low bits, and a
  // signature made with `-R rollsum -b 16777216` no longer matches rdiff's.
  it('sums wrap mod 2^16 exactly on a 16 MiB window of 0xff', () => {
    const data = new Uint8Array(16 << 20).fill(0xff);
    let s1 = 0;
    let s2 = 0;
    for (const x of data) {
      s1 = (s1 + x + 31) % 65536;
      s2 = (s2 + s1) % 65536;
    }
    const want = (s2 * 65536 + s1) >>> 0;
    expect(rollsumDigest(data)).toBe(want);
    const r = new Rollsum();
    r.reset(data);
    expect(r.digest()).toBe(want);
  });
});
