/**
 * The local-directory storage: the conformance suite, and the round trip a storage plugin
 * makes — upload a backup's artifacts, lose the work directory, restore and continue the
 * chain from storage alone.
 */
import { mkdir, mkdtemp, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fullBackup, incrementalBackup, listBackups, LocalStorage, restoreBackup, saveBackup } from '../../src/index.js';
import { Prng } from '../helpers/data.js';
import { onCi, useTempDir, withTempDir } from '../helpers/tools.js';
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

describe('LocalStorage.list', () => {
  it('lists by a prefix that ends inside a name, through nested folders, without temporary files', () =>
    withTempDir(async (tmp) => {
      const s = new LocalStorage(tmp.path);
      for (const key of ['n/locks/a.json', 'n/locks/b/c.json', 'n/lockstep', 'n/lo', 'n/x/locks/d', 'm/locks/e']) {
        await s.save(key, new Uint8Array([1]));
      }
      await writeFile(join(tmp.path, 'n', 'locks', '.f.json.123-0123456789ab.tmp'), 'half');
      expect(await s.list('n/locks/')).toEqual(['n/locks/a.json', 'n/locks/b/c.json']);
      expect(await s.list('n/locks')).toEqual(['n/locks/a.json', 'n/locks/b/c.json', 'n/lockstep']);
      expect(await s.list('n/l')).toEqual(['n/lo', 'n/locks/a.json', 'n/locks/b/c.json', 'n/lockstep']);
      expect(await s.list('n/locks/b/c.json')).toEqual(['n/locks/b/c.json']);
      expect(await s.list('n/none/')).toEqual([]);
      expect(await s.list('n/lo/')).toEqual([]);
    }));

  it('finds nothing for a prefix no key can have, and never looks outside the root', () =>
    withTempDir(async (tmp) => {
      await mkdir(tmp.file('outside'));
      await writeFile(join(tmp.file('outside'), 'secret'), 'x');
      const s = new LocalStorage(tmp.file('root'));
      await s.save('a/b', new Uint8Array([1]));
      for (const prefix of ['../outside/', '../', './a/', 'a//', '/a/', 'a/../a/']) expect(await s.list(prefix)).toEqual([]);
    }));

  it('does not follow a symbolic link on the way to the prefix, as the whole walk never did', () =>
    withTempDir(async (tmp) => {
      const s = new LocalStorage(tmp.file('root'));
      await s.save('real/k', new Uint8Array([1]));
      await symlink(tmp.file('root/real'), tmp.file('root/link'));
      expect(await s.list('')).toEqual(['real/k']);
      expect(await s.list('link/')).toEqual([]);
    }));

  // Regression: the walk read the whole work directory, every backup's artifacts, to list one
  // lock folder. A directory's access time moves when it is read (relatime updates an access
  // time older than the modification), which shows whether a sibling folder was read.
  it('does not read folders outside the prefix (listing one lock folder is not a walk of the work directory)', ({ skip }) =>
    withTempDir(async (tmp) => {
      const s = new LocalStorage(tmp.path);
      await s.save('other/big/artifact', new Uint8Array([1]));
      await s.save('name/locks/l.json', new Uint8Array([1]));
      const sibling = tmp.file('other/big');
      const old = new Date('2001-01-01T00:00:00Z');
      const readTime = async () => (await stat(sibling)).atimeMs;
      await utimes(sibling, old, new Date());
      await s.list('');
      const probeWorks = (await readTime()) !== old.getTime();
      if (!probeWorks) {
        if (onCi) throw new Error('directory access times do not change on read here (noatime): the probe cannot work on CI');
        skip('directory access times do not change on read here (noatime)');
      }
      await utimes(sibling, old, new Date());
      expect(await s.list('name/locks/')).toEqual(['name/locks/l.json']);
      expect(await readTime()).toBe(old.getTime());
    }));
});
