/**
 * Crash safety: incremental backups run in a child process that is killed with SIGKILL at
 * random moments, many times. Every backup that committed must restore exactly the tree it
 * saw, and the next backup must clean up and succeed. The child runs the built package
 * (`dist/`), so this suite needs `npm run build` first (CI builds before testing).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fullBackup, incrementalBackup, listBackups, restoreBackup } from '../../src/index.js';
import { Prng } from '../helpers/data.js';
import { onCi, withTempDir } from '../helpers/tools.js';
import { expectSameTree, snapshot, type Snap } from './helpers.js';

const DIST = resolve('dist/index.js');
const built = existsSync(DIST);
if (!built && onCi) {
  it('dist/ is built (required when CI=true)', () => {
    throw new Error('dist/index.js is missing: run npm run build before the tests');
  });
}

/** Run an incremental backup in a child process, killing it after `ms`; resolves when it exits. */
function backupInChild(src: string, workDir: string, ms: number): Promise<void> {
  const code = `import(${JSON.stringify(DIST)}).then((m) => m.incrementalBackup(${JSON.stringify(src)}, { workDir: ${JSON.stringify(workDir)} }))`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: 'ignore' });
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  return new Promise((done) => {
    child.on('exit', () => {
      clearTimeout(timer);
      done();
    });
  });
}

async function change(src: string, rng: Prng, round: number): Promise<void> {
  for (const name of ['big-a.bin', 'big-b.bin']) {
    const fh = await open(join(src, name), 'r+');
    const size = (await fh.stat()).size;
    await fh.write(rng.bytes(200), 0, 200, rng.int(size - 200));
    await fh.close();
    await utimes(join(src, name), 1_700_000_000 + round, 1_700_000_000 + round);
  }
  await writeFile(join(src, `new-${round}.txt`), rng.bytes(rng.int(40_000)));
  await writeFile(join(src, `dir/${rng.int(30)}.txt`), `round ${round}\n`);
}

describe.skipIf(!built)(`backups killed at random moments${built ? '' : ' (skipped: run npm run build first)'}`, () => {
  it('never damage committed backups, and the next backup recovers', () =>
    withTempDir(async (tmp) => {
      const src = tmp.file('src');
      const work = tmp.file('work');
      const rng = new Prng(2026);
      await mkdir(join(src, 'dir'), { recursive: true });
      await writeFile(join(src, 'big-a.bin'), rng.bytes(3 << 20));
      await writeFile(join(src, 'big-b.bin'), rng.bytes(2 << 20));
      for (let i = 0; i < 30; i++) await writeFile(join(src, `dir/${i}.txt`), rng.bytes(rng.int(20_000)));
      const points = new Map<string, Map<string, Snap>>();
      const first = await fullBackup(src, { workDir: work });
      points.set(first.id, await snapshot(src));

      // `npm test` kills a few; the slow campaign (`npm run test:slow`) kills many.
      const rounds = process.env.IBT_SLOW === '1' ? 120 : 14;
      let killed = 0;
      for (let round = 1; round <= rounds; round++) {
        await change(src, rng, round);
        const snap = await snapshot(src);
        const before = (await listBackups('src', { workDir: work })).length;
        await backupInChild(src, work, 40 + rng.int(900));
        const after = await listBackups('src', { workDir: work });
        if (after.length > before) points.set(after[after.length - 1]!.id, snap);
        else killed++;
        expect(after.length - before).toBeLessThanOrEqual(1);
      }
      expect(killed, 'some children should have been killed before committing').toBeGreaterThan(0);

      for (const [id, snap] of points) {
        const target = tmp.file(`restore-${id}`);
        await restoreBackup('src', target, { workDir: work, at: id });
        expectSameTree(await snapshot(target), snap, id);
      }

      await change(src, rng, 99);
      const last = await incrementalBackup(src, { workDir: work });
      const left = (await readdir(join(work, 'src'))).filter((f) => f !== 'locks');
      expect(left.filter((f) => f.endsWith('.tmp'))).toEqual([]);
      // Locks of killed runs were taken over (their holders are provably dead) and the last run released its own.
      expect(await readdir(join(work, 'src', 'locks'))).toEqual([]);
      for (const f of left) {
        const id = f.slice(0, 23);
        expect(points.has(id) || id === last.id, `stray file ${f}`).toBe(true);
      }
      await restoreBackup('src', tmp.file('restore-last'), { workDir: work });
      expectSameTree(await snapshot(tmp.file('restore-last')), await snapshot(src));
      expect((await stat(join(work, 'src'))).isDirectory()).toBe(true);
    }));
});
