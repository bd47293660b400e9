import { describe, expect, it } from 'vitest';
import { DeltaWriter } from '../../src/rsync/delta-writer.js';

function encode(write: (w: DeltaWriter) => void): string {
  const w = new DeltaWriter();
  write(w);
  w.end();
  return Buffer.concat(w.take(true)).toString('hex');
}

const literalHeader = (n: number) => {
  const data = new Uint8Array(n);
  return encode((w) => w.literal(data, 0, n)).slice(8, -2 - 2 * n);
};

describe('DeltaWriter literal encodings (emit.c)', () => {
  it.each([
    [1, '01'],
    [64, '40'],
    [65, '4141'],
    [100, '4164'],
    [255, '41ff'],
    [256, '420100'],
    [300, '42012c'],
    [32768, '428000'],
    [65535, '42ffff'],
    [65536, '4300010000'],
  ])('%i bytes → %s', (n, header) => {
    expect(literalHeader(n)).toBe(header);
  });

  it('carries the literal bytes after the header', () => {
    const data = Uint8Array.of(9, 0xaa, 0xbb, 0xcc, 9);
    expect(encode((w) => w.literal(data, 1, 4))).toBe('72730236' + '03aabbcc' + '00');
  });
});

describe('DeltaWriter copy encodings', () => {
  it.each([
    [0, 1, '450001'],
    [255, 255, '45ffff'],
    [256, 1, '49010001'],
    [0, 65536, '470000010000'],
    [65536, 65535, '4e00010000ffff'],
    [2 ** 32, 1, '51000000010000000001'],
    [2 ** 32 - 1, 2 ** 32, '50ffffffff0000000100000000'],
    [0, 2 ** 40 + 5, '480000000100000000' + '05'],
  ])('COPY(%i, %i) → %s', (offset, len, want) => {
    expect(encode((w) => w.copy(offset, len)).slice(8, -2)).toBe(want);
  });
});

describe('DeltaWriter output', () => {
  it('starts with the magic, ends with END, and counts like rdiff -s', () => {
    const w = new DeltaWriter();
    w.literal(new Uint8Array(70), 0, 70);
    w.copy(0, 10);
    w.copy(20, 10);
    w.end();
    const hex = Buffer.concat(w.take(true)).toString('hex');
    expect(hex.startsWith('72730236')).toBe(true);
    expect(hex.endsWith('00')).toBe(true);
    expect(w.stats).toEqual({ literalCmds: 1, literalBytes: 70, copyCmds: 2, copyBytes: 20 });
  });

  it('hands out chunks without splitting or losing commands across many writes', () => {
    const w = new DeltaWriter();
    const parts: Uint8Array[] = [];
    const data = new Uint8Array(1000).map((_, i) => i);
    for (let i = 0; i < 2000; i++) {
      w.literal(data, 0, 1 + (i % 1000));
      parts.push(...w.take());
    }
    w.end();
    parts.push(...w.take(true));
    const total = Buffer.concat(parts);
    let expected = 4 + 1;
    for (let i = 0; i < 2000; i++) {
      const n = 1 + (i % 1000);
      expected += n + (n <= 64 ? 1 : n <= 255 ? 2 : 3);
    }
    expect(total.length).toBe(expected);
    expect(parts.length).toBeGreaterThan(1);
  });
});
