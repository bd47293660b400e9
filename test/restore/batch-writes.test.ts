/**
 * A restore with enough small files to hand them to the tree workers (`restore/batch-writes.ts`)
 * must give the tree a restore on the main thread gives: the same bytes, modes, times to the
 * nanosecond and (as root) owners; and what stands in the way of a file (a directory, a
 * symlink, a file) in an `overwrite` restore must be dealt with as the main thread deals
 * with it, since a worker that meets it leaves the file to the main thread.
 */
import { chmod, chown, lstat, mkdir, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fullBackup, restoreBackup } from '../../src/index.js';
import { expectSameTree, snapshot } from '../backup/helpers.js';
import { distBuilt } from '../helpers/unprivileged.js';
import { onCi, withTempDir } from '../helpers/tools.js';

const skip = !distBuilt && !onCi;
const note = skip ? ' (skipped: run npm run build first: the worker script comes from dist/)' : '';
const isRoot = process.getuid?.() === 0;

/** A tree of 7 directories of 60 small files, with varied modes, times and owners. */
async function manyFiles(src: string): Promise<void> {
  for (let d = 0; d < 7; d++) {
    await mkdir(join(src, `d${d}`), { recursive: true });
    for (let f = 0; f < 60; f++) {
      const p = join(src, `d${d}/f${f}`);
      await writeFile(p, `content ${d}/${f}\n`.repeat(1 + ((d * 60 + f) % 97)));
      await chmod(p, [0o644, 0o600, 0o755, 0o640][f % 4]!);
      if (isRoot && f % 5 === 0) await chown(p, 1000 + d, 2000 + f);
      await utimes(p, 1_600_000_000 + f + 0.123456, 1_600_000_000 + d * 1000 + f + 0.654321);
    }
  }
}

describe.skipIf(skip)(`a restore of many small files by the tree workers${note}`, () => {
  it('gives the bytes, modes, times and owners a one-file-at-a-time restore gives', () =>
    withTempDir(async (tmp) => {
      const src = tmp.file('src');
      await manyFiles(src);
      const work = tmp.file('work');
      await fullBackup(src, { workDir: work, name: 'many' });
      const batched = tmp.file('batched');
      const single = tmp.file('single');
      await restoreBackup('many', batched, { workDir: work });
      // One at a time, no workers: files below the workers' threshold never reach them, and
      // concurrency 1 does not change that; so compare against the source and each other.
      await restoreBackup('many', single, { workDir: work, concurrency: 1 });
      expectSameTree(await snapshot(batched), await snapshot(src));
      for (let f = 0; f < 60; f += 7) {
        const [a, b] = [await lstat(join(src, `d3/f${f}`), { bigint: true }), await lstat(join(batched, `d3/f${f}`), { bigint: true })];
        expect(b.mtimeNs, 'exact times').toBe(a.mtimeNs);
        if (isRoot) expect([b.uid, b.gid]).toEqual([a.uid, a.gid]);
      }
      expectSameTree(await snapshot(single), await snapshot(batched));
    }));

  it('with overwrite, a directory, a symlink or a file in the way of a file is replaced, and a symlink is never followed', () =>
    withTempDir(async (tmp) => {
      const src = tmp.file('src');
      await manyFiles(src);
      const work = tmp.file('work');
      await fullBackup(src, { workDir: work, name: 'many' });
      const target = tmp.file('target');
      const outside = tmp.file('outside');
      await mkdir(join(target, 'd1/f3/sub'), { recursive: true });
      await writeFile(join(target, 'd1/f3/sub/x'), 'x');
      await mkdir(outside);
      await mkdir(join(target, 'd2'), { recursive: true });
      await symlink(join(outside, 'victim'), join(target, 'd2/f4'));
      await mkdir(join(target, 'd4'), { recursive: true });
      await writeFile(join(target, 'd4/f9'), 'old content');
      await restoreBackup('many', target, { workDir: work, overwrite: true });
      expectSameTree(await snapshot(target), await snapshot(src));
      expect(await readFile(join(target, 'd2/f4'), 'utf8')).toBe(await readFile(join(src, 'd2/f4'), 'utf8'));
      await expect(lstat(join(outside, 'victim')), 'nothing written through the symlink').rejects.toMatchObject({ code: 'ENOENT' });
    }));
});
