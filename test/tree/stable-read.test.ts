/**
 * Reading a file that changes, vanishes or is replaced under the read: exactly the size of
 * what was opened, a flag when it moved (ctime included), `racy` when its times are too
 * recent to trust, and a warning, never a hang or an error, for whatever stands where the
 * file was. The descriptor belongs to the read: `close()` releases it whether or not the
 * chunks were iterated.
 */
import { spawnSync } from 'node:child_process';
import { appendFile, chmod, mkdir, readdir, readlink, rename, rm, stat, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { DirTree } from '../../src/io/dir-tree.js';
import { openStable, type StableRead } from '../../src/tree/index.js';
import { collect } from '../helpers/streams.js';
import { distBuilt, runUnprivileged } from '../helpers/unprivileged.js';
import { onCi, requireTool, withTempDir, type TempDir } from '../helpers/tools.js';

const mkfifo = requireTool('mkfifo');
const distNote = distBuilt ? '' : ' (skipped: run npm run build first)';

/** Run `fn` with a DirTree on the temp dir, closed afterwards. */
async function withTree<T>(tmp: TempDir, fn: (tree: DirTree) => Promise<T>): Promise<T> {
  const tree = await DirTree.open(tmp.path);
  try {
    return await fn(tree);
  } finally {
    await tree.close();
  }
}

/** Open `path`, expecting a read. */
async function reading(tree: DirTree, path: string, racyMarginMs?: number): Promise<StableRead> {
  const opened = await openStable(tree, path, racyMarginMs === undefined ? {} : { racyMarginMs });
  if (!opened.read) throw new Error(`expected a read of ${path}, got ${JSON.stringify(opened.warning)}`);
  return opened.read;
}

/** How many of this process's descriptors are open on `file`. */
async function descriptorsOn(file: string): Promise<number> {
  let n = 0;
  for (const fd of await readdir('/proc/self/fd')) {
    if ((await readlink(`/proc/self/fd/${fd}`).catch(() => '')) === file) n++;
  }
  return n;
}

describe('openStable', () => {
  it('reads an unchanged file as is; its metadata comes from the opened descriptor', () =>
    withTempDir((tmp) =>
      withTree(tmp, async (tree) => {
        await mkdir(tmp.file('a'));
        await writeFile(tmp.file('a/f'), 'hello');
        const r = await reading(tree, 'a/f');
        try {
          const st = await stat(tmp.file('a/f'), { bigint: true });
          expect(r.meta).toMatchObject({ type: 'file', size: 5, mtime: st.mtimeNs.toString(), ctime: st.ctimeNs.toString(), ino: st.ino.toString() });
          expect((await collect(r.chunks)).toString()).toBe('hello');
          expect(r.changed).toBe(false);
        } finally {
          await r.close();
        }
      }),
    ));

  it('records the file that was opened when it was replaced after the walk (new size, new inode), not the walked one', () =>
    withTempDir((tmp) =>
      withTree(tmp, async (tree) => {
        await writeFile(tmp.file('f'), 'walked');
        const walked = await stat(tmp.file('f'), { bigint: true });
        await writeFile(tmp.file('f.new'), 'replaced, longer');
        await rename(tmp.file('f.new'), tmp.file('f'));
        const r = await reading(tree, 'f');
        try {
          expect(r.meta.ino).not.toBe(walked.ino.toString());
          expect(r.meta.size).toBe(16);
          expect((await collect(r.chunks)).toString()).toBe('replaced, longer');
          expect(r.changed).toBe(false);
        } finally {
          await r.close();
        }
      }),
    ));

  it('pads a file that shrank with zeros to the opened size and flags it', () =>
    withTempDir((tmp) =>
      withTree(tmp, async (tree) => {
        await writeFile(tmp.file('f'), Buffer.alloc(3 << 20, 7));
        const r = await reading(tree, 'f');
        try {
          const it = r.chunks[Symbol.asyncIterator]();
          const first = await it.next();
          await truncate(tmp.file('f'), 1 << 20);
          const rest: Uint8Array[] = [];
          for (let n = await it.next(); !n.done; n = await it.next()) rest.push(n.value);
          const all = Buffer.concat([first.value as Uint8Array, ...rest]);
          expect(all.length).toBe(3 << 20);
          expect(all[(1 << 20) - 1]).toBe(7);
          expect(all[(2 << 20) + 5]).toBe(0);
          expect(r.changed).toBe(true);
        } finally {
          await r.close();
        }
      }),
    ));

  it('stops at the opened size when the file grew, and flags it', () =>
    withTempDir((tmp) =>
      withTree(tmp, async (tree) => {
        await writeFile(tmp.file('f'), 'abc');
        const r = await reading(tree, 'f');
        try {
          await appendFile(tmp.file('f'), 'def');
          expect((await collect(r.chunks)).toString()).toBe('abc');
          expect(r.changed).toBe(true);
        } finally {
          await r.close();
        }
      }),
    ));

  it('a torn read where the writer puts the exact mtime back (touch -r) is flagged changed (was: stored as clean)', () =>
    withTempDir((tmp) =>
      withTree(tmp, async (tree) => {
        await writeFile(tmp.file('f'), Buffer.alloc(3 << 20, 0x61));
        await utimes(tmp.file('f'), 1_600_000_000, 1_600_000_000);
        // The racy check is off: this proves the before/after comparison alone catches it.
        const r = await reading(tree, 'f', 0);
        try {
          const it = r.chunks[Symbol.asyncIterator]();
          const first = (await it.next()).value as Uint8Array;
          // Past one clock tick of the coarsest kernel clock, so the ctime can move.
          await sleep(25);
          await writeFile(tmp.file('f'), Buffer.alloc(3 << 20, 0x62));
          await utimes(tmp.file('f'), 1_600_000_000, 1_600_000_000);
          const rest: Uint8Array[] = [];
          for (let n = await it.next(); !n.done; n = await it.next()) rest.push(n.value);
          const all = Buffer.concat([first, ...rest]);
          expect(all[0]).toBe(0x61);
          expect(all[all.length - 1]).toBe(0x62);
          // Size and mtime are what they were: only the ctime tells.
          const now = await stat(tmp.file('f'), { bigint: true });
          expect([now.size.toString(), now.mtimeNs.toString()]).toEqual([String(r.meta.size), r.meta.mtime]);
          expect(r.changed).toBe(true);
          expect(r.racy).toBe(false);
        } finally {
          await r.close();
        }
      }),
    ));

  it('a file written within the racy margin of its read is racy (git\'s racily clean), one older than the margin is not', () =>
    withTempDir((tmp) =>
      withTree(tmp, async (tree) => {
        await writeFile(tmp.file('f'), 'fresh');
        const fresh = await reading(tree, 'f');
        await collect(fresh.chunks);
        expect([fresh.changed, fresh.racy]).toEqual([false, true]);
        await sleep(150);
        const settled = await reading(tree, 'f', 100);
        await collect(settled.chunks);
        expect([settled.changed, settled.racy]).toEqual([false, false]);
        // A timestamp far from now either way is no reason to distrust the file.
        await utimes(tmp.file('f'), 4_000_000_000, 4_000_000_000);
        await sleep(150);
        const future = await reading(tree, 'f', 100);
        await collect(future.chunks);
        expect(future.racy).toBe(false);
      }),
    ));

  it.skipIf(mkfifo.skip)(`a FIFO swapped in for a file between the walk and the read: no hang, ESPECIAL${mkfifo.note}`, () =>
    withTempDir((tmp) =>
      withTree(tmp, async (tree) => {
        await writeFile(tmp.file('f'), 'walked as a file');
        await rm(tmp.file('f'));
        expect(spawnSync('mkfifo', [tmp.file('f')]).status).toBe(0);
        const opened = await openStable(tree, 'f');
        expect(opened).toMatchObject({ warning: { code: 'ESPECIAL', path: 'f' }, keepPrevious: false });
        expect(await descriptorsOn(tmp.file('f'))).toBe(0);
      }),
    ));

  it('a file swapped for a directory: an EUNREADABLE warning (was: the backup failed with EIO EISDIR)', () =>
    withTempDir((tmp) =>
      withTree(tmp, async (tree) => {
        await mkdir(tmp.file('f'));
        const opened = await openStable(tree, 'f');
        expect(opened).toMatchObject({ warning: { code: 'EUNREADABLE', path: 'f', message: expect.stringContaining('directory') }, keepPrevious: false });
      }),
    ));

  it('a file swapped for a symlink is not followed: EUNREADABLE', () =>
    withTempDir((tmp) =>
      withTree(tmp, async (tree) => {
        await writeFile(tmp.file('target'), 'outside the entry');
        await symlink(tmp.file('target'), tmp.file('f'));
        const opened = await openStable(tree, 'f');
        expect(opened).toMatchObject({ warning: { code: 'EUNREADABLE', path: 'f', message: expect.stringContaining('symlink') }, keepPrevious: false });
      }),
    ));

  it('a directory on the path swapped for a symlink is not followed: EUNREADABLE', () =>
    withTempDir((tmp) =>
      withTree(tmp, async (tree) => {
        await mkdir(tmp.file('elsewhere'));
        await writeFile(tmp.file('elsewhere/f'), 'outside');
        await symlink(tmp.file('elsewhere'), tmp.file('a'));
        const opened = await openStable(tree, 'a/f');
        expect(opened).toMatchObject({ warning: { code: 'EUNREADABLE', path: 'a/f' }, keepPrevious: false });
      }),
    ));

  it('a vanished file or parent is EVANISHED, and its previous version is not kept', () =>
    withTempDir((tmp) =>
      withTree(tmp, async (tree) => {
        expect(await openStable(tree, 'gone')).toMatchObject({ warning: { code: 'EVANISHED', path: 'gone' }, keepPrevious: false });
        expect(await openStable(tree, 'no/such/dir/f')).toMatchObject({ warning: { code: 'EVANISHED', path: 'no/such/dir/f' }, keepPrevious: false });
      }),
    ));

  it.skipIf(!distBuilt && !onCi)(`an unreadable file is EUNREADABLE with its reason, and its previous version is kept${distNote}`, () =>
    withTempDir(async (tmp) => {
      await writeFile(tmp.file('f'), 'secret');
      await chmod(tmp.file('f'), 0o000);
      const outcome = await runUnprivileged(
        `const { DirTree } = await import(dist + '/io/dir-tree.js');
         const { openStable } = await import(dist + '/tree/index.js');
         const tree = await DirTree.open(${JSON.stringify(tmp.path)});
         try {
           const o = await openStable(tree, 'f');
           await o.read?.close();
           return { warning: o.warning, keepPrevious: o.keepPrevious };
         } finally {
           await tree.close();
         }`,
        [tmp.path],
      );
      expect(outcome).toMatchObject({ warning: { code: 'EUNREADABLE', path: 'f', message: expect.stringContaining('EACCES') }, keepPrevious: true });
    }));

  it('refuses a path that is not relative and posix with EPARAM', () =>
    withTempDir((tmp) =>
      withTree(tmp, async (tree) => {
        for (const bad of ['', '/f', 'a//f', '../f', 'a/./f']) await expect(openStable(tree, bad)).rejects.toMatchObject({ code: 'EPARAM' });
      }),
    ));

  it('a read that is never iterated releases its descriptor on close (was: closed by node on garbage collection)', () =>
    withTempDir((tmp) =>
      withTree(tmp, async (tree) => {
        await writeFile(tmp.file('f'), 'never read');
        const r = await reading(tree, 'f');
        expect(await descriptorsOn(tmp.file('f'))).toBe(1);
        await r.close();
        await r.close();
        expect(await descriptorsOn(tmp.file('f'))).toBe(0);
        // The descriptor number may belong to another file by now: the read refuses to go on.
        await expect(r.chunks.next()).rejects.toMatchObject({ code: 'EINTERNAL' });
      }),
    ));

  it('the chunks close the descriptor when they end, and when abandoned', () =>
    withTempDir((tmp) =>
      withTree(tmp, async (tree) => {
        await writeFile(tmp.file('f'), Buffer.alloc(3 << 20, 1));
        const whole = await reading(tree, 'f');
        await collect(whole.chunks);
        expect(await descriptorsOn(tmp.file('f'))).toBe(0);
        const part = await reading(tree, 'f');
        for await (const _ of part.chunks) break;
        expect(await descriptorsOn(tmp.file('f'))).toBe(0);
      }),
    ));
});
