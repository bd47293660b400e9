/**
 * The open directories of a tree: resolution that refuses a symlink swapped in between two
 * steps, paths deeper than PATH_MAX, and a descriptor bound that never closes a directory in use.
 */
import { constants, fstat as fstatCb } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { isBackupError } from '../../src/errors.js';
import { anchoringWorks } from '../../src/io/anchored-dir.js';
import { DirTree } from '../../src/io/dir-tree.js';
import { onCi, withTempDir } from '../helpers/tools.js';
import { startSwapper } from './anchored-dir.helpers.js';

const fstat = promisify(fstatCb);
const { O_CREAT, O_EXCL, O_WRONLY, O_NOFOLLOW } = constants;
const CREATE = O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW;

const anchoring = await anchoringWorks();
const note = anchoring ? '' : ' (skipped: /proc/self/fd anchoring is unavailable here)';

async function create(path: string, text = ''): Promise<void> {
  const fh = await open(path, CREATE);
  try {
    await fh.writeFile(text);
  } finally {
    await fh.close();
  }
}

async function errorOf(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe('DirTree', () => {
  it('resolves a relative path component by component; "" is the root', () =>
    withTempDir(async (tmp) => {
      await mkdir(tmp.file('a/b/c'), { recursive: true });
      const tree = await DirTree.open(tmp.path);
      try {
        await tree.use('a/b/c', (dir) => create(dir.entry('f'), 'deep'));
        await tree.use('', (dir) => create(dir.entry('top')));
        expect(await readFile(tmp.file('a/b/c/f'), 'utf8')).toBe('deep');
        expect(await readdir(tmp.path)).toContain('top');
        expect(tree.openCount).toBe(4);
      } finally {
        await tree.close();
      }
    }));

  it.each(['/a', 'a/', 'a//b', './a', 'a/../b', 'a/\0'])('refuses the relative path %j with EUNSAFEPATH', (rel) =>
    withTempDir(async (tmp) => {
      const tree = await DirTree.open(tmp.path);
      try {
        await expect(tree.acquire(rel)).rejects.toMatchObject({ code: 'EUNSAFEPATH' });
        expect(tree.openCount).toBe(1);
      } finally {
        await tree.close();
      }
    }));

  it('a missing component fails with EIO whose cause is ENOENT (a walk warns EVANISHED), and is not cached', () =>
    withTempDir(async (tmp) => {
      await mkdir(tmp.file('a'));
      const tree = await DirTree.open(tmp.path);
      try {
        const err = await errorOf(tree.acquire('a/b/c'));
        expect(err).toMatchObject({ code: 'EIO', path: tmp.file('a/b'), cause: { code: 'ENOENT' } });
        expect(tree.openCount).toBeLessThanOrEqual(2);
        await mkdir(tmp.file('a/b/c'), { recursive: true });
        await tree.use('a/b/c', (dir) => create(dir.entry('f')));
        expect(await readdir(tmp.file('a/b/c'))).toEqual(['f']);
      } finally {
        await tree.close();
      }
    }));

  it('refuses a component that is a file with EUNSAFEPATH naming its relative path', () =>
    withTempDir(async (tmp) => {
      await writeFile(tmp.file('f'), 'x');
      const tree = await DirTree.open(tmp.path);
      try {
        const err = await errorOf(tree.acquire('f/x'));
        expect(err).toMatchObject({ code: 'EUNSAFEPATH', path: 'f' });
        expect((err as Error).message).toMatch(/"f" is not a real directory/);
      } finally {
        await tree.close();
      }
    }));

  it('concurrent users of the same and of nested paths share one descriptor per directory', () =>
    withTempDir(async (tmp) => {
      for (let i = 0; i < 4; i++) await mkdir(tmp.file(`a/b${i}/c`), { recursive: true });
      const tree = await DirTree.open(tmp.path);
      try {
        const seen = new Map<string, Set<number>>();
        await Promise.all(
          Array.from({ length: 40 }, (_, i) => {
            const rel = `a/b${i % 4}${i % 8 >= 4 ? '/c' : ''}`;
            return tree.use(rel, async (dir) => {
              seen.set(rel, (seen.get(rel) ?? new Set()).add(dir.fd));
              await create(dir.entry(`f${i}`));
            });
          }),
        );
        for (const fds of seen.values()) expect(fds.size).toBe(1);
        expect(tree.openCount).toBe(1 + 1 + 4 + 4);
        expect((await readdir(tmp.file('a/b1/c'))).length).toBe(5);
      } finally {
        await tree.close();
      }
    }));

  it('remove: removes an entry through its parent and forgets it', () =>
    withTempDir(async (tmp) => {
      await mkdir(tmp.file('a/b/c'), { recursive: true });
      const tree = await DirTree.open(tmp.path);
      try {
        await tree.use('a/b/c', (dir) => create(dir.entry('f')));
        await tree.remove('a/b');
        expect(await readdir(tmp.file('a'))).toEqual([]);
        expect(tree.openCount).toBe(2);
        await expect(tree.acquire('a/b')).rejects.toMatchObject({ code: 'EIO', cause: { code: 'ENOENT' } });
      } finally {
        await tree.close();
      }
    }));

  it('close: the tree refuses further use; release of a foreign Dir is refused', () =>
    withTempDir(async (tmp) => {
      const tree = await DirTree.open(tmp.path);
      const other = await DirTree.open(tmp.path);
      const root = await other.acquire('');
      expect(() => tree.release(root)).toThrow(expect.objectContaining({ code: 'EINTERNAL' }));
      other.release(root);
      await other.close();
      await tree.close();
      await expect(tree.acquire('')).rejects.toMatchObject({ code: 'EINTERNAL' });
      expect(tree.root.closed).toBe(true);
    }));

  it('forget and close leave a pinned directory open until its user releases it', () =>
    withTempDir(async (tmp) => {
      await mkdir(tmp.file('a/b'), { recursive: true });
      const tree = await DirTree.open(tmp.path);
      const b = await tree.acquire('a/b');
      tree.forget('a');
      expect(b.closed).toBe(false);
      await create(b.entry('after-forget'));
      const root = await tree.acquire('');
      await tree.close();
      expect(b.closed).toBe(false);
      expect(root.closed).toBe(false);
      await create(b.entry('after-close'));
      expect(tree.openCount).toBe(2);
      tree.release(b);
      tree.release(root);
      expect(tree.openCount).toBe(0);
      expect(b.closed).toBe(true);
      expect(root.closed).toBe(true);
      expect((await readdir(tmp.file('a/b'))).sort()).toEqual(['after-close', 'after-forget']);
    }));

  it('refuses maxOpen below 2 with EPARAM', () =>
    withTempDir(async (tmp) => {
      await expect(DirTree.open(tmp.path, { maxOpen: 1 })).rejects.toMatchObject({ code: 'EPARAM' });
    }));
});

describe('DirTree fallback (joined paths, forced)', () => {
  it('works with short paths: resolves, creates, removes, and still refuses a symlink already in place', () =>
    withTempDir(async (tmp) => {
      await mkdir(tmp.file('a/b'), { recursive: true });
      await symlink(tmp.file('a'), tmp.file('link'));
      const tree = await DirTree.open(tmp.path, { forceFallback: true });
      try {
        await tree.use('a/b', async (dir) => {
          expect(dir.anchored).toBe(false);
          await create(dir.entry('f'), 'x');
        });
        expect(await readFile(tmp.file('a/b/f'), 'utf8')).toBe('x');
        await expect(tree.acquire('link/b')).rejects.toMatchObject({ code: 'EUNSAFEPATH', path: 'link' });
        await tree.remove('a');
        expect(await readdir(tmp.path)).toEqual(['link']);
      } finally {
        await tree.close();
      }
    }));

  it('fails with ENAMETOOLONG beyond PATH_MAX, as its header says', () =>
    withTempDir(async (tmp) => {
      const name = 'd'.repeat(250);
      const tree = await DirTree.open(tmp.path, { forceFallback: true });
      try {
        let rel = '';
        let err: unknown;
        for (let i = 0; i < 20 && err === undefined; i++) {
          err = await errorOf(tree.use(rel, (dir) => mkdir(dir.entry(name))));
          rel = rel ? `${rel}/${name}` : name;
        }
        // Either the resolution (EIO naming the directory) or the joined path given to mkdir fails.
        const code = isBackupError(err) ? (err.cause as NodeJS.ErrnoException).code : (err as NodeJS.ErrnoException).code;
        expect(code).toBe('ENAMETOOLONG');
        expect(Buffer.byteLength(join(tmp.path, rel))).toBeGreaterThan(4096);
      } finally {
        await tree.close();
      }
    }));
});

describe('DirTree descriptor bound', () => {
  it('LRU eviction never closes a pinned directory', () =>
    withTempDir(async (tmp) => {
      for (let i = 0; i < 20; i++) await mkdir(tmp.file(`q${i}`));
      await mkdir(tmp.file('p'));
      const tree = await DirTree.open(tmp.path, { maxOpen: 3 });
      try {
        const p = await tree.acquire('p');
        for (let i = 0; i < 20; i++) {
          await tree.use(`q${i}`, (dir) => create(dir.entry('f')));
          expect(tree.openCount).toBeLessThanOrEqual(3);
        }
        expect(p.closed).toBe(false);
        expect((await fstat(p.fd)).ino).toBe((await lstat(tmp.file('p'))).ino);
        await create(p.entry('still-here'));
        expect(await readdir(tmp.file('p'))).toEqual(['still-here']);
        tree.release(p);
        // Released, it is now the least recently used and goes at the next eviction.
        await tree.use('q0', () => undefined);
        await tree.use('q1', () => undefined);
        expect(p.closed).toBe(true);
      } finally {
        await tree.close();
      }
    }));

  it('more directories pinned at once than maxOpen all stay open, and the bound holds again once released', () =>
    withTempDir(async (tmp) => {
      for (let i = 0; i < 6; i++) await mkdir(tmp.file(`d${i}`));
      const tree = await DirTree.open(tmp.path, { maxOpen: 3 });
      try {
        const dirs = await Promise.all(Array.from({ length: 6 }, (_, i) => tree.acquire(`d${i}`)));
        expect(dirs.every((d) => !d.closed)).toBe(true);
        expect(tree.openCount).toBe(7);
        for (const d of dirs) tree.release(d);
        expect(tree.openCount).toBeLessThanOrEqual(3);
        expect(dirs.filter((d) => d.closed).length).toBe(4);
      } finally {
        await tree.close();
      }
    }));

  it.skipIf(process.platform !== 'linux' && !onCi)('holds at most maxOpen real descriptors while walking 100 nested and sibling directories', () =>
    withTempDir(async (tmp) => {
      for (let i = 0; i < 10; i++) await mkdir(tmp.file(`s${i}/a/b/c/d/e/f/g/h/i`), { recursive: true });
      const fds = async (): Promise<number> => (await readdir('/proc/self/fd')).length;
      const before = await fds();
      const tree = await DirTree.open(tmp.path, { maxOpen: 8 });
      let most = 0;
      try {
        for (let i = 0; i < 10; i++) {
          let rel = `s${i}`;
          for (const c of ['', ...'abcdefghi']) {
            if (c) rel += `/${c}`;
            await tree.use(rel, (dir) => create(dir.entry('file')));
            most = Math.max(most, (await fds()) - before);
          }
        }
      } finally {
        await tree.close();
      }
      // One more than maxOpen: the readdir of /proc/self/fd holds a descriptor itself.
      expect(most).toBeLessThanOrEqual(8 + 1);
      expect(await fds()).toBe(before);
    }));
});

describe.skipIf(!anchoring && !onCi)(`DirTree anchored${note}`, () => {
  it('forget: a directory replaced through the tree is opened afresh; until then the old one is used', () =>
    withTempDir(async (tmp) => {
      await mkdir(tmp.file('a'));
      const tree = await DirTree.open(tmp.path);
      try {
        await tree.use('a', (dir) => create(dir.entry('1')));
        await rename(tmp.file('a'), tmp.file('old'));
        await mkdir(tmp.file('a'));
        await tree.use('a', (dir) => create(dir.entry('2')));
        tree.forget('a');
        await tree.use('a', (dir) => create(dir.entry('3')));
        expect((await readdir(tmp.file('old'))).sort()).toEqual(['1', '2']);
        expect(await readdir(tmp.file('a'))).toEqual(['3']);
      } finally {
        await tree.close();
      }
    }));

  it('restore target race: a directory swapped for a symlink between resolution steps is refused with EUNSAFEPATH, nothing written outside', () =>
    withTempDir(async (tmp) => {
      const target = tmp.file('target');
      const outside = tmp.file('outside');
      await mkdir(join(target, 'a/b/c'), { recursive: true });
      await mkdir(join(outside, 'c'), { recursive: true });
      const tree = await DirTree.open(target);
      try {
        await tree.use('a', () => undefined);
        await rename(join(target, 'a/b'), join(target, 'a/b-moved'));
        await symlink(outside, join(target, 'a/b'));
        const err = await errorOf(tree.use('a/b/c', (dir) => create(dir.entry('f'))));
        expect(err).toMatchObject({ code: 'EUNSAFEPATH', path: 'a/b' });
        expect((err as Error).message).toContain(target);
        await expect(tree.use('a/b', (dir) => create(dir.entry('f')))).rejects.toMatchObject({ code: 'EUNSAFEPATH', path: 'a/b' });
        expect(await readdir(join(outside, 'c'))).toEqual([]);
        expect(await readdir(outside)).toEqual(['c']);
      } finally {
        await tree.close();
      }
    }));

  it('paths longer than 4096 bytes: a tree deeper than PATH_MAX can be created, listed, stat\'ed, written, read and removed', () =>
    withTempDir(async (tmp) => {
      const name = 'd'.repeat(200);
      const rels: string[] = [];
      for (let rel = name; rels.length < 25; rel += `/${name}`) rels.push(rel);
      const deep = rels[rels.length - 1]!;
      const tree = await DirTree.open(tmp.path, { maxOpen: 4 });
      try {
        let parent = '';
        for (const rel of rels) {
          await tree.use(parent, (dir) => mkdir(dir.entry(name)));
          parent = rel;
        }
        expect(Buffer.byteLength(join(tmp.path, deep, 'file'))).toBeGreaterThan(5000);
        // The tree really is out of reach of plain paths.
        await expect(lstat(join(tmp.path, deep, 'file'))).rejects.toMatchObject({ code: 'ENAMETOOLONG' });

        await tree.use(deep, async (dir) => {
          await create(dir.entry('file'), 'at the bottom');
          await mkdir(dir.entry('sub'));
          await symlink('file', dir.entry('link'));
        });
        tree.forget(name);
        await tree.use(deep, async (dir) => {
          expect((await readdir(dir.anchor)).sort()).toEqual(['file', 'link', 'sub']);
          expect((await lstat(dir.entry('file'))).size).toBe(13);
          expect((await lstat(dir.entry('link'))).isSymbolicLink()).toBe(true);
          expect(await readFile(dir.entry('file'), 'utf8')).toBe('at the bottom');
        });
        await tree.use(`${deep}/sub`, (dir) => create(dir.entry('x')));
        expect(tree.openCount).toBeLessThanOrEqual(4);
      } finally {
        await tree.remove(name);
        await tree.close();
      }
      expect(await readdir(tmp.path)).toEqual([]);
    }));

  it('restore target race loop: a child process swapping a directory for a symlink to outside while 200 files are created through the tree puts zero files outside', () =>
    withTempDir(async (tmp) => {
      const target = tmp.file('target');
      const outside = tmp.file('outside');
      await mkdir(join(target, 'a/b'), { recursive: true });
      await mkdir(outside);
      const swapper = startSwapper([join(target, 'a/b')], outside);
      const tree = await DirTree.open(target);
      let created = 0;
      let refused = 0;
      let vanished = 0;
      try {
        await swapper.started;
        for (let attempt = 0; created < 200 || refused + vanished === 0; attempt++) {
          if (attempt > 200_000) throw new Error(`the swap never met a resolution (${created} created)`);
          tree.forget('a/b');
          try {
            await tree.use('a/b', (dir) => create(dir.entry(`f${attempt}`)));
            created++;
          } catch (e) {
            if (isBackupError(e, 'EUNSAFEPATH')) refused++;
            else if (isBackupError(e, 'EIO') && (e.cause as NodeJS.ErrnoException).code === 'ENOENT') vanished++;
            else throw e;
          }
        }
        expect(await readdir(outside)).toEqual([]);

        // The same loop by plain paths lets files out: the attack is real while it runs.
        let escaped = 0;
        for (let attempt = 0; escaped === 0; attempt++) {
          if (attempt > 200_000) throw new Error('plain-path writes never met the swap');
          await writeFile(join(target, 'a/b', `plain${attempt}`), '', { flag: 'wx' }).catch(() => undefined);
          escaped = (await readdir(outside)).length;
        }
      } finally {
        await swapper.stop();
        await tree.close();
      }
      const inside = [...(await readdir(join(target, 'a/b')).catch(() => [])), ...(await readdir(join(target, 'a/b.real')).catch(() => []))];
      expect(inside.filter((n) => n.startsWith('f')).length).toBe(created);
      expect((await readdir(outside)).filter((n) => n.startsWith('f'))).toEqual([]);
    }));
});
