/**
 * What is specific to the native engine, on real files in a temp dir: its signatures and
 * deltas are byte-identical to the TypeScript engine's and to `rdiff`'s however the input
 * is chunked (librsync is fed our chunks, not rdiff's buffers); its patch reads a file
 * basis through the descriptor and a memory basis in place, and hands other bases to the
 * TypeScript engine; a delta against an empty basis is chunked as rdiff 2.3.2 chunks it; a
 * `maxLiteral` librsync does not use is handed to the TypeScript engine; several jobs run at
 * once with correct results, and the event loop keeps running while librsync works. The
 * parametrized conformance suite in test/rsync covers every option over every engine.
 */
import { open, readFile, writeFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { jsEngine } from '../../src/engine/js-engine.js';
import { deltaFile, patchFile, signatureFile } from '../../src/engine/files.js';
import type { SignatureOptions } from '../../src/rsync/index.js';
import { sameBytes } from '../helpers/bytes.js';
import { insertions, logText, randomData, scatteredOverwrites } from '../helpers/data.js';
import { runRdiff } from '../helpers/rdiff.js';
import { collect, randomChunks } from '../helpers/streams.js';
import { requireTool, useTempDir } from '../helpers/tools.js';
import { describeNative } from './native.js';

const rdiff = requireTool('rdiff');

interface Case {
  name: string;
  basis: Uint8Array;
  next: Uint8Array;
  options: SignatureOptions;
  rdiffArgs: string[];
}

const text = logText(21, 300_000);
const random = randomData(22, 200_000);
const CASES: Case[] = [
  { name: 'log text, inserts, defaults', basis: text, next: insertions(text, 23, 12), options: {}, rdiffArgs: [] },
  {
    name: 'random, overwrites, rollsum + MD4, -b 777 -S 8',
    basis: random,
    next: scatteredOverwrites(random, 24, 30),
    options: { weak: 'rollsum', strong: 'md4', blockLength: 777, strongLength: 8 },
    rdiffArgs: ['-R', 'rollsum', '-H', 'md4', '-b', '777', '-S', '8'],
  },
  {
    name: 'nothing matches (literal runs over 32768), -S -1',
    basis: random,
    next: randomData(25, 150_000),
    options: { strongLength: -1 },
    rdiffArgs: ['-S', '-1'],
  },
  { name: 'empty basis (slack delta)', basis: new Uint8Array(0), next: randomData(26, 70_000), options: {}, rdiffArgs: [] },
  { name: 'empty new file', basis: text, next: new Uint8Array(0), options: { weak: 'rollsum' }, rdiffArgs: ['-R', 'rollsum'] },
];

describeNative(`native engine: same bytes as js and rdiff${rdiff.note}`, ({ engine, addon }) => {
  const dir = useTempDir();

  for (const [i, c] of CASES.entries()) {
    it.skipIf(rdiff.skip)(c.name, async () => {
      const [basis, next, sigR, deltaR, sigN, deltaN, outN] = ['basis', 'new', 'sig.r', 'delta.r', 'sig.n', 'delta.n', 'out.n'].map((n) => dir.file(`${i}-${n}`));
      await writeFile(basis!, c.basis);
      await writeFile(next!, c.next);
      expect((await runRdiff(['-f', ...c.rdiffArgs, 'signature', basis!, sigR!])).code).toBe(0);
      expect((await runRdiff(['-f', 'delta', sigR!, next!, deltaR!])).code).toBe(0);
      const rdiffSig = await readFile(sigR!);
      const rdiffDelta = await readFile(deltaR!);

      // Through the file helpers, as users call them: the basis read by the addon in ranges,
      // COPYs copied in the kernel.
      await signatureFile(basis!, sigN!, { ...c.options, engine: 'native' });
      await deltaFile(sigN!, next!, deltaN!, { engine: 'native' });
      await patchFile(basis!, deltaN!, outN!, { engine: 'native' });
      expect(sameBytes(await readFile(sigN!), rdiffSig)).toBe('same');
      expect(sameBytes(await readFile(deltaN!), rdiffDelta)).toBe('same');
      expect(sameBytes(await readFile(outN!), c.next)).toBe('same');

      // In memory, in odd chunkings, against the TypeScript engine.
      const options = { ...c.options, fileSize: c.basis.length };
      for (const seed of [1, 2]) {
        const sig = await collect(engine.signature(randomChunks(c.basis, seed, 70_000), options));
        expect(sameBytes(sig, await collect(jsEngine.signature(c.basis, options)))).toBe('same');
        const delta = await collect(engine.delta(randomChunks(sig, seed, 5000), randomChunks(c.next, seed + 10, 40_000)));
        expect(sameBytes(delta, await collect(jsEngine.delta(sig, c.next)))).toBe('same');
        expect(sameBytes(delta, rdiffDelta)).toBe('same');
        expect(sameBytes(await collect(engine.patch(c.basis, randomChunks(delta, seed, 3000))), c.next)).toBe('same');
      }
      expect(addon.liveJobs()).toBe(0);
    });
  }

  it('patch reads any other random-access basis through the TypeScript engine', async () => {
    const next = insertions(text, 31, 5);
    const delta = await collect(engine.delta(await collect(engine.signature(text)), next));
    const reads: number[] = [];
    const basis = {
      async read(buffer: Uint8Array, offset: number, length: number, position: number) {
        reads.push(position);
        const n = Math.max(0, Math.min(length, text.length - position));
        buffer.set(text.subarray(position, position + n), offset);
        return { bytesRead: n };
      },
    };
    expect(sameBytes(await collect(engine.patch(basis, delta)), next)).toBe('same');
    expect(reads.length).toBeGreaterThan(0);
  });

  it('a maxLiteral other than librsync 2.3.2\'s gives the TypeScript engine\'s bytes', async () => {
    const sig = await collect(engine.signature(random));
    const next = randomData(32, 200_000);
    for (const maxLiteral of [65533, 1000]) {
      const native = await collect(engine.delta(sig, next, { maxLiteral }));
      expect(sameBytes(native, await collect(jsEngine.delta(sig, next, { maxLiteral })))).toBe('same');
      expect(sameBytes(await collect(engine.patch(random, native)), next)).toBe('same');
    }
  });

  it('an empty signature with a 2 GiB block length costs no more memory than its input', async () => {
    const sig = Uint8Array.of(0x72, 0x73, 0x01, 0x47, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 32);
    const next = randomData(33, 100_000);
    const before = process.memoryUsage.rss();
    const native = await collect(engine.delta(sig, next));
    expect((process.memoryUsage.rss() - before) / 2 ** 20).toBeLessThan(64);
    expect(sameBytes(native, await collect(jsEngine.delta(sig, next)))).toBe('same');
  });

  it('eight jobs at once give the results of eight jobs one at a time', async () => {
    const files = Array.from({ length: 8 }, (_, i) => randomData(40 + i, 3_000_000 + i * 1000));
    const serial: Buffer[] = [];
    for (const f of files) serial.push(await collect(engine.signature(f, { blockLength: 1024 })));
    const parallel = await Promise.all(files.map((f) => collect(engine.signature(f, { blockLength: 1024 }))));
    parallel.forEach((sig, i) => expect(sameBytes(sig, serial[i]!)).toBe('same'));
    const patched = await Promise.all(
      files.map(async (f, i) => {
        const next = scatteredOverwrites(f, i, 20);
        const delta = await collect(engine.delta(serial[i]!, next));
        return sameBytes(await collect(engine.patch(f, delta)), next);
      }),
    );
    expect(patched).toEqual(Array(8).fill('same'));
  });

  it('the event loop keeps running while librsync works', async () => {
    const big = randomData(50, 64 * 1024 * 1024);
    let last = performance.now();
    let worstGap = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      worstGap = Math.max(worstGap, now - last);
      last = now;
    }, 2);
    try {
      // One 64 MiB chunk in one librsync job (an iterable, so no size is known and the
      // signature is not cut into stripes): the TypeScript engine would hold the event
      // loop for all of it.
      const started = performance.now();
      const sig = await collect(engine.signature([big], { blockLength: 512 }));
      const took = performance.now() - started;
      expect(sig.length).toBeGreaterThan(12);
      expect(took, 'the job must be long enough to tell').toBeGreaterThan(100);
      // Blocked, the loop would see one gap as long as the whole job.
      expect(worstGap).toBeLessThan(Math.max(50, took / 2));
    } finally {
      clearInterval(timer);
    }
  });

  it('a file basis is read by descriptor, and a closed handle falls back and fails like js', async () => {
    const path = dir.file('fd-basis');
    await writeFile(path, random);
    const next = scatteredOverwrites(random, 60, 10);
    const delta = await collect(engine.delta(await collect(engine.signature(random)), next));
    const handle = await open(path, 'r');
    expect(sameBytes(await collect(engine.patch(handle, delta)), next)).toBe('same');
    await handle.close();
    const closedNative = await collect(engine.patch(handle, delta)).catch((e: unknown) => e);
    const closedJs = await collect(jsEngine.patch(handle, delta)).catch((e: unknown) => e);
    expect(closedNative).toBeInstanceOf(Error);
    expect((closedNative as Error).message).toBe((closedJs as Error).message);
  });
});
