// The file-to-file patch copies COPY commands inside the kernel where it can and through
// memory where it cannot (no addon, the js engine, two file systems): whichever way, its
// output is the streaming patch's byte for byte, and so are its errors, in the same order.
import { statSync } from 'node:fs';
import { mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { patchFile } from '../../src/engine/files.js';
import { patchIntoFile, patchToFile } from '../../src/engine/file-patch.js';
import { nativeAvailable } from '../../src/engine/select.js';
import { isBackupError } from '../../src/errors.js';
import { loadAddon, type NativeAddon } from '../../src/io/native-addon.js';
import { DeltaWriter } from '../../src/rsync/delta-writer.js';
import { patch } from '../../src/rsync/patch.js';
import { sameBytes } from '../helpers/bytes.js';
import { randomData } from '../helpers/data.js';
import { RDIFF_EXIT, runRdiff } from '../helpers/rdiff.js';
import { collect, collectOutcome } from '../helpers/streams.js';
import { onCi, requireTool, useTempDir } from '../helpers/tools.js';

const ENGINES = ['js', ...(nativeAvailable() || onCi ? ['native' as const] : [])] as const;
const BASIS = randomData(71, 3 << 20);

type Command = { literal: Uint8Array } | { offset: number; length: number };

function deltaOf(commands: readonly Command[]): Uint8Array {
  const w = new DeltaWriter();
  for (const c of commands) {
    if ('literal' in c) w.literal(c.literal, 0, c.literal.length);
    else w.copy(c.offset, c.length);
  }
  w.end();
  return Buffer.concat(w.take(true));
}

function resultOf(basis: Uint8Array, commands: readonly Command[]): Uint8Array {
  return Buffer.concat(commands.map((c) => ('literal' in c ? c.literal : basis.subarray(c.offset, c.offset + c.length))));
}

describe.each(ENGINES)('patchFile (%s engine)', (engine) => {
  const dir = useTempDir();
  beforeAll(async () => {
    await writeFile(dir.file('basis'), BASIS);
  });

  it('COPYs of every size (short, window-sized, several slices long, overlapping, backwards) and literals: the streaming patch’s bytes', async () => {
    const big = randomData(72, 20 << 20);
    await writeFile(dir.file('big'), big);
    const commands: Command[] = [
      { offset: 5, length: (20 << 20) - 5 },
      { literal: randomData(73, 70_000) },
      { offset: 1000, length: 10 },
      { offset: 0, length: 64 << 10 },
      { offset: (64 << 10) - 1, length: (9 << 20) + 3 },
      { literal: Uint8Array.of(1) },
      { offset: 3 << 20, length: (1 << 20) + 1 },
      { offset: 0, length: 1 },
    ];
    await writeFile(dir.file('big.delta'), deltaOf(commands));
    await patchFile(dir.file('big'), dir.file('big.delta'), dir.file('big.out'), { engine, overwrite: true });
    expect(sameBytes(await readFile(dir.file('big.out')), resultOf(big, commands))).toBe('same');
  });

  it('random deltas: the same bytes as the streaming patch', async () => {
    const command = fc.oneof(
      fc.record({ literal: fc.uint8Array({ minLength: 1, maxLength: 3000 }) }),
      fc
        .tuple(fc.nat(BASIS.length - 1), fc.oneof(fc.integer({ min: 1, max: 4096 }), fc.integer({ min: 60_000, max: 2 << 20 })))
        .map(([offset, length]) => ({ offset, length: Math.min(length, BASIS.length - offset) })),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 30 }), async (commands) => {
        const delta = deltaOf(commands);
        await writeFile(dir.file('r.delta'), delta);
        await patchFile(dir.file('basis'), dir.file('r.delta'), dir.file('r.out'), { engine, overwrite: true });
        const streamed = await collect(patch(BASIS, delta));
        expect(sameBytes(await readFile(dir.file('r.out')), streamed)).toBe('same');
      }),
      { numRuns: 25 },
    );
  });

  // With COPYs in flight, a later command was decoded before an earlier COPY's failure
  // surfaced: the error must still be the first fault in delta order, as rdiff reports it.
  it('a COPY past the end of the basis is ETRUNCATED naming its size, before a corrupt command after it', async () => {
    const w = new DeltaWriter();
    w.copy(0, 1 << 20);
    w.copy(BASIS.length - 10, 100_000);
    const good = Buffer.concat(w.take(true));
    const delta = Buffer.concat([good, Uint8Array.of(0x60, 0)]);
    await writeFile(dir.file('past.delta'), delta);
    const before = (await readdir(dir.path)).sort();
    const e = await patchFile(dir.file('basis'), dir.file('past.delta'), dir.file('never'), { engine }).catch((x: unknown) => x);
    expect(isBackupError(e, 'ETRUNCATED'), String(e)).toBe(true);
    expect((e as Error).message).toBe(`${dir.file('past.delta')}: delta copies 100000 bytes at offset ${BASIS.length - 10}, past the end of the basis (${BASIS.length} bytes)`);
    expect((e as { exitCode: number }).exitCode).toBe(RDIFF_EXIT.ETRUNCATED);
    const { error } = await collectOutcome(patch(BASIS, delta));
    expect((e as Error).message).toBe(`${dir.file('past.delta')}: ${(error as Error).message}`);
    expect((await readdir(dir.path)).sort()).toEqual(before);
  });

  it('a corrupt command after large COPYs in flight fails and leaves no output nor temporary file', async () => {
    const w = new DeltaWriter();
    for (let i = 0; i < 6; i++) w.copy(0, BASIS.length);
    const delta = Buffer.concat([...w.take(true), Uint8Array.of(0x45, 0, 0)]);
    await writeFile(dir.file('corrupt.delta'), delta);
    const before = (await readdir(dir.path)).sort();
    const e = await patchFile(dir.file('basis'), dir.file('corrupt.delta'), dir.file('never'), { engine }).catch((x: unknown) => x);
    expect(isBackupError(e, 'ECORRUPT'), String(e)).toBe(true);
    expect((await readdir(dir.path)).sort()).toEqual(before);
  });

  // The caller closes both files as soon as the patch ends: a copy still running would then
  // write through a closed descriptor, or into another file that reused its number.
  it.runIf(engine === 'native')('a failed patch ends only when no copy is running', async () => {
    const { addon } = loadAddon();
    let running = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const held = Object.create(addon!) as NativeAddon;
    held.copyFileRange = (...args) => {
      running++;
      return addon!
        .copyFileRange(...args)
        .then(async (n) => (await gate, n))
        .finally(() => running--);
    };
    const w = new DeltaWriter();
    for (let i = 0; i < 3; i++) w.copy(0, BASIS.length);
    const delta = Buffer.concat([...w.take(true), Uint8Array.of(0x60)]);
    const basis = await open(dir.file('basis'), 'r');
    const out = await open(dir.file('held.out'), 'w');
    try {
      let settled = false;
      const failing = patchIntoFile({ basis, basisPath: 'basis', out, outPath: 'out' }, delta, held)
        .catch((x: unknown) => x)
        .finally(() => (settled = true));
      while (running < 3 && !settled) await new Promise((r) => setImmediate(r));
      expect(running).toBe(3);
      expect(settled).toBe(false);
      release();
      expect(isBackupError(await failing, 'ECORRUPT')).toBe(true);
      expect(running).toBe(0);
    } finally {
      await basis.close();
      await out.close();
    }
  });

  it('reads the delta from a stream, and refuses an existing output without overwrite', async () => {
    const commands: Command[] = [{ offset: 100, length: 200_000 }, { literal: randomData(74, 100) }];
    const chunks = [deltaOf(commands)].flatMap((d) => [d.subarray(0, 7), d.subarray(7)]);
    await patchToFile(dir.file('basis'), chunks, dir.file('s.out'), { engine });
    expect(sameBytes(await readFile(dir.file('s.out')), resultOf(BASIS, commands))).toBe('same');
    const e = await patchToFile(dir.file('basis'), deltaOf(commands), dir.file('s.out'), { engine }).catch((x: unknown) => x);
    expect(isBackupError(e, 'EEXIST'), String(e)).toBe(true);
  });
});

// /dev/shm is a tmpfs and the OS temp dir usually is not: copy_file_range between two file
// systems fails with EXDEV, and the patch must go on through memory.
const shm = '/dev/shm';
const otherFs = ((): boolean => {
  try {
    return statSync(shm).isDirectory() && statSync(shm).dev !== statSync(tmpdir()).dev;
  } catch {
    return false;
  }
})();

describe.skipIf(!otherFs)(`patchFile across file systems${otherFs ? '' : ' (skipped: /dev/shm is missing or on the temp dir’s file system)'}`, () => {
  const dir = useTempDir();
  let shmDir = '';
  beforeAll(async () => {
    shmDir = await mkdtemp(join(shm, 'ibt-test-'));
  });
  afterAll(async () => {
    await rm(shmDir, { recursive: true, force: true });
  });

  it.each(ENGINES)('a basis on tmpfs and an output elsewhere (EXDEV): the same bytes (%s engine)', async (engine) => {
    const commands: Command[] = [{ offset: 0, length: BASIS.length }, { literal: randomData(75, 5000) }, { offset: 7, length: 1 << 20 }];
    await writeFile(join(shmDir, 'basis'), BASIS);
    await writeFile(dir.file('x.delta'), deltaOf(commands));
    await patchFile(join(shmDir, 'basis'), dir.file('x.delta'), dir.file('x.out'), { engine, overwrite: true });
    expect(sameBytes(await readFile(dir.file('x.out')), resultOf(BASIS, commands))).toBe('same');
    await patchFile(dir.file('x.out'), dir.file('x.delta'), join(shmDir, 'x.out'), { engine, overwrite: true });
    const twice = resultOf(resultOf(BASIS, commands), commands);
    expect(sameBytes(await readFile(join(shmDir, 'x.out')), twice)).toBe('same');
  });
});

const rdiff = requireTool('rdiff');

describe.skipIf(rdiff.skip)(`patchFile against rdiff patch${rdiff.note}`, () => {
  const dir = useTempDir();

  it.each(ENGINES)('a COPY-heavy delta made by rdiff: the same file as rdiff patch writes (%s engine)', async (engine) => {
    const next = Buffer.concat([BASIS.subarray(0, 1 << 20), randomData(76, 3000), BASIS.subarray(5000, 2 << 20), BASIS.subarray(0, 70_000)]);
    await writeFile(dir.file('basis'), BASIS);
    await writeFile(dir.file('next'), next);
    for (const args of [['signature', 'basis', 'sig'], ['delta', 'sig', 'next', 'delta'], ['patch', 'basis', 'delta', 'theirs']]) {
      expect((await runRdiff(['-f', ...args], { cwd: dir.path })).code).toBe(0);
    }
    expect(statSync(dir.file('delta')).size).toBeLessThan(10_000);
    await patchFile(dir.file('basis'), dir.file('delta'), dir.file('ours'), { engine, overwrite: true });
    expect(sameBytes(await readFile(dir.file('ours')), await readFile(dir.file('theirs')))).toBe('same');
    expect(sameBytes(await readFile(dir.file('ours')), next)).toBe('same');
  });
});
