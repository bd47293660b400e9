/**
 * The local-directory storage: the conformance suite, and what only a directory has —
 * temporary files, symbolic links, folders the walk must not read.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalStorage, listKeys } from '../../src/storage/index.js';
import { storageConformance } from '../../src/testing/index.js';
import { onCi, useTempDir, withTempDir } from '../helpers/tools.js';

const base = useTempDir();
storageConformance('LocalStorage', async () => new LocalStorage(await mkdtemp(join(base.path, 'storage-'))));

/** Every name under `dir`, recursively, temporary files included. */
async function allNames(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).sort();
}

describe('LocalStorage.save', () => {
  it('leaves no temporary file behind, after a conditional save that won, one that lost, and a failed one', () =>
    withTempDir(async (tmp) => {
      const s = new LocalStorage(tmp.path);
      await s.save('k/a', new Uint8Array([1]), { ifNoneMatch: true });
      await expect(s.save('k/a', new Uint8Array([2]), { ifNoneMatch: true })).rejects.toMatchObject({ code: 'EEXIST', message: expect.stringContaining('k/a') });
      const failing = (async function* () {
        yield new Uint8Array([1, 2]);
        throw new Error('source failed');
      })();
      await expect(s.save('k/b', failing)).rejects.toThrow('source failed');
      expect(await allNames(tmp.path)).toEqual(['k', 'k/a']);
    }));

  it('writes an object under its real name only when complete', () =>
    withTempDir(async (tmp) => {
      const s = new LocalStorage(tmp.path);
      let seenDuringSave: string[] = [];
      await s.save('k/a', async function* () {
        yield new Uint8Array([1]);
        seenDuringSave = await readdir(join(tmp.path, 'k'));
        yield new Uint8Array([2]);
      });
      expect(seenDuringSave.length).toBe(1);
      expect(seenDuringSave[0]).toMatch(/^\.a\..*\.tmp$/);
      expect(await listKeys(s, '')).toEqual(['k/a']);
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
      expect(await listKeys(s, 'n/locks/')).toEqual(['n/locks/a.json', 'n/locks/b/c.json']);
      expect(await listKeys(s, 'n/locks')).toEqual(['n/locks/a.json', 'n/locks/b/c.json', 'n/lockstep']);
      expect(await listKeys(s, 'n/l')).toEqual(['n/lo', 'n/locks/a.json', 'n/locks/b/c.json', 'n/lockstep']);
      expect(await listKeys(s, 'n/locks/b/c.json')).toEqual(['n/locks/b/c.json']);
      expect(await listKeys(s, 'n/none/')).toEqual([]);
      expect(await listKeys(s, 'n/lo/')).toEqual([]);
    }));

  it('finds nothing for a prefix no key can have, and never looks outside the root', () =>
    withTempDir(async (tmp) => {
      await mkdir(tmp.file('outside'));
      await writeFile(join(tmp.file('outside'), 'secret'), 'x');
      const s = new LocalStorage(tmp.file('root'));
      await s.save('a/b', new Uint8Array([1]));
      for (const prefix of ['../outside/', '../', './a/', 'a//', '/a/', 'a/../a/']) expect(await listKeys(s, prefix)).toEqual([]);
    }));

  it('does not follow a symbolic link on the way to the prefix, or below it', () =>
    withTempDir(async (tmp) => {
      const s = new LocalStorage(tmp.file('root'));
      await s.save('real/k', new Uint8Array([1]));
      await symlink(tmp.file('root/real'), tmp.file('root/link'));
      await symlink(tmp.file('root/real/k'), tmp.file('root/real/alias'));
      expect(await listKeys(s, '')).toEqual(['real/k']);
      expect(await listKeys(s, 'link/')).toEqual([]);
    }));

  // Regression: the walk read the whole work directory, every backup's artifacts, to list one
  // lock folder. A directory's access time moves when it is read (relatime updates an access
  // time older than the modification), which shows whether a folder was read.
  it('does not read folders outside the prefix (listing one lock folder is not a walk of the work directory)', ({ skip }) =>
    withTempDir(async (tmp) => {
      const s = new LocalStorage(tmp.path);
      await s.save('other/big/artifact', new Uint8Array([1]));
      await s.save('name/locks/l.json', new Uint8Array([1]));
      const probe = await atimeProbe(tmp.file('other/big'), () => listKeys(s, ''));
      if (!probe) return skipNoAtime(skip);
      await probe.reset();
      expect(await listKeys(s, 'name/locks/')).toEqual(['name/locks/l.json']);
      expect(await probe.wasRead()).toBe(false);
    }));

  // Regression: the walk collected and sorted every key before yielding the first, so memory
  // grew with the repository; now a reader that stops early has not read the later folders.
  it('yields keys while it walks: a reader that stops after the first key has not read the later folders', ({ skip }) =>
    withTempDir(async (tmp) => {
      const s = new LocalStorage(tmp.path);
      await s.save('a/first', new Uint8Array([1]));
      await s.save('z/deep/last', new Uint8Array([1]));
      const probe = await atimeProbe(tmp.file('z/deep'), () => listKeys(s, ''));
      if (!probe) return skipNoAtime(skip);
      await probe.reset();
      for await (const key of s.list('')) {
        expect(key).toBe('a/first');
        break;
      }
      expect(await probe.wasRead()).toBe(false);
    }));
});

/**
 * Whether the folder `dir` is read, by its access time; undefined when reading (`read`) does
 * not move access times here (a noatime mount).
 */
async function atimeProbe(dir: string, read: () => Promise<unknown>): Promise<{ reset: () => Promise<void>; wasRead: () => Promise<boolean> } | undefined> {
  const old = new Date('2001-01-01T00:00:00Z');
  const reset = () => utimes(dir, old, new Date());
  const wasRead = async () => (await stat(dir)).atimeMs !== old.getTime();
  await reset();
  await read();
  return (await wasRead()) ? { reset, wasRead } : undefined;
}

function skipNoAtime(skip: (note: string) => void): void {
  if (onCi) throw new Error('directory access times do not change on read here (noatime): the probe cannot work on CI');
  skip('directory access times do not change on read here (noatime)');
}

describe('LocalStorage.abortIncomplete', () => {
  it('regression: a save killed half-way left its temporary file in a local repository forever; the files of dead writers under the prefix go, a live writer\'s stay', () =>
    withTempDir(async (tmp) => {
      const s = new LocalStorage(tmp.file('repo'));
      await s.save('name/kept', new Uint8Array([1]));
      await s.save('other/kept', new Uint8Array([1]));
      const dead = spawnSync(process.execPath, ['-e', 'process.pid']).pid!;
      const deadTemp = join(tmp.file('repo'), 'name', `.x.files.tar.${dead}-0123456789ab.tmp`);
      const deadLock = join(tmp.file('repo'), 'name/locks');
      await mkdir(deadLock, { recursive: true });
      await writeFile(deadTemp, 'half an upload');
      await writeFile(join(deadLock, `.l.json.${dead}-0123456789ab.tmp`), 'half a lock');
      const otherTemp = join(tmp.file('repo'), 'other', `.y.tar.${dead}-0123456789ab.tmp`);
      await writeFile(otherTemp, 'not under the prefix');
      const live = join(tmp.file('repo'), 'name', `.z.tar.${process.pid}-0123456789ab.tmp`);
      await writeFile(live, 'being written');
      expect(await s.abortIncomplete('name/')).toBe(2);
      expect(existsSync(deadTemp)).toBe(false);
      expect(existsSync(live)).toBe(true);
      expect(existsSync(otherTemp)).toBe(true);
      expect(await listKeys(s, '')).toEqual(['name/kept', 'other/kept']);
    }));
});
