import { describe, expect, it } from 'vitest';
import { ChunkReader, chunksOf, knownLength, readUintBE, type ByteSource } from '../../src/rsync/byte-source.js';
import { isBackupError } from '../../src/errors.js';
import { collect, collectOutcome, inChunks } from '../helpers/streams.js';

const bytes = (...xs: number[]) => Uint8Array.from(xs);

describe('chunksOf', () => {
  it('accepts a buffer, a sync iterable and an async iterable, dropping empty chunks', async () => {
    expect([...(await collect(chunksOf(bytes(1, 2))))]).toEqual([1, 2]);
    const parts: Uint8Array[] = [];
    for await (const c of chunksOf([bytes(1), bytes(), bytes(2, 3)])) parts.push(c);
    expect(parts.map((p) => p.length)).toEqual([1, 2]);
    expect([...(await collect(chunksOf(inChunks(bytes(1, 2, 3), [2]))))]).toEqual([1, 2, 3]);
    const none: Uint8Array[] = [];
    for await (const c of chunksOf(new Uint8Array(0))) none.push(c);
    expect(none).toEqual([]);
  });

  it.each([
    ['a string', 'abc'],
    ['null', null],
    ['a number', 3],
    ['an iterable of strings', ['abc']],
  ])('refuses %s with EPARAM', async (_, input) => {
    const outcome = await collectOutcome(chunksOf(input as unknown as ByteSource));
    expect(isBackupError(outcome.error, 'EPARAM'), String(outcome.error)).toBe(true);
  });

  it('knows the length of a buffer only', () => {
    expect(knownLength(new Uint8Array(5))).toBe(5);
    expect(knownLength([new Uint8Array(5)])).toBe(-1);
  });
});

describe('ChunkReader', () => {
  const reader = (data: number[], sizes: number[]) => new ChunkReader(chunksOf(inChunks(Uint8Array.from(data), sizes))[Symbol.asyncIterator]());

  it('reads fixed fields across chunk boundaries and reports a short read at the end', async () => {
    const r = reader([1, 2, 3, 4, 5, 6, 7], [1, 2, 1]);
    expect([...(await r.read(3))]).toEqual([1, 2, 3]);
    expect([...(await r.read(2))]).toEqual([4, 5]);
    expect([...(await r.read(4))]).toEqual([6, 7]);
    expect(r.consumed).toBe(7);
    expect(await r.atEnd()).toBe(true);
    expect((await r.read(1)).length).toBe(0);
  });

  it('readSome hands out at most the rest of the current chunk', async () => {
    const r = reader([1, 2, 3, 4, 5], [3]);
    expect([...(await r.readSome(10))]).toEqual([1, 2, 3]);
    expect([...(await r.readSome(1))]).toEqual([4]);
    expect([...(await r.readSome(10))]).toEqual([5]);
    expect((await r.readSome(10)).length).toBe(0);
  });

  it('close lets the source release its resources', async () => {
    let returned = false;
    const source = (async function* () {
      try {
        yield bytes(1, 2);
        yield bytes(3);
      } finally {
        returned = true;
      }
    })();
    const r = new ChunkReader(source);
    await r.read(1);
    await r.close();
    expect(returned).toBe(true);
  });
});

describe('readUintBE', () => {
  it.each([
    [[0xab], 1, 0xab],
    [[0x01, 0x02], 2, 0x0102],
    [[0xff, 0xff, 0xff, 0xff], 4, 0xffffffff],
    [[0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02], 8, 2 ** 32 + 2],
    [[0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 8, Number.MAX_SAFE_INTEGER],
  ])('%j (%i bytes) = %d', (data, width, want) => {
    expect(readUintBE(Uint8Array.from(data), 0, width)).toBe(want);
  });
});
