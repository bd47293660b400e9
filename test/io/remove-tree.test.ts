/**
 * rm -rf through descriptors: symlinks to outside directories are removed, never followed,
 * even when a directory is swapped for one while the removal runs.
 */
import { spawn } from 'node:child_process';
import { chmod, lstat, mkdir, readdir, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { anchoringWorks, Dir } from '../../src/io/anchored-dir.js';
import { removeTree } from '../../src/io/remove-tree.js';
import { onCi, requireTool, withTempDir } from '../helpers/tools.js';
import { startSwapper } from './anchored-dir.helpers.js';

const anchoring = await anchoringWorks();
const note = anchoring ? '' : ' (skipped: /proc/self/fd anchoring is unavailable here)';

/** An outside directory holding files a removal must never touch: `precious`, `sub/precious` and `o0`… */
async function makeOutside(path: string, extra = 0): Promise<void> {
  await mkdir(join(path, 'sub'), { recursive: true });
  await writeFile(join(path, 'precious'), 'keep');
  await writeFile(join(path, 'sub', 'precious'), 'keep');
  for (let i = 0; i < extra; i++) await writeFile(join(path, `o${i}`), 'keep');
}

async function outsideIntact(path: string, extra = 0): Promise<void> {
  const names = ['precious', 'sub', ...Array.from({ length: extra }, (_, i) => `o${i}`)];
  expect((await readdir(path)).sort()).toEqual(names.sort());
  expect(await readFile(join(path, 'sub', 'precious'), 'utf8')).toBe('keep');
}

async function withDir<T>(path: string, fn: (dir: Dir) => Promise<T>, forceFallback = false): Promise<T> {
  const dir = await Dir.open(path, { forceFallback });
  try {
    return await fn(dir);
  } finally {
    await dir.close();
  }
}

for (const forceFallback of [false, true]) {
  describe(`removeTree${forceFallback ? ' (fallback, forced)' : ''}`, () => {
    it('removeTree on a tree holding symlinks to outside directories removes only the links', () =>
      withTempDir(async (tmp) => {
        const outside = tmp.file('outside');
        await makeOutside(outside);
        const t = tmp.file('t');
        await mkdir(join(t, 'doomed/a/b'), { recursive: true });
        await writeFile(join(t, 'doomed/a/b/file'), 'x');
        await symlink(outside, join(t, 'doomed/abs-link'));
        await symlink('../../outside', join(t, 'doomed/rel-link'));
        await symlink(join(outside, 'precious'), join(t, 'doomed/a/file-link'));
        await symlink(join(outside, 'sub'), join(t, 'doomed/a/b/sub'));
        await symlink(outside, join(t, 'top-link'));
        await writeFile(join(t, 'keep'), 'x');
        await withDir(
          t,
          async (dir) => {
            await removeTree(dir, 'doomed');
            await removeTree(dir, 'top-link');
          },
          forceFallback,
        );
        expect(await readdir(t)).toEqual(['keep']);
        await outsideIntact(outside);
      }));

    it('removes a single file, an empty directory, and counts a missing entry as removed', () =>
      withTempDir(async (tmp) => {
        await writeFile(tmp.file('f'), 'x');
        await mkdir(tmp.file('d'));
        await withDir(
          tmp.path,
          async (dir) => {
            await removeTree(dir, 'f');
            await removeTree(dir, 'd');
            await removeTree(dir, 'missing');
          },
          forceFallback,
        );
        expect(await readdir(tmp.path)).toEqual([]);
      }));
  });
}

describe('removeTree', () => {
  it('removes directories of more entries than one listing batch, and names that are not UTF-8', () =>
    withTempDir(async (tmp) => {
      await mkdir(tmp.file('big/sub'), { recursive: true });
      for (let i = 0; i < 700; i++) await writeFile(tmp.file(`big/f${i}`), '');
      for (let i = 0; i < 300; i++) await mkdir(tmp.file(`big/sub/d${i}`));
      await writeFile(Buffer.concat([Buffer.from(tmp.file('big/')), Buffer.from([0xff, 0xfe])]), 'x');
      await withDir(tmp.path, (dir) => removeTree(dir, 'big'));
      expect(await readdir(tmp.path)).toEqual([]);
    }));

  it('refuses a name that is not one component with EUNSAFEPATH', () =>
    withTempDir(async (tmp) => {
      await mkdir(tmp.file('a/b'), { recursive: true });
      await withDir(tmp.path, async (dir) => {
        await expect(removeTree(dir, 'a/b')).rejects.toMatchObject({ code: 'EUNSAFEPATH' });
        await expect(removeTree(dir, '..')).rejects.toMatchObject({ code: 'EUNSAFEPATH' });
      });
      expect(await readdir(tmp.file('a'))).toEqual(['b']);
    }));

  // Root may unlink anything in a read-only directory, so as root the file is made immutable.
  const asRoot = process.getuid?.() === 0;
  const chattr = asRoot ? requireTool('chattr') : undefined;
  it.skipIf(chattr?.skip ?? false)(`fails with EIO naming the entry it cannot remove, the node error as cause${chattr?.note ?? ''}`, () =>
    withTempDir(async (tmp) => {
      await mkdir(tmp.file('a/locked'), { recursive: true });
      await writeFile(tmp.file('a/locked/f'), 'x');
      const lock = (on: boolean): Promise<void> =>
        asRoot ? run('chattr', [on ? '+i' : '-i', tmp.file('a/locked/f')]) : chmod(tmp.file('a/locked'), on ? 0o555 : 0o755);
      await lock(true);
      try {
        const err = await withDir(tmp.path, (dir) => removeTree(dir, 'a')).catch((e: unknown) => e);
        expect(err).toMatchObject({ code: 'EIO', path: tmp.file('a/locked/f'), cause: { code: asRoot ? 'EPERM' : 'EACCES' } });
      } finally {
        await lock(false);
      }
    }));
});

/** Run a command to completion; a non-zero exit is an error. */
function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}`))));
  });
}

describe.skipIf(!anchoring && !onCi)(`removeTree anchored${note}`, () => {
  it('removal race: a child process swapping directories for symlinks to outside while the tree is removed never removes anything outside', () =>
    withTempDir(async (tmp) => {
      const outside = tmp.file('outside');
      await makeOutside(outside, 50);
      const t = tmp.file('t');
      await mkdir(t);
      const names = Array.from({ length: 50 }, (_, i) => `x${i}`);
      const swapper = startSwapper(
        names.map((n) => join(t, 'doomed', n)),
        outside,
      );
      try {
        await swapper.started;
        // Every directory gives the swap a chance to fall between its lstat (a directory) and
        // its opening (a symlink by then): the moment a removal by path would follow it. The
        // tree is built aside and renamed in, so building it never writes through a link.
        for (let round = 0; round < 20; round++) {
          for (const n of names) {
            await mkdir(join(t, 'staging', n, 'd'), { recursive: true });
            await writeFile(join(t, 'staging', n, 'd', 'f'), '');
          }
          await rename(join(t, 'staging'), join(t, 'doomed'));
          // The swapper may put a link back in a directory being emptied until the retries
          // run out (a removal may fail under attack, it must not follow): try again until gone.
          for (let tries = 0; tries < 100 && (await readdir(t)).includes('doomed'); tries++) {
            await withDir(t, (dir) => removeTree(dir, 'doomed')).catch(() => undefined);
          }
        }
      } finally {
        await swapper.stop();
      }
      await withDir(t, (dir) => removeTree(dir, 'doomed'));
      expect(await readdir(t)).toEqual([]);
      await outsideIntact(outside, 50);
    }));

  it('removes a tree deeper than PATH_MAX', () =>
    withTempDir(async (tmp) => {
      const name = 'n'.repeat(255);
      let dir = await Dir.open(tmp.path);
      const opened: Dir[] = [dir];
      try {
        for (let i = 0; i < 20; i++) {
          await mkdir(dir.entry(name));
          await writeFile(dir.entry('f'), 'x');
          dir = await dir.openDir(name);
          opened.push(dir);
        }
      } finally {
        for (const d of opened.slice(1)) await d.close();
      }
      await expect(lstat(join(tmp.path, ...Array<string>(20).fill(name)))).rejects.toMatchObject({ code: 'ENAMETOOLONG' });
      await removeTree(opened[0]!, name);
      await opened[0]!.close();
      expect(await readdir(tmp.path)).toEqual(['f']);
    }));
});
