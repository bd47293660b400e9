/**
 * Two backups of one name at once. Regression: nothing enforced "one backup of a name at a
 * time"; two calls in the same millisecond got the same id and one backup vanished although
 * both reported success, and a run that started while another was between renaming its
 * archives and writing its state deleted that run's archives as "strays". The standing
 * campaign: pairs started in the same millisecond and at random offsets, in one process and
 * in two processes. Every run either commits a backup that restores exactly the tree it saw,
 * or fails with ELOCKED naming the holder; no committed backup is ever lost or damaged.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, utimes, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fullBackup, incrementalBackup, isBackupError, listBackups, restoreBackup } from '../../src/index.js';
import { Prng } from '../helpers/data.js';
import { onCi, withTempDir, type TempDir } from '../helpers/tools.js';
import { expectSameTree, snapshot, type Snap } from './helpers.js';

const DIST = resolve('dist/index.js');
const built = existsSync(DIST);
if (!built && onCi) {
  it('dist/ is built (required when CI=true)', () => {
    throw new Error('dist/index.js is missing: run npm run build before the tests');
  });
}

/** What one run reported: the id it committed, or the code it failed with. */
type Outcome = { id: string } | { code: string; message: string };

async function makeSource(tmp: TempDir): Promise<string> {
  const src = tmp.file('src');
  const rng = new Prng(4242);
  await mkdir(join(src, 'd'), { recursive: true });
  await writeFile(join(src, 'big.bin'), rng.bytes(2 << 20));
  for (let i = 0; i < 40; i++) await writeFile(join(src, 'd', `${i}.txt`), rng.bytes(rng.int(30_000)));
  return src;
}

async function change(src: string, round: number): Promise<void> {
  const fh = await open(join(src, 'big.bin'), 'r+');
  await fh.write(Buffer.from(`round ${round}`), 0, undefined, (round * 7919) % (1 << 20));
  await fh.close();
  await utimes(join(src, 'big.bin'), 1_700_000_000 + round, 1_700_000_000 + round);
  await writeFile(join(src, 'd', `new-${round}.txt`), `round ${round}\n`);
}

function settle(p: Promise<{ id: string }>): Promise<Outcome> {
  return p.then(
    (r) => ({ id: r.id }),
    (e: unknown) => {
      if (!isBackupError(e)) throw e;
      return { code: e.code, message: e.message };
    },
  );
}

/** Run an incremental backup in a child process; resolves to what it reported. */
function backupInChild(src: string, workDir: string, delayMs: number): Promise<Outcome> {
  const code = `setTimeout(() => import(${JSON.stringify(DIST)}).then((m) => m.incrementalBackup(${JSON.stringify(src)}, { workDir: ${JSON.stringify(workDir)} })).then(
    (r) => process.stdout.write(JSON.stringify({ id: r.id })),
    (e) => process.stdout.write(JSON.stringify({ code: e.code ?? 'UNTYPED', message: String(e.message) })),
  ), ${delayMs})`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((done, fail) => {
    child.on('error', fail);
    child.on('exit', () => {
      try {
        done(JSON.parse(out) as Outcome);
      } catch {
        fail(new Error(`child printed ${JSON.stringify(out)}`));
      }
    });
  });
}

/** Check one round: winners committed, losers ELOCKED naming the holder; returns the ids committed. */
function judge(outcomes: Outcome[], label: string): string[] {
  const ids: string[] = [];
  for (const o of outcomes) {
    if ('id' in o) ids.push(o.id);
    else {
      expect(o.code, `${label}: ${o.message}`).toBe('ELOCKED');
      expect(o.message, label).toMatch(/^backup name "src" in \S+ is locked by "backup of \S+" \(exclusive\) of pid \d+ on host /);
      expect(o.message, label).toMatch(/remove \S+\/src\/locks\/\d{8}T\d{9}Z-[0-9a-f]+\.json$/);
    }
  }
  expect(ids.length, `${label}: at least one run must win`).toBeGreaterThanOrEqual(1);
  expect(new Set(ids).size, `${label}: ids must differ`).toBe(ids.length);
  return ids;
}

async function campaign(tmp: TempDir, rounds: number, start: (src: string, work: string, round: number) => Promise<Outcome[]>): Promise<void> {
  const src = await makeSource(tmp);
  const work = tmp.file('work');
  const points = new Map<string, Map<string, Snap>>();
  const first = await fullBackup(src, { workDir: work });
  points.set(first.id, await snapshot(src));
  let contended = 0;
  for (let round = 1; round <= rounds; round++) {
    await change(src, round);
    const snap = await snapshot(src);
    const outcomes = await start(src, work, round);
    if (outcomes.some((o) => 'code' in o)) contended++;
    for (const id of judge(outcomes, `round ${round}`)) points.set(id, snap);
  }
  expect(contended, 'the campaign must actually make runs collide').toBeGreaterThan(rounds / 4);
  const listed = (await listBackups('src', { workDir: work })).map((b) => b.id);
  expect(listed.sort(), 'every backup reported as committed is listed, and nothing else').toEqual([...points.keys()].sort());
  for (const [id, snap] of points) {
    const target = tmp.file(`restore-${id}`);
    await restoreBackup('src', target, { workDir: work, at: id });
    expectSameTree(await snapshot(target), snap, id);
  }
}

describe('two backups of one name at once', () => {
  it('in one process, started in the same millisecond: one commits, the other is ELOCKED, nothing is lost', () =>
    withTempDir((tmp) =>
      campaign(tmp, 20, (src, workDir) => Promise.all([settle(incrementalBackup(src, { workDir })), settle(incrementalBackup(src, { workDir }))])),
    ));

  it('in one process, started at random offsets: every committed backup restores, losers are ELOCKED', () =>
    withTempDir((tmp) => {
      const rng = new Prng(77);
      // Offsets within the time a backup takes here, measured as the campaign goes: a fixed
      // range made runs collide less often on a loaded machine, where backups take longer.
      let lasts = 60;
      return campaign(tmp, 20, async (src, workDir) => {
        const delay = rng.int(lasts);
        const started = performance.now();
        const first = settle(incrementalBackup(src, { workDir })).finally(() => (lasts = Math.max(10, Math.round(performance.now() - started))));
        const later = new Promise<Outcome>((done) => setTimeout(() => done(settle(incrementalBackup(src, { workDir }))), delay));
        return Promise.all([first, later]);
      });
    }));

  describe.skipIf(!built)(`across processes${built ? '' : ' (skipped: run npm run build first)'}`, () => {
    it('started together: one commits, the other is ELOCKED, nothing is lost', () =>
      withTempDir((tmp) => campaign(tmp, 20, (src, work) => Promise.all([backupInChild(src, work, 0), backupInChild(src, work, 0)]))));

    it('started at random offsets: every committed backup restores, losers are ELOCKED', () =>
      withTempDir((tmp) => {
        const rng = new Prng(78);
        return campaign(tmp, 20, (src, work) => Promise.all([backupInChild(src, work, 0), backupInChild(src, work, rng.int(150))]));
      }));
  });

  it('runs given lockTimeout wait for the holder and then commit on top of its backup', () =>
    withTempDir(async (tmp) => {
      const src = await makeSource(tmp);
      const workDir = tmp.file('work');
      await fullBackup(src, { workDir });
      await change(src, 1);
      const [a, b] = await Promise.all([incrementalBackup(src, { workDir, lockTimeout: 60_000 }), incrementalBackup(src, { workDir, lockTimeout: 60_000 })]);
      const ids = [a.id, b.id].sort();
      const later = a.id === ids[1] ? a : b;
      expect(later.parent).toBe(ids[0]);
      expect((await listBackups('src', { workDir })).length).toBe(3);
    }));
});
