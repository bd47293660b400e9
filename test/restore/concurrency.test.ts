/**
 * What writing many files at once could break in a restore, each test named after the risk:
 * a failure in one file while others are in flight (a damaged file, a full disk), an abort
 * with a full pool of writers, and a tree that depends on the order its files were written
 * in. The directory-swapping campaign (`race.test.ts`) runs with the writers in flight too.
 */
import { spawnSync } from 'node:child_process';
import { chmod, cp, lutimes, mkdir, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fc } from '@fast-check/vitest';
import { beforeAll, describe, expect, it } from 'vitest';
import { BackupError, fullBackup, incrementalBackup, restoreBackup, type Compression } from '../../src/index.js';
import { Prng } from '../helpers/data.js';
import { onCi, useTempDir, withTempDir } from '../helpers/tools.js';
import { expectSameTree, snapshot } from '../backup/helpers.js';
import { describeTree, editState, hashOf, listAll, temporaryFiles } from './helpers.js';

async function failure(p: Promise<unknown>): Promise<BackupError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e, 'expected the restore to fail').toBeInstanceOf(BackupError);
  return e as BackupError;
}

/**
 * Every file under `target` is the source's file of the same path, byte for byte, with its
 * mode and time (a failed restore leaves its directories unfinished: they are not compared).
 * Returns how many files there are.
 */
async function presentFilesAreRight(target: string, src: string): Promise<number> {
  const [got, want] = await Promise.all([snapshot(target), snapshot(src)]);
  let n = 0;
  for (const [rel, g] of got) {
    if (g.type === 'dir') continue;
    expect(g, `${rel} is not the source's`).toEqual(want.get(rel));
    n++;
  }
  return n;
}

describe('a restore with many files in flight', () => {
  const tmp = useTempDir();
  const src = (): string => tmp.file('src');
  const work = (): string => tmp.file('work');
  let n = 0;
  const fresh = (): string => tmp.file(`t${++n}`);

  beforeAll(async () => {
    const rng = new Prng(5);
    for (let d = 0; d < 4; d++) {
      await mkdir(join(src(), `d${d}`), { recursive: true });
      for (let f = 0; f < 75; f++) await writeFile(join(src(), `d${d}`, `f${f}`), rng.bytes(1000 + rng.int(5000)));
    }
    await fullBackup(src(), { workDir: work(), compression: 'none' });
  });

  it('a file that fails its hash check while others are in flight: always EHASH naming the first damaged file, no temporary file, nothing wrong', async () => {
    const copy = tmp.file('work-forged');
    await cp(work(), copy, { recursive: true });
    const id = (await readdir(join(copy, 'src'))).find((f) => f.endsWith('.state.json.gz'))!.replace('.state.json.gz', '');
    // Two damaged files next to each other (a consistent forgery: the state lies about their
    // hash), in flight together: whichever writer fails first, the first in the archive is named.
    await editState(copy, 'src', id, async (state) => {
      for (const path of ['d1/f40', 'd1/f41']) {
        const e = state.entries.find((x) => x.path === path)!;
        if (e.type !== 'file') throw new Error('fixture');
        e.hash = await hashOf(Buffer.from(`not ${path}`));
      }
    });
    const messages = new Set<string>();
    for (let round = 0; round < 4; round++) {
      const target = fresh();
      const err = await failure(restoreBackup('src', target, { workDir: copy, concurrency: 16 }));
      expect(err.code, err.message).toBe('EHASH');
      expect(err.path).toBe('d1/f40');
      messages.add(err.message);
      expect(await temporaryFiles(target), 'temporary files left').toEqual([]);
      const present = await listAll(target);
      expect(present, 'a damaged file was placed').not.toContain(join(target, 'd1/f40'));
      expect(present).not.toContain(join(target, 'd1/f41'));
      expect(await presentFilesAreRight(target, src())).toBeGreaterThan(0);
    }
    expect([...messages], 'the same damage gives the same error').toHaveLength(1);
  });

  it('an abort while 16 files are in flight: EABORTED once they settle, no temporary file, every file placed is right', async () => {
    const target = fresh();
    const abort = new AbortController();
    let afterAbort = 0;
    let reported = 0;
    const err = await failure(
      restoreBackup('src', target, {
        workDir: work(),
        concurrency: 16,
        signal: abort.signal,
        onProgress: () => {
          reported++;
          if (abort.signal.aborted) afterAbort++;
          else abort.abort();
        },
      }),
    );
    expect(err.code).toBe('EABORTED');
    // The files in flight when the abort came finish (each complete, or not placed at all).
    expect(afterAbort, 'files in flight when the abort came').toBeGreaterThanOrEqual(8);
    expect(await temporaryFiles(target), 'temporary files left').toEqual([]);
    expect(await presentFilesAreRight(target, src())).toBe(reported);
    expect(reported).toBeLessThan(300);
    await rm(target, { recursive: true });
  });

  it('restores the whole tree with any number of writers, 1 to 64', async () => {
    const expected = await snapshot(src());
    for (const concurrency of [1, 2, 64]) {
      const target = fresh();
      const report = await restoreBackup('src', target, { workDir: work(), concurrency });
      expect(report.stats.files).toBe(300);
      expectSameTree(await snapshot(target), expected, `concurrency ${concurrency}`);
    }
  });

  it('progress counts every file once, in order of completion: entries 1 to N, bytes never decreasing', async () => {
    const seen: { path?: string; entries: number; bytes: number }[] = [];
    await restoreBackup('src', fresh(), { workDir: work(), onProgress: (e) => seen.push(e) });
    expect(seen.map((e) => e.entries)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(new Set(seen.map((e) => e.path)).size).toBe(300);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.bytes).toBeGreaterThan(seen[i - 1]!.bytes);
  });

  it('refuses a concurrency that is not a positive integer (EPARAM), before touching the target', async () => {
    for (const concurrency of [0, -1, 1.5, Number.NaN]) {
      const target = fresh();
      const err = await failure(restoreBackup('src', target, { workDir: work(), concurrency }));
      expect(err.code).toBe('EPARAM');
      expect(await listAll(tmp.path)).not.toContain(target);
    }
  });
});

const canMount = process.getuid?.() === 0 && spawnSync('mount', ['--version']).status === 0;
if (!canMount && onCi) {
  it('tmpfs can be mounted (required when CI=true: the full-disk restore test needs it)', () => {
    throw new Error('the full-disk restore test needs root and mount(8)');
  });
}

describe.skipIf(!canMount)(`a full disk under a restore with many files in flight${canMount ? '' : ' (skipped: mounting a tmpfs needs root)'}`, () => {
  it('is ENOSPC naming a file or directory of the target, leaves no temporary file, no wrong file and no open descriptor', () =>
    withTempDir(async (tmp) => {
      const src = tmp.file('src');
      const work = tmp.file('work');
      const rng = new Prng(21);
      for (let d = 0; d < 3; d++) {
        await mkdir(join(src, `d${d}`), { recursive: true });
        for (let f = 0; f < 40; f++) await writeFile(join(src, `d${d}`, `f${f}`), rng.bytes(8000 + rng.int(40_000)));
      }
      await fullBackup(src, { workDir: work, compression: 'none' });
      const disk = tmp.file('disk');
      await mkdir(disk);
      const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', disk]);
      expect(mounted.status, String(mounted.stderr)).toBe(0);
      const openFds = async (): Promise<number> => (await readdir('/proc/self/fd')).length;
      const fdsBefore = await openFds();
      try {
        let failed = 0;
        for (let round = 0; round < 6; round++) {
          // Filled to a different level each round, so the disk runs out at different files.
          await writeFile(join(disk, 'filler'), Buffer.alloc(round * 300_000));
          const target = join(disk, 'target');
          const err = await restoreBackup('src', target, { workDir: work, concurrency: 16 }).then(
            () => undefined,
            (e: unknown) => e,
          );
          if (err !== undefined) {
            failed++;
            expect(err).toBeInstanceOf(BackupError);
            const e = err as BackupError;
            expect(e.code, e.message).toBe('ENOSPC');
            expect(e.path?.startsWith(target), e.message).toBe(true);
            expect(await temporaryFiles(target), 'temporary files left').toEqual([]);
            await presentFilesAreRight(target, src);
          }
          await rm(target, { recursive: true, force: true });
        }
        expect(failed, 'some rounds must run out of space').toBeGreaterThan(0);
        expect(await openFds(), 'file descriptors left open by failed restores').toBe(fdsBefore);
      } finally {
        spawnSync('umount', ['-l', disk]);
      }
    }));
});

/** A file of the generated tree: where, what, and what the two incrementals do to it. */
interface GenFile {
  dir: string;
  name: string;
  kind: 'empty' | 'small' | 'holes' | 'medium' | 'large';
  seed: number;
  mode: number;
  mtime: number;
  edits: { at: number; len: number }[][];
}

const DIRS = ['', 'a', 'a/b', 'c d', 'ü/ñ'];
const genFileArb: fc.Arbitrary<GenFile> = fc.record({
  dir: fc.constantFrom(...DIRS),
  name: fc.constantFrom('f', 'g.txt', 'ñame', '.hidden', 'new\nline', `long-${'x'.repeat(180)}`),
  kind: fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom('empty' as const, 'small' as const) },
    { weight: 2, arbitrary: fc.constantFrom('holes' as const, 'medium' as const) },
    { weight: 1, arbitrary: fc.constant('large' as const) },
  ),
  seed: fc.integer(),
  mode: fc.constantFrom(0o644, 0o600, 0o755, 0o444, 0o640),
  mtime: fc.integer({ min: 1_000_000_000, max: 2_000_000_000 }),
  edits: fc.array(fc.array(fc.record({ at: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }), { maxLength: 3 }), { minLength: 2, maxLength: 2 }),
});

/** The first content of `f`: sizes that stream (over 1 MiB) and that are held, holes, nothing. */
function contentOf(f: GenFile): Uint8Array {
  const rng = new Prng(f.seed);
  switch (f.kind) {
    case 'empty':
      return new Uint8Array(0);
    case 'small':
      return rng.bytes(1 + rng.int(16_000));
    case 'holes': {
      const out = new Uint8Array(20_000 + rng.int(60_000));
      out.set(rng.bytes(5000), 0);
      out.set(rng.bytes(3000), out.length - 3000);
      return out;
    }
    case 'medium':
      return rng.bytes(20_000 + rng.int(300_000));
    case 'large':
      return rng.bytes((1 << 20) + 1 + rng.int(200_000));
  }
}

function edited(data: Uint8Array, edits: { at: number; len: number }[], seed: number): Uint8Array {
  const out = Uint8Array.from(data);
  const rng = new Prng(seed);
  for (const { at, len } of edits) if (out.length > 0) out.set(rng.bytes(Math.min(len, out.length - (at % out.length))), at % out.length);
  return out;
}

/** Write the generated tree into `src`: files, two symlinks, then modes and times, deepest first. */
async function writeTree(src: string, files: GenFile[], version: number): Promise<void> {
  for (const d of DIRS) {
    await mkdir(join(src, d), { recursive: true });
    await chmod(join(src, d), 0o755);
  }
  for (const [i, f] of files.entries()) {
    const path = join(src, f.dir, `${f.name}${i}`);
    let data = contentOf(f);
    for (let v = 0; v < version; v++) data = edited(data, f.edits[v]!, f.seed + v + 1);
    await writeFile(path, data);
    await chmod(path, f.mode);
    // A new time with each edit: the backup must see the change.
    const t = f.mtime + (f.edits.slice(0, version).some((e) => e.length > 0) ? 1000 * version : 0) + 0.123456;
    await utimes(path, t, t);
  }
  if (version === 0) {
    await symlink('f0', join(src, 'a', 'link'));
    await symlink('../no/such', join(src, 'c d', 'dangling'));
    await lutimes(join(src, 'a', 'link'), 1_500_000_000, 1_500_000_000);
  }
  for (const d of [...DIRS].filter(Boolean).sort((x, y) => y.split('/').length - x.split('/').length)) {
    await chmod(join(src, d), d === 'a/b' ? 0o555 : 0o750);
    await utimes(join(src, d), 1_600_000_000 + d.length, 1_600_000_000 + d.length);
  }
}

describe('concurrency never changes the restored tree', () => {
  it('a generated chain (full and two incrementals: holes, deltas held in memory and streamed) restores identically 16 at a time and one at a time', async () => {
    let deltas = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(genFileArb, { minLength: 1, maxLength: 30 }), fc.constantFrom<Compression>('gzip', 'none'), (files, compression) =>
        withTempDir(async (tmp) => {
          const src = tmp.file('src');
          const work = tmp.file('work');
          for (let version = 0; version < 3; version++) {
            await writeTree(src, files, version);
            await (version === 0 ? fullBackup : incrementalBackup)(src, { workDir: work, compression });
          }
          const one = tmp.file('one');
          const many = tmp.file('many');
          await restoreBackup('src', one, { workDir: work, concurrency: 1 });
          deltas += (await restoreBackup('src', many, { workDir: work, concurrency: 16 })).stats.deltasApplied;
          const rel = (m: Map<string, unknown>): [string, unknown][] => [...m];
          expect(rel(await describeTree(many))).toEqual(rel(await describeTree(one)));
          expectSameTree(await snapshot(one), await snapshot(src));
        }),
      ),
      { numRuns: 10 },
    );
    expect(deltas, 'the generated chains applied no delta').toBeGreaterThan(0);
  }, 120_000);
});
