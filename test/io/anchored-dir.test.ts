/**
 * One open directory reached through its descriptor: entries never follow a symlink planted
 * above them, and a renamed-and-replaced directory keeps receiving the writes meant for it.
 */
import { constants } from 'node:fs';
import { lstat, lutimes, mkdir, open, readdir, readFile, readlink, rename, rmdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { anchoringWorks, Dir } from '../../src/io/anchored-dir.js';
import { onCi, withTempDir } from '../helpers/tools.js';

const { O_CREAT, O_EXCL, O_WRONLY, O_NOFOLLOW } = constants;
const CREATE = O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW;

const anchoring = await anchoringWorks();
const note = anchoring ? '' : ' (skipped: /proc/self/fd anchoring is unavailable here)';
if (!anchoring && !onCi) console.warn('[tests] /proc/self/fd anchoring unavailable: anchored-directory suites are skipped');

describe('anchoringWorks', () => {
  it.skipIf(process.platform !== 'linux' && !onCi)('is true on Linux with procfs at /proc (required when CI=true)', async () => {
    expect(await anchoringWorks()).toBe(true);
  });
});

describe('Dir.entry', () => {
  it.each(['', '.', '..', 'a/b', '/', 'a\0b'])('refuses %j with EUNSAFEPATH', (name) =>
    withTempDir(async (tmp) => {
      const dir = await Dir.open(tmp.path);
      try {
        expect(() => dir.entry(name)).toThrow(expect.objectContaining({ code: 'EUNSAFEPATH' }));
        expect(() => dir.entry(Buffer.from(name))).toThrow(expect.objectContaining({ code: 'EUNSAFEPATH' }));
      } finally {
        await dir.close();
      }
    }));

  it('accepts names that merely contain dots, and Buffer names that are not UTF-8', () =>
    withTempDir(async (tmp) => {
      const dir = await Dir.open(tmp.path);
      try {
        await writeFile(dir.entry('...'), 'x');
        await writeFile(dir.entry('.hidden'), 'x');
        await writeFile(dir.entry(Buffer.from([0xff, 0x41])), 'x');
        const names = (await readdir(tmp.path, { encoding: 'buffer' })).map((b) => b.toString('hex')).sort();
        expect(names).toEqual([Buffer.from('...').toString('hex'), Buffer.from('.hidden').toString('hex'), 'ff41'].sort());
      } finally {
        await dir.close();
      }
    }));

  it('refuses to build a path once the Dir is closed (its descriptor number may be reused)', () =>
    withTempDir(async (tmp) => {
      const dir = await Dir.open(tmp.path);
      await dir.close();
      expect(dir.closed).toBe(true);
      expect(() => dir.entry('f')).toThrow(expect.objectContaining({ code: 'EINTERNAL' }));
      expect(() => dir.anchor).toThrow(expect.objectContaining({ code: 'EINTERNAL' }));
      await dir.close();
    }));
});

describe('Dir.open', () => {
  it('refuses a root that is a symlink unless follow is set (the user chose the link)', () =>
    withTempDir(async (tmp) => {
      await mkdir(tmp.file('real'));
      await symlink(tmp.file('real'), tmp.file('link'));
      await expect(Dir.open(tmp.file('link'))).rejects.toMatchObject({ code: 'EUNSAFEPATH', path: tmp.file('link') });
      const dir = await Dir.open(tmp.file('link'), { follow: true });
      try {
        await writeFile(dir.entry('f'), 'x');
        expect(await readFile(tmp.file('real/f'), 'utf8')).toBe('x');
      } finally {
        await dir.close();
      }
    }));

  it('fails with EIO naming a missing root, ENOENT kept as the cause', () =>
    withTempDir(async (tmp) => {
      const err = await Dir.open(tmp.file('nope')).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'EIO', path: tmp.file('nope'), cause: { code: 'ENOENT' } });
    }));
});

describe('Dir.openDir', () => {
  it('refuses a symlink to a directory and a file with EUNSAFEPATH; a missing name is EIO with ENOENT as cause', () =>
    withTempDir(async (tmp) => {
      await mkdir(tmp.file('sub'));
      await symlink(tmp.file('sub'), tmp.file('link'));
      await writeFile(tmp.file('file'), 'x');
      const dir = await Dir.open(tmp.path);
      try {
        await expect(dir.openDir('link')).rejects.toMatchObject({ code: 'EUNSAFEPATH', path: tmp.file('link') });
        await expect(dir.openDir('file')).rejects.toMatchObject({ code: 'EUNSAFEPATH', path: tmp.file('file') });
        await expect(dir.openDir('nope')).rejects.toMatchObject({ code: 'EIO', cause: { code: 'ENOENT' } });
        const sub = await dir.openDir('sub');
        expect(sub.path).toBe(tmp.file('sub'));
        await sub.close();
      } finally {
        await dir.close();
      }
    }));
});

describe.skipIf(!anchoring && !onCi)(`anchored Dir${note}`, () => {
  it('restore target race: an open Dir keeps writing into its directory after it is renamed and replaced by a symlink to an outside directory', () =>
    withTempDir(async (tmp) => {
      const target = tmp.file('target');
      const outside = tmp.file('outside');
      await mkdir(join(target, 'a'), { recursive: true });
      await mkdir(outside);
      const a = await Dir.open(join(target, 'a'));
      try {
        expect(a.anchored).toBe(true);
        expect(a.entry('x')).toBe(`/proc/self/fd/${a.fd}/x`);
        await rename(join(target, 'a'), join(target, 'a-moved'));
        await symlink(outside, join(target, 'a'));
        // The swap is real: a write by path goes outside.
        await writeFile(join(target, 'a', 'by-path'), 'x');
        expect(await readdir(outside)).toEqual(['by-path']);

        const fh = await open(a.entry('file'), CREATE);
        await fh.writeFile('anchored');
        await fh.close();
        await mkdir(a.entry('dir'));
        await symlink('../elsewhere', a.entry('link'));
        await lutimes(a.entry('link'), 1, 1);
        await rename(a.entry('file'), a.entry('renamed'));
        const listed = await readdir(a.anchor);

        expect(listed.sort()).toEqual(['dir', 'link', 'renamed']);
        expect(await readdir(outside)).toEqual(['by-path']);
        expect((await readdir(join(target, 'a-moved'))).sort()).toEqual(['dir', 'link', 'renamed']);
        expect(await readFile(join(target, 'a-moved', 'renamed'), 'utf8')).toBe('anchored');
        expect(await readlink(a.entry('link'))).toBe('../elsewhere');
        expect((await lstat(a.entry('link'))).mtimeMs).toBe(1000);
      } finally {
        await a.close();
      }
    }));

  it('a symlink planted as the last component is not followed by O_NOFOLLOW creation, lstat or rmdir', () =>
    withTempDir(async (tmp) => {
      await mkdir(tmp.file('outside'));
      await writeFile(tmp.file('outside/victim'), 'keep');
      await mkdir(tmp.file('t'));
      await symlink(tmp.file('outside/victim'), tmp.file('t/f'));
      await symlink(tmp.file('outside'), tmp.file('t/d'));
      const t = await Dir.open(tmp.file('t'));
      try {
        await expect(open(t.entry('f'), CREATE)).rejects.toMatchObject({ code: 'EEXIST' });
        await expect(open(t.entry('f'), O_WRONLY | O_NOFOLLOW)).rejects.toMatchObject({ code: 'ELOOP' });
        expect((await lstat(t.entry('d'))).isSymbolicLink()).toBe(true);
        await expect(rmdir(t.entry('d'))).rejects.toMatchObject({ code: 'ENOTDIR' });
        expect(await readFile(tmp.file('outside/victim'), 'utf8')).toBe('keep');
      } finally {
        await t.close();
      }
    }));
});

describe('Dir fallback (joined paths, forced)', () => {
  it('works with short paths: create, list, stat, open a subdirectory, refuse a symlink', () =>
    withTempDir(async (tmp) => {
      await mkdir(tmp.file('sub'));
      await symlink(tmp.file('sub'), tmp.file('link'));
      const dir = await Dir.open(tmp.path, { forceFallback: true });
      try {
        expect(dir.anchored).toBe(false);
        expect(dir.entry('x')).toBe(tmp.file('x'));
        expect(dir.anchor).toBe(tmp.path);
        const sub = await dir.openDir('sub');
        expect(sub.anchored).toBe(false);
        await writeFile(sub.entry('f'), 'x');
        expect(await readdir(sub.anchor)).toEqual(['f']);
        expect((await lstat(sub.entry('f'))).size).toBe(1);
        await sub.close();
        await expect(dir.openDir('link')).rejects.toMatchObject({ code: 'EUNSAFEPATH' });
      } finally {
        await dir.close();
      }
    }));
});
