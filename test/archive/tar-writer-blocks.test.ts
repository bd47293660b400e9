/**
 * The two pieces under the tar writer's output: a block as an independent gzip member at a
 * level chosen from its bytes (gzip-members.ts), and the ordered, bounded queue of writes
 * (ordered-writes.ts), including the regression it prevents: a producer waiting for room
 * while a write fails must be woken by that failure, not wait forever.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { blockLevel, gzipMember } from '../../src/archive/gzip-members.js';
import { OrderedWrites } from '../../src/archive/ordered-writes.js';
import { encodeTarHeader } from '../../src/archive/tar-header.js';
import { Prng } from '../helpers/data.js';

const MiB = 1 << 20;
const text = (n: number): Buffer => Buffer.from('export const answer = compute(42); // a line of source\n'.repeat(Math.ceil(n / 55))).subarray(0, n);

/** A block of tar entries: small random files, each with its header and padding, as a backup of photos makes. */
function smallRandomFiles(seed: number, fileSize: number): Buffer {
  const rng = new Prng(seed);
  const parts: Uint8Array[] = [];
  let n = 0;
  for (let i = 0; n < MiB; i++) {
    const h = encodeTarHeader({ name: `photos/img-${i}.jpg`, type: 'file', mode: 0o644, size: fileSize, mtime: 1_700_000_000 });
    const pad = new Uint8Array((512 - (fileSize % 512)) % 512);
    parts.push(h, rng.bytes(fileSize), pad);
    n += h.length + fileSize + pad.length;
  }
  return Buffer.concat(parts).subarray(0, MiB);
}

describe('blockLevel', () => {
  it('stores random blocks and deflates text', () => {
    expect(blockLevel(new Prng(1).bytes(MiB))).toBe(0);
    expect(blockLevel(text(MiB))).toBe(1);
  });

  it('stores a block of small random files: their tar headers and padding do not change the verdict', () => {
    expect(blockLevel(smallRandomFiles(2, 16_000))).toBe(0);
  });

  it('deflates a block holding a stretch of text longer than the sample stride, wherever it is', () => {
    for (const at of [0, 300_001, MiB - 160 * 1024]) {
      const block = Buffer.from(new Prng(3).bytes(MiB));
      text(160 * 1024).copy(block, at);
      expect(blockLevel(block), `text at ${at}`).toBe(1);
    }
  });

  it('deflates blocks too short to sample (the last block of an archive)', () => {
    expect(blockLevel(new Prng(4).bytes(20_000))).toBe(1);
  });
});

describe('gzipMember', () => {
  it('is one complete gzip member: zlib in one call at the block level, its output buffer holding the whole member', async () => {
    for (const [block, level] of [[text(MiB), 1], [new Prng(5).bytes(MiB), 0], [smallRandomFiles(6, 3000), 1], [new Uint8Array(1024), 1]] as const) {
      const member = await gzipMember(block);
      expect(gunzipSync(member).equals(Buffer.from(block))).toBe(true);
      expect(member.equals(gzipSync(block, { level, chunkSize: block.length + 64 * 1024 }))).toBe(true);
    }
  });
});

/** A promise with its settlers. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Whether `p` has settled once everything already queued on the event loop ran. */
async function settledYet(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((r) => setImmediate(r));
  return done;
}

const bytes = (s: string): Uint8Array => Buffer.from(s);

describe('OrderedWrites', () => {
  it('writes in queue order whatever order the computations finish in', async () => {
    const written: string[] = [];
    const q = new OrderedWrites(async (b) => void written.push(Buffer.from(b).toString()), 8);
    const parts = ['a', 'b', 'c', 'd'].map(() => deferred<Uint8Array>());
    for (const p of parts) await q.push(p.promise);
    for (const [i, s] of [[3, 'd'], [1, 'b'], [2, 'c'], [0, 'a']] as const) parts[i].resolve(bytes(s));
    await q.flush();
    expect(written).toEqual(['a', 'b', 'c', 'd']);
  });

  it('makes the producer wait while more than `limit` pieces are outstanding', async () => {
    const gates = [deferred<void>(), deferred<void>(), deferred<void>()];
    let calls = 0;
    const q = new OrderedWrites(() => gates[calls++]!.promise, 2);
    await q.push(Promise.resolve(bytes('1')));
    await q.push(Promise.resolve(bytes('2')));
    const third = q.push(Promise.resolve(bytes('3')));
    expect(await settledYet(third)).toBe(false);
    gates[0]!.resolve();
    expect(await settledYet(third)).toBe(true);
    gates[1]!.resolve();
    gates[2]!.resolve();
    await q.flush();
  });

  it('regression: a producer waiting for room is woken by a failed write, and nothing after it is written', async () => {
    const first = deferred<void>();
    const calls: string[] = [];
    const q = new OrderedWrites((b) => {
      calls.push(Buffer.from(b).toString());
      return calls.length === 1 ? first.promise : Promise.resolve();
    }, 1);
    await q.push(Promise.resolve(bytes('1')));
    const waiting = q.push(Promise.resolve(bytes('2')));
    first.reject(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }));
    await expect(waiting).rejects.toMatchObject({ code: 'ENOSPC' });
    await expect(q.push(Promise.resolve(bytes('3'))).then(() => q.flush())).rejects.toMatchObject({ code: 'ENOSPC' });
    await q.settled();
    expect(calls).toEqual(['1']);
  });

  it('a failed computation fails the queue at its place', async () => {
    const written: string[] = [];
    const q = new OrderedWrites(async (b) => void written.push(Buffer.from(b).toString()), 4);
    await q.push(Promise.resolve(bytes('a')));
    await q.push(Promise.reject(new Error('zlib failed')));
    await q.push(Promise.resolve(bytes('c')));
    await expect(q.flush()).rejects.toThrow('zlib failed');
    expect(written).toEqual(['a']);
  });
});
