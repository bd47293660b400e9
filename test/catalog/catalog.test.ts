/**
 * The catalog across the state format change: backups an older release wrote, with plain
 * JSON states (`ID.state.json`, version 2), are listed, restored and chained on by this
 * release, whose states are `ID.state.json.gz` (version 3). Regression for "a new state file
 * name makes every existing backup disappear, and the next backup's clean-up deletes their
 * archives as strays".
 */
import { mkdir, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Catalog } from '../../src/catalog/index.js';
import { fullBackup, incrementalBackup, listBackups, Repository, restoreBackup } from '../../src/index.js';
import { artifactFile, plainStateFile, readStateFile } from '../../src/state/index.js';
import { hashChunks } from '../../src/tree/index.js';
import { expectSameTree, snapshot } from '../backup/helpers.js';
import { sealPlain } from '../helpers/seal.js';
import { withTempDir } from '../helpers/tools.js';

/** Rewrite backup `id`'s state as an older release wrote it: version 2, plain JSON, the old name. Returns its digest. */
async function downgrade(dir: string, id: string): Promise<string> {
  const path = join(dir, artifactFile(id, 'state', 'none'));
  const { state } = await readStateFile(path, { id, name: 'src' });
  const { stats, ...rest } = state;
  const v2 = { ...rest, version: 2, stats };
  await writeFile(join(dir, plainStateFile(id)), await sealPlain(v2));
  await rm(path);
  return hashChunks([Buffer.from(JSON.stringify(v2))]);
}

describe('backups of an older release (plain JSON states)', () => {
  it('are listed, restored, and chained on; the next backup keeps their archives', () =>
    withTempDir(async (tmp) => {
      const src = tmp.file('src');
      const work = tmp.file('work');
      await mkdir(join(src, 'd'), { recursive: true });
      await writeFile(join(src, 'd/a.txt'), 'first version\n'.repeat(500));
      await writeFile(join(src, 'b.bin'), Buffer.alloc(70_000, 7));
      const full = await fullBackup(src, { workDir: work });
      const before = await snapshot(src);
      const dir = join(work, 'src');
      const digest = await downgrade(dir, full.id);
      const oldFiles = (await readdir(dir)).filter((f) => f.startsWith(full.id)).sort();
      expect(oldFiles).toContain(plainStateFile(full.id));

      expect((await listBackups('src', { workDir: work })).map((b) => b.id)).toEqual([full.id]);
      await restoreBackup('src', tmp.file('out-full'), { workDir: work });
      expectSameTree(await snapshot(tmp.file('out-full')), before);

      await writeFile(join(src, 'd/a.txt'), 'second version\n'.repeat(500));
      await utimes(join(src, 'd/a.txt'), 1_800_000_000, 1_800_000_000);
      const inc = await incrementalBackup(src, { workDir: work });
      expect(inc.parent).toBe(full.id);
      expect((await readdir(dir)).filter((f) => f.startsWith(full.id)).sort()).toEqual(oldFiles);
      const { state } = await readStateFile(join(dir, artifactFile(inc.id, 'state', 'none')), { id: inc.id, name: 'src' });
      expect(state.version).toBe(3);
      expect(state.parent).toEqual({ id: full.id, digest });

      expect((await listBackups('src', { workDir: work })).map((b) => b.id)).toEqual([full.id, inc.id]);
      await restoreBackup('src', tmp.file('out-inc'), { workDir: work });
      expectSameTree(await snapshot(tmp.file('out-inc')), await snapshot(src));
      await restoreBackup('src', tmp.file('out-old'), { workDir: work, at: full.id });
      expectSameTree(await snapshot(tmp.file('out-old')), before);
    }));

  it('where both names exist for one backup, the state this release writes is the one read', () =>
    withTempDir(async (tmp) => {
      const src = tmp.file('src');
      const work = tmp.file('work');
      await mkdir(src);
      await writeFile(join(src, 'a'), 'a');
      const full = await fullBackup(src, { workDir: work });
      const dir = join(work, 'src');
      await writeFile(join(dir, plainStateFile(full.id)), 'not even JSON');
      const catalog = await Catalog.open(Repository.inWorkDir(work), 'src');
      expect(catalog.backupIds).toEqual([full.id]);
      expect(catalog.stateFile(full.id)).toBe(artifactFile(full.id, 'state', 'none'));
      expect((await catalog.state(full.id)).id).toBe(full.id);
    }));
});
