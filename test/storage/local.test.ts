/**
 * The local-directory storage: the conformance suite, and the round trip a storage plugin
 * makes — upload a backup's artifacts, lose the work directory, restore and continue the
 * chain from storage alone.
 */
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fullBackup, incrementalBackup, listBackups, LocalStorage, restoreBackup, saveBackup } from '../../src/index.js';
import { Prng } from '../helpers/data.js';
import { useTempDir, withTempDir } from '../helpers/tools.js';
import { expectSameTree, snapshot } from '../backup/helpers.js';
import { storageConformance } from './conformance.js';

const base = useTempDir();
storageConformance('LocalStorage', async () => new LocalStorage(await mkdtemp(join(base.path, 'storage-'))));

describe('backups through storage', () => {
  it('restores and continues a chain from storage after the work directory is lost', () =>
    withTempDir(async (tmp) => {
      const src = tmp.file('src');
      await mkdir(src);
      const rng = new Prng(9);
      const data = rng.bytes(80_000);
      await writeFile(join(src, 'f.bin'), data);
      const storage = new LocalStorage(tmp.file('remote'));
      const work = tmp.file('work');
      await saveBackup(await fullBackup(src, { workDir: work }), storage);
      data.set(rng.bytes(20), 40_000);
      await writeFile(join(src, 'f.bin'), data);
      await utimes(join(src, 'f.bin'), 1_800_000_000, 1_800_000_000);
      await saveBackup(await incrementalBackup(src, { workDir: work }), storage);
      await rm(work, { recursive: true });

      expect((await listBackups('src', { workDir: work, storage })).map((b) => b.kind)).toEqual(['full', 'incremental']);
      await restoreBackup('src', tmp.file('out'), { workDir: work, storage });
      expectSameTree(await snapshot(tmp.file('out')), await snapshot(src));

      await rm(work, { recursive: true });
      data.set(rng.bytes(20), 10_000);
      await writeFile(join(src, 'f.bin'), data);
      await utimes(join(src, 'f.bin'), 1_900_000_000, 1_900_000_000);
      const third = await incrementalBackup(src, { workDir: work, storage });
      expect(third.kind).toBe('incremental');
      expect(third.stats.storedDelta).toBe(1);
    }));
});
