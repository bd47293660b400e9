/**
 * Regression: "race on the restore target: a directory inside the target swapped for a
 * symlink during the restore made every later write, chmod and utimes follow it — 400 of 400
 * files landed outside the target and the restore reported success".
 *
 * A standing campaign: while a restore of a few hundred files runs, another process keeps
 * swapping the target's directories for symlinks to an outside directory and back, as
 * another local user could. Every round: no file lands outside (and nothing there is
 * touched), and the restore either succeeds with a correct tree or fails with a typed error.
 * Rounds alternate between an empty target and `overwrite` into a target already holding the
 * tree (whose directories the attacker then swaps from the start). The restore writes 16
 * files at a time, so the swaps meet files in every stage of being written. `IBT_SLOW=1`
 * (`npm run test:slow`) runs many more rounds.
 */
import { cp, lstat, mkdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BackupError, fullBackup, restoreBackup } from '../../src/index.js';
import { anchoringWorks } from '../../src/io/anchored-dir.js';
import { expectSameTree, snapshot } from '../backup/helpers.js';
import { listAll } from './helpers.js';
import { startSwapper } from '../io/anchored-dir.helpers.js';
import { onCi, useTempDir } from '../helpers/tools.js';

const ROUNDS = process.env.IBT_SLOW === '1' ? 200 : 10;
const DIRS = 8;
const anchoring = await anchoringWorks();
const note = anchoring ? '' : ' (skipped: /proc/self/fd anchoring is unavailable here)';


/** Undo a swap the attacker left half done: `d` a symlink or missing, its real directory at `d.real`. */
async function putBack(d: string): Promise<void> {
  const real = await lstat(`${d}.real`).catch(() => undefined);
  if (!real) return;
  const st = await lstat(d).catch(() => undefined);
  if (st?.isDirectory()) {
    // Overwrite replaced the swapped-in link with a new directory; the old one is left over.
    await rm(`${d}.real`, { recursive: true });
    return;
  }
  if (st) await unlink(d);
  await rename(`${d}.real`, d);
}

describe.skipIf(!anchoring && !onCi)(`a restore under a directory-swapping attacker${note}`, () => {
  const tmp = useTempDir();
  const dirs = Array.from({ length: DIRS }, (_, i) => `d${i}`);

  beforeAll(async () => {
    const src = tmp.file('src');
    for (const d of dirs) {
      await mkdir(join(src, d, 'sub'), { recursive: true });
      for (let f = 0; f < 25; f++) await writeFile(join(src, d, `f${f}`), `${d}/f${f}\n`.repeat(f + 1));
      for (let f = 0; f < 15; f++) await writeFile(join(src, d, 'sub', `g${f}`), `${d}/sub/g${f}\n`);
    }
    await fullBackup(src, { workDir: tmp.file('work'), compression: 'none' });
    await mkdir(tmp.file('outside'));
    await writeFile(tmp.file('outside/canary'), 'untouched');
  });

  it(`${ROUNDS} rounds: no file lands outside, and every restore is either complete or a typed failure`, async () => {
    const expected = await snapshot(tmp.file('src'));
    const outcomes: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const target = tmp.file(`target-${round}`);
      const overwrite = round % 2 === 1;
      if (overwrite) await cp(tmp.file('src'), target, { recursive: true });
      const swapper = startSwapper(
        dirs.map((d) => join(target, d)),
        tmp.file('outside'),
      );
      let outcome: unknown;
      try {
        await swapper.started;
        outcome = await restoreBackup('src', target, { workDir: tmp.file('work'), overwrite, concurrency: 16 }).then(
          () => 'ok',
          (e: unknown) => e,
        );
      } finally {
        await swapper.stop();
      }
      expect(await listAll(tmp.file('outside')), `round ${round}: files outside the target`).toEqual([tmp.file('outside/canary')]);
      expect(await readFile(tmp.file('outside/canary'), 'utf8')).toBe('untouched');
      for (const d of dirs) await putBack(join(target, d));
      if (outcome === 'ok') {
        expectSameTree(await snapshot(target), expected, `round ${round}`);
        outcomes.push('ok');
      } else {
        expect(outcome, `round ${round}: the failure is a BackupError`).toBeInstanceOf(BackupError);
        const err = outcome as BackupError;
        expect(['EUNSAFEPATH', 'EIO'], `round ${round}: ${err.message}`).toContain(err.code);
        outcomes.push(err.code);
      }
      await rm(target, { recursive: true, force: true });
    }
    console.info(`[tests] restore under attack, outcomes of ${ROUNDS} rounds: ${outcomes.join(' ')}`);
    // The campaign proves something only if the attacker got in the way at least once.
    expect(outcomes.some((o) => o !== 'ok'), 'no round was disturbed by the swapper').toBe(true);
  });
});
