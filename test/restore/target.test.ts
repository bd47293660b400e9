/**
 * The restore target: what it accepts, what `overwrite` replaces, and what a change made to
 * it while the restore runs leads to. Regressions: "a restore target that is a symlink to an
 * empty directory is refused as 'exists and is not a directory'", and "lstat failures in the
 * path checks are reported as EUNSAFEPATH instead of EIO".
 *
 * The changes made during a restore happen from its progress callback, between two files, so
 * each race here is deterministic; `race.test.ts` runs the same attack as a campaign.
 */
import { lstat, mkdir, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { renameSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fullBackup, restoreBackup, type BackupError } from '../../src/index.js';
import { expectSameTree, snapshot } from '../backup/helpers.js';
import { listAll } from './helpers.js';
import { useTempDir } from '../helpers/tools.js';


async function failure(p: Promise<unknown>): Promise<BackupError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e, 'expected the restore to fail').toBeDefined();
  return e as BackupError;
}

describe('the restore target', () => {
  const tmp = useTempDir();
  const work = (): string => tmp.file('work');
  let n = 0;
  const fresh = (): string => tmp.file(`t${++n}`);

  beforeAll(async () => {
    const src = tmp.file('src');
    await mkdir(join(src, 'a/deep'), { recursive: true });
    await mkdir(join(src, 'b'), { recursive: true });
    await writeFile(join(src, 'a/one.txt'), 'one\n');
    await writeFile(join(src, 'a/deep/two.txt'), 'two\n');
    for (let i = 0; i < 10; i++) await writeFile(join(src, 'b', `f${i}`), `b/f${i}\n`);
    await writeFile(join(src, 'top.txt'), 'top\n');
    await symlink('a/one.txt', join(src, 'link'));
    await fullBackup(src, { workDir: work(), compression: 'none' });
    await mkdir(tmp.file('outside'));
    await writeFile(tmp.file('outside/canary'), 'untouched');
  });

  const outsideIntact = async (): Promise<void> => {
    expect(await listAll(tmp.file('outside'))).toEqual([tmp.file('outside/canary')]);
    expect(await readFile(tmp.file('outside/canary'), 'utf8')).toBe('untouched');
  };

  it('a target that is a symlink to an empty directory is restored into, not refused', async () => {
    const real = fresh();
    await mkdir(real);
    const link = fresh();
    await symlink(real, link);
    const report = await restoreBackup('src', link, { workDir: work() });
    expect(report.target).toBe(link);
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expectSameTree(await snapshot(real), await snapshot(tmp.file('src')));
  });

  it('a missing target is created with its parents', async () => {
    const target = join(fresh(), 'x/y');
    await restoreBackup('src', target, { workDir: work() });
    expectSameTree(await snapshot(target), await snapshot(tmp.file('src')));
  });

  it('a target that is a symlink to a non-empty directory needs overwrite', async () => {
    const real = fresh();
    await mkdir(real);
    await writeFile(join(real, 'mine'), 'x');
    const link = fresh();
    await symlink(real, link);
    const err = await failure(restoreBackup('src', link, { workDir: work() }));
    expect(err.code).toBe('ENOTEMPTY');
    expect(await readdir(real)).toEqual(['mine']);
  });

  it('a target that is a file is ENOTEMPTY: exists and is not a directory', async () => {
    const file = fresh();
    await writeFile(file, 'x');
    const err = await failure(restoreBackup('src', file, { workDir: work() }));
    expect(err.code).toBe('ENOTEMPTY');
    expect(err.message).toContain('exists and is not a directory');
  });

  it('a target that cannot be opened for another reason (a symlink loop) is EIO naming it, not EUNSAFEPATH', async () => {
    const loop = fresh();
    await symlink(loop, loop);
    const err = await failure(restoreBackup('src', loop, { workDir: work() }));
    expect(err.code).toBe('EIO');
    expect(err.path).toBe(loop);
    expect(err.message).toContain('ELOOP');
  });

  it('a directory removed during the restore is EIO naming it (ENOENT), not EUNSAFEPATH', async () => {
    const target = fresh();
    let done = false;
    const err = await failure(
      restoreBackup('src', target, {
        workDir: work(),
        onProgress: () => {
          if (done) return;
          done = true;
          rmSync(join(target, 'b'), { recursive: true });
        },
      }),
    );
    expect(err.code).toBe('EIO');
    expect(err.message).toContain('ENOENT');
    expect(err.path).toBe(join(target, 'b'));
  });

  it('a directory swapped for a symlink to the outside during the restore is EUNSAFEPATH, and nothing is written through it', async () => {
    const target = fresh();
    let done = false;
    const err = await failure(
      restoreBackup('src', target, {
        workDir: work(),
        onProgress: () => {
          if (done) return;
          done = true;
          renameSync(join(target, 'b'), join(target, 'b.moved'));
          symlinkSync(tmp.file('outside'), join(target, 'b'));
        },
      }),
    );
    expect(err.code).toBe('EUNSAFEPATH');
    expect(err.path).toBe('b');
    await outsideIntact();
    expect((await listAll(target)).filter((p) => p.endsWith('.tmp'))).toEqual([]);
  });

  it('overwrite: whatever is in the way of an entry is replaced without following links, other files are left alone', async () => {
    const target = fresh();
    await mkdir(join(target, 'top.txt/inner'), { recursive: true }); // a directory where a file goes
    await writeFile(join(target, 'top.txt/inner/x'), 'x');
    await writeFile(join(target, 'b'), 'a file where a directory goes');
    await mkdir(join(target, 'a'));
    await symlink(tmp.file('outside/canary'), join(target, 'a/one.txt')); // a link where a file goes
    await symlink(tmp.file('outside'), join(target, 'a/deep')); // a link where a directory goes
    await mkdir(join(target, 'link')); // a directory where a symlink goes
    await writeFile(join(target, 'a/mine.txt'), 'not in the backup');
    await writeFile(join(target, 'extra.txt'), 'not in the backup');
    await restoreBackup('src', target, { workDir: work(), overwrite: true });
    await outsideIntact();
    expect(await readFile(join(target, 'a/mine.txt'), 'utf8')).toBe('not in the backup');
    expect(await readFile(join(target, 'extra.txt'), 'utf8')).toBe('not in the backup');
    expect(await readlink(join(target, 'link'))).toBe('a/one.txt');
    expectSameTree(await snapshot(target, (p) => p === 'a/mine.txt' || p === 'extra.txt'), await snapshot(tmp.file('src')));
  });

  it('an abort stops the restore with EABORTED and leaves no temporary file', async () => {
    const target = fresh();
    const abort = new AbortController();
    let files = 0;
    const err = await failure(
      restoreBackup('src', target, {
        workDir: work(),
        signal: abort.signal,
        onProgress: () => {
          if (++files === 3) abort.abort();
        },
      }),
    );
    expect(err.code).toBe('EABORTED');
    expect((await listAll(target)).filter((p) => p.endsWith('.tmp'))).toEqual([]);
    await rm(target, { recursive: true });
  });
});
