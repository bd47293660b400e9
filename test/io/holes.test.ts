/**
 * Regression: "sparse files are restored fully allocated (a 20 GiB file with 1 MiB of data
 * restored as 20 GiB on disk; reading its holes took 136 s)".
 *
 * SparseWriter: a 1 GiB file with 1 MiB of scattered data takes about 1 MiB on disk and
 * reads back identical; zeros that do not fill an aligned block are data; chunk boundaries
 * do not change where the holes are; a run of non-zero blocks is one write. dataSegments:
 * the data ranges of a file made with truncate + pwrite, through the addon, and the whole
 * range without it. Sizes on disk are read from st.blocks on the test's own temp dir, on the
 * file system the library writes to.
 */
import { fc } from '@fast-check/vitest';
import { createHash } from 'node:crypto';
import { open, readFile, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { isBackupError } from '../../src/errors.js';
import { dataSegments, HOLE_BLOCK, SparseWriter } from '../../src/io/holes.js';
import { Prng, randomData } from '../helpers/data.js';
import { useTempDir } from '../helpers/tools.js';
import { describeNative } from '../native/native.js';

const MiB = 1 << 20;
const B = HOLE_BLOCK;
const dir = useTempDir();

/** Bytes the file system allocated to `path`. */
async function allocated(path: string): Promise<number> {
  return (await stat(path)).blocks * 512;
}

/** `fh`, counting its write calls; every call goes to the real handle. */
function countingWrites(fh: FileHandle): { fh: FileHandle; writes: () => number } {
  let writes = 0;
  const proxy = new Proxy(fh, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => unknown;
      return (...args: unknown[]) => {
        if (prop === 'write') writes++;
        return method.apply(target, args);
      };
    },
  });
  return { fh: proxy, writes: () => writes };
}

/** Write `chunks` through a SparseWriter into a new file `name`; returns its path and write calls. */
async function writeSparse(name: string, chunks: Uint8Array[]): Promise<{ path: string; writes: number; length: number }> {
  const path = dir.file(name);
  const raw = await open(path, 'wx');
  const counted = countingWrites(raw);
  try {
    const writer = new SparseWriter(counted.fh, path);
    for (const chunk of chunks) await writer.write(chunk);
    const length = await writer.end();
    expect(length).toBe(writer.bytesWritten);
    return { path, writes: counted.writes(), length };
  } finally {
    await raw.close();
  }
}

/** Bytes made of blocks: 'D' a block of random data, 'Z' a block of zeros. */
function blocks(pattern: string, seed = 1): Uint8Array {
  const out = new Uint8Array(pattern.length * B);
  [...pattern].forEach((kind, i) => {
    if (kind === 'D') out.set(randomData(seed + i, B), i * B);
  });
  return out;
}

const concat = (parts: Uint8Array[]): Uint8Array => Buffer.concat(parts);

/** The file at `path` holds exactly `data` (compared at memcmp speed; the message gives the first difference). */
async function expectContent(path: string, data: Uint8Array): Promise<void> {
  const got = await readFile(path);
  if (got.equals(data)) return;
  let at = 0;
  while (at < got.length && at < data.length && got[at] === data[at]) at++;
  expect.fail(`${path}: ${got.length} bytes, ${data.length} expected; first difference at ${at}`);
}

describe('SparseWriter', () => {
  it('writes a 1 GiB file with 1 MiB of scattered data in about 1 MiB of disk, content identical', async () => {
    const logical = 1 << 30;
    const rng = new Prng(20);
    const pieces = Array.from({ length: 128 }, () => ({ at: rng.int(logical - 8192), bytes: randomData(rng.next(), 8192) }));
    const path = dir.file('big');
    const fh = await open(path, 'wx');
    const streamed = createHash('sha256');
    const scratch = Buffer.alloc(MiB + B);
    const started = performance.now();
    try {
      const writer = new SparseWriter(fh, path);
      // Chunks of two odd sizes, so that most boundaries fall inside blocks.
      for (let at = 0, turn = 0; at < logical; turn++) {
        const chunk = scratch.subarray(0, Math.min(logical - at, turn % 2 ? MiB + 4097 : MiB - 3));
        chunk.fill(0);
        for (const p of pieces) {
          const from = Math.max(p.at, at);
          const to = Math.min(p.at + p.bytes.length, at + chunk.length);
          if (from < to) chunk.set(p.bytes.subarray(from - p.at, to - p.at), from - at);
        }
        await writer.write(chunk);
        streamed.update(chunk);
        at += chunk.length;
      }
      expect(await writer.end()).toBe(logical);
    } finally {
      await fh.close();
    }
    const wrote = performance.now() - started;
    expect((await stat(path)).size).toBe(logical);
    const onDisk = await allocated(path);
    expect(onDisk).toBeGreaterThanOrEqual(MiB);
    expect(onDisk).toBeLessThan(2 * MiB);

    const back = createHash('sha256');
    const reader = await open(path, 'r');
    const buf = Buffer.alloc(4 * MiB);
    try {
      for (;;) {
        const { bytesRead } = await reader.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        back.update(buf.subarray(0, bytesRead));
      }
    } finally {
      await reader.close();
    }
    expect(back.digest('hex')).toBe(streamed.digest('hex'));
    console.log(`[holes] 1 GiB with 1 MiB of data: written in ${wrote.toFixed(0)} ms (with generation and hashing), ${(onDisk / MiB).toFixed(2)} MiB on disk`);
  });

  it('writes zeros shorter than a block, or not block-aligned, as data', async () => {
    const data = blocks('DDD');
    data.fill(0, 100, 4000); // a short run inside block 0
    data.fill(0, B + 1000, 2 * B + 1000); // a whole block's worth, straddling blocks 1 and 2
    const { path } = await writeSparse('short-zeros', [data]);
    expect(await allocated(path)).toBe(3 * B);
    await expectContent(path, data);
  });

  it('leaves an aligned zero block as a hole, and the same zeros one byte later as data', async () => {
    const aligned = blocks('DZD');
    const shifted = concat([new Uint8Array([7]), aligned.subarray(0, 3 * B - 1)]);
    const a = await writeSparse('aligned', [aligned]);
    const s = await writeSparse('shifted', [shifted]);
    expect(await allocated(a.path)).toBe(2 * B);
    expect(await allocated(s.path)).toBe(3 * B);
    await expectContent(s.path, shifted);
  });

  it('makes a hole of a zero block split between two chunks', async () => {
    const data = blocks('DZD');
    const { path } = await writeSparse('split-zero', [data.subarray(0, B + 2048), data.subarray(B + 2048)]);
    expect(await allocated(path)).toBe(2 * B);
    await expectContent(path, data);
  });

  it('keeps a block split between two chunks as data when the second part is not zero', async () => {
    const data = blocks('DZD');
    data.fill(9, B + 3000, B + 3100);
    const { path } = await writeSparse('split-data', [data.subarray(0, B + 2048), data.subarray(B + 2048)]);
    expect(await allocated(path)).toBe(3 * B);
    await expectContent(path, data);
  });

  it('writes an all-zero file as one hole of the right size', async () => {
    const length = 10 * MiB + 123;
    const zeros = new Uint8Array(MiB + 5);
    const chunks: Uint8Array[] = [];
    for (let left = length; left > 0; left -= zeros.length) chunks.push(zeros.subarray(0, Math.min(left, zeros.length)));
    const { path, writes } = await writeSparse('zeros', chunks);
    expect(writes).toBe(0);
    expect((await stat(path)).size).toBe(length);
    expect(await allocated(path)).toBe(0);
  });

  it('makes trailing zeros a hole, the length set at the end', async () => {
    const data = blocks('DZZZ');
    const { path, length } = await writeSparse('trailing', [data.subarray(0, B + 10), data.subarray(B + 10)]);
    expect(length).toBe(4 * B);
    expect((await stat(path)).size).toBe(4 * B);
    expect(await allocated(path)).toBe(B);
  });

  it('writes each run of non-zero blocks of a chunk in one call, never one per block', async () => {
    const data = blocks('DDZDZZDDDZ');
    const { path, writes } = await writeSparse('runs', [data]);
    expect(writes).toBe(3);
    await expectContent(path, data);
    const dense = await writeSparse('dense', [randomData(3, MiB)]);
    expect(dense.writes).toBe(1);
  });

  it('reproduces any content, however it is chunked (property)', async () => {
    const part = fc.oneof(
      fc.integer({ min: 1, max: 3 * B }).map((n) => new Uint8Array(n)),
      fc.uint8Array({ minLength: 1, maxLength: 2 * B }),
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(part, { maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 3 * B }), { minLength: 1, maxLength: 6 }), async (parts, cuts) => {
        const data = concat(parts);
        const chunks: Uint8Array[] = [];
        for (let at = 0, i = 0; at < data.length; i++) {
          const n = cuts[i % cuts.length]!;
          chunks.push(data.subarray(at, at + n));
          at += n;
        }
        const { path, length } = await writeSparse(`prop-${run++}`, chunks);
        expect(length).toBe(data.length);
        await expectContent(path, data);
        await rm(path);
      }),
      { numRuns: 150 },
    );
  });

  it('reports a failed write as a BackupError naming the file', async () => {
    const path = dir.file('read-only');
    await writeFile(path, '');
    const fh = await open(path, 'r');
    try {
      const error = await new SparseWriter(fh, path).write(randomData(4, 100)).catch((e: unknown) => e);
      expect(isBackupError(error, 'EIO')).toBe(true);
      expect((error as Error).message).toContain(path);
    } finally {
      await fh.close();
    }
  });
});

/** A 10 MiB file with data at three places, made the usual way: truncate, then pwrite. */
async function sparseFile(name: string): Promise<string> {
  const path = dir.file(name);
  const fh = await open(path, 'wx');
  try {
    await fh.truncate(10 * MiB);
    await fh.write(randomData(5, 100), 0, 100, MiB);
    await fh.write(randomData(6, B), 0, B, 5 * MiB + B);
    await fh.write(new Uint8Array([1]), 0, 1, 10 * MiB - 1);
  } finally {
    await fh.close();
  }
  return path;
}

async function segmentsOf(path: string, start: number, end: number, native: boolean): Promise<Array<[number, number]>> {
  const fh = await open(path, 'r');
  try {
    return [...dataSegments(fh.fd, start, end, path, { native })];
  } finally {
    await fh.close();
  }
}

describe('dataSegments without the addon', () => {
  it('reports the whole range as data', async () => {
    const path = await sparseFile('plain');
    expect(await segmentsOf(path, 0, 10 * MiB, false)).toEqual([[0, 10 * MiB]]);
    expect(await segmentsOf(path, 7, 99, false)).toEqual([[7, 99]]);
    expect(await segmentsOf(path, 99, 99, false)).toEqual([]);
  });
});

describeNative('dataSegments through the addon', () => {
  it('finds the data ranges of a file made with truncate + pwrite', async () => {
    const path = await sparseFile('native');
    expect(await segmentsOf(path, 0, 10 * MiB, true)).toEqual([
      [MiB, MiB + B],
      [5 * MiB + B, 5 * MiB + 2 * B],
      [10 * MiB - B, 10 * MiB],
    ]);
  });

  it('clips the ranges to [start, end)', async () => {
    const path = await sparseFile('clipped');
    expect(await segmentsOf(path, MiB + 50, 10 * MiB - 10, true)).toEqual([
      [MiB + 50, MiB + B],
      [5 * MiB + B, 5 * MiB + 2 * B],
      [10 * MiB - B, 10 * MiB - 10],
    ]);
    expect(await segmentsOf(path, 2 * MiB, 5 * MiB, true)).toEqual([]);
    expect(await segmentsOf(path, 5 * MiB + B + 1, 5 * MiB + B + 2, true)).toEqual([[5 * MiB + B + 1, 5 * MiB + B + 2]]);
  });

  it('finds the data SparseWriter wrote, and a reader using it sees the same bytes', async () => {
    const data = blocks('ZDDZZZDZZ', 40);
    data.fill(3, 8 * B + 5, 8 * B + 6);
    const { path } = await writeSparse('written', [data.subarray(0, 5000), data.subarray(5000)]);
    expect(await segmentsOf(path, 0, data.length, true)).toEqual([
      [B, 3 * B],
      [6 * B, 7 * B],
      [8 * B, 9 * B],
    ]);
    const fh = await open(path, 'r');
    const rebuilt = new Uint8Array(data.length);
    try {
      for (const [from, to] of dataSegments(fh.fd, 0, data.length, path, { native: true })) {
        await fh.read(rebuilt, from, to - from, from);
      }
    } finally {
      await fh.close();
    }
    expect(Buffer.from(rebuilt).equals(data)).toBe(true);
  });

  it('reports a bad descriptor as a BackupError naming the file', () => {
    let error: unknown;
    try {
      [...dataSegments(-1, 0, 10, '/some/file', { native: true })];
    } catch (e) {
      error = e;
    }
    expect(isBackupError(error, 'EIO')).toBe(true);
    expect((error as Error).message).toMatch(/\/some\/file.*EBADF/);
  });
});
