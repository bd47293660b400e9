/**
 * Walking and selecting: symlinks are entries, never followed; gitignore and glob rules; the
 * walk goes through open directories, so depth does not matter and a directory swapped for a
 * symlink is not followed; directories to leave out are named by device and inode; EVANISHED
 * only for what is really gone.
 */
import { spawnSync } from 'node:child_process';
import { chmod, link, lstat, mkdir, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { anchoringWorks } from '../../src/io/anchored-dir.js';
import { DirTree } from '../../src/io/dir-tree.js';
import { compileSelection, openStable, walkTree, type SelectionOptions, type TreeWarning, type WalkOptions } from '../../src/tree/index.js';
import { collect } from '../helpers/streams.js';
import { distBuilt, walkUnprivileged } from '../helpers/unprivileged.js';
import { onCi, withTempDir } from '../helpers/tools.js';

const anchoring = await anchoringWorks();
const anchorNote = anchoring ? '' : ' (skipped: /proc/self/fd anchoring is unavailable here)';
const distNote = distBuilt ? '' : ' (skipped: run npm run build first)';

async function walk(root: string, opts: SelectionOptions = {}, walkOptions: WalkOptions = {}): Promise<{ paths: string[]; warnings: TreeWarning[] }> {
  const warnings: TreeWarning[] = [];
  const paths: string[] = [];
  const tree = await DirTree.open(root, { follow: true });
  try {
    const selection = await compileSelection(tree, opts, (w) => warnings.push(w));
    for await (const e of walkTree(tree, selection, (w) => warnings.push(w), walkOptions)) paths.push(`${e.meta.type}:${e.path}`);
  } finally {
    await tree.close();
  }
  return { paths, warnings };
}

describe('walkTree', () => {
  it('lists parents before children, siblings in code-unit order, never follows symlinks, keeps dotfiles', () =>
    withTempDir(async (tmp) => {
      const root = tmp.file('r');
      await mkdir(join(root, 'b/c'), { recursive: true });
      await writeFile(join(root, 'b/c/f'), 'x');
      await writeFile(join(root, '.dot'), 'x');
      await writeFile(join(root, 'B'), 'x');
      await symlink('b', join(root, 'a-link'));
      await symlink('/', join(root, 'root-link'));
      const { paths, warnings } = await walk(root);
      expect(paths).toEqual(['file:.dot', 'file:B', 'symlink:a-link', 'dir:b', 'symlink:root-link', 'dir:b/c', 'file:b/c/f']);
      expect(warnings).toEqual([]);
    }));

  it('skips a name that is not valid UTF-8 with an EBADNAME warning', () =>
    withTempDir(async (tmp) => {
      const root = tmp.file('r');
      await mkdir(root);
      await writeFile(Buffer.concat([Buffer.from(`${root}/bad`), Buffer.from([0xff]), Buffer.from('name')]), 'x');
      await writeFile(join(root, 'good'), 'x');
      const { paths, warnings } = await walk(root);
      expect(paths).toEqual(['file:good']);
      expect(warnings.map((w) => w.code)).toEqual(['EBADNAME']);
    }));

  it('reports a hard-linked file once per inode (EHARDLINK) and a FIFO as ESPECIAL', () =>
    withTempDir(async (tmp) => {
      const root = tmp.file('r');
      await mkdir(root);
      await writeFile(join(root, 'a'), 'x');
      await link(join(root, 'a'), join(root, 'b'));
      expect(spawnSync('mkfifo', [join(root, 'pipe')]).status).toBe(0);
      const { paths, warnings } = await walk(root);
      expect(paths).toEqual(['file:a', 'file:b']);
      expect(warnings.map((w) => `${w.code}:${w.path}`)).toEqual(['EHARDLINK:a', 'ESPECIAL:pipe']);
    }));

  it('applies gitignore rules: directory patterns, negation, anchoring, the ignore file', () =>
    withTempDir(async (tmp) => {
      const root = tmp.file('r');
      await mkdir(join(root, 'build'), { recursive: true });
      await mkdir(join(root, 'src/build'), { recursive: true });
      await writeFile(join(root, 'build/x'), '');
      await writeFile(join(root, 'src/build/y'), '');
      await writeFile(join(root, 'src/a.log'), '');
      await writeFile(join(root, 'src/keep.log'), '');
      await writeFile(join(root, 'build.txt'), '');
      await writeFile(join(root, 'rules'), '/build/\n*.log\n!keep.log\n');
      const { paths } = await walk(root, { excludeFile: 'rules' });
      expect(paths.sort()).toEqual(['dir:src', 'dir:src/build', 'file:build.txt', 'file:rules', 'file:src/build/y', 'file:src/keep.log']);
    }));

  it('include globs keep matches, their parents and the contents of matched directories', () =>
    withTempDir(async (tmp) => {
      const root = tmp.file('r');
      await mkdir(join(root, 'a/b'), { recursive: true });
      await mkdir(join(root, 'docs/sub'), { recursive: true });
      await writeFile(join(root, 'a/b/x.md'), '');
      await writeFile(join(root, 'a/b/y.txt'), '');
      await writeFile(join(root, 'docs/sub/z.bin'), '');
      const { paths } = await walk(root, { include: ['**/*.md', 'docs'] });
      expect(paths.sort()).toEqual(['dir:a', 'dir:a/b', 'dir:docs', 'dir:docs/sub', 'file:a/b/x.md', 'file:docs/sub/z.bin']);
    }));

  it('a work directory inside the source reached through a symlink is skipped by device and inode (was: backed up into itself, each backup doubling)', () =>
    withTempDir(async (tmp) => {
      const source = tmp.file('source');
      await mkdir(join(source, '.ibt/catalog'), { recursive: true });
      await writeFile(join(source, '.ibt/catalog/archive'), 'the previous backup');
      await mkdir(join(source, 'docs/.ibt'), { recursive: true });
      await writeFile(join(source, 'docs/.ibt/kept'), 'same name, another directory');
      await writeFile(join(source, 'docs/a'), 'a');
      // The user names the work directory through a symlink to the source, and a link inside
      // the source leads to it too.
      await symlink(source, tmp.file('alias'));
      await symlink('.ibt', join(source, 'work-link'));
      const workDir = join(tmp.file('alias'), '.ibt');
      // What the string comparison of paths concluded: not inside the source.
      expect(relative(source, workDir).startsWith('..')).toBe(true);
      const st = await stat(workDir, { bigint: true });
      const { paths, warnings } = await walk(source, {}, { skipDirs: [{ dev: st.dev, ino: st.ino }] });
      expect(paths).toEqual(['dir:docs', 'symlink:work-link', 'dir:docs/.ibt', 'file:docs/a', 'file:docs/.ibt/kept']);
      expect(warnings).toEqual([]);
      // Without it, the walk takes the work directory in.
      expect((await walk(source)).paths).toContain('file:.ibt/catalog/archive');
    }));

  it('a directory swapped for a symlink between its listing and its walk is not followed: EUNREADABLE', () =>
    withTempDir(async (tmp) => {
      const root = tmp.file('r');
      await mkdir(join(root, 'b'), { recursive: true });
      await writeFile(join(root, 'b/inside'), 'x');
      await mkdir(tmp.file('outside'));
      await writeFile(tmp.file('outside/secret'), 'x');
      const tree = await DirTree.open(root, { follow: true });
      const warnings: TreeWarning[] = [];
      const paths: string[] = [];
      try {
        for await (const e of walkTree(tree, await compileSelection(tree, {}, (w) => warnings.push(w)), (w) => warnings.push(w))) {
          paths.push(e.path);
          if (e.path === 'b') {
            await rename(join(root, 'b'), tmp.file('b-moved'));
            await symlink(tmp.file('outside'), join(root, 'b'));
          }
        }
      } finally {
        await tree.close();
      }
      expect(paths).toEqual(['b']);
      expect(warnings.map((w) => `${w.code}:${w.path}`)).toEqual(['EUNREADABLE:b']);
    }));

  it('EVANISHED only for what is gone: a directory removed before its walk', () =>
    withTempDir(async (tmp) => {
      const root = tmp.file('r');
      await mkdir(join(root, 'b/c'), { recursive: true });
      const tree = await DirTree.open(root, { follow: true });
      const warnings: TreeWarning[] = [];
      try {
        for await (const e of walkTree(tree, await compileSelection(tree, {}, (w) => warnings.push(w)), (w) => warnings.push(w))) {
          if (e.path === 'b') await rm(join(root, 'b'), { recursive: true });
        }
      } finally {
        await tree.close();
      }
      expect(warnings.map((w) => `${w.code}:${w.path}`)).toEqual(['EVANISHED:b']);
    }));

  it.skipIf(!distBuilt && !onCi)(`an unlistable directory is EUNREADABLE with its reason, not EVANISHED${distNote}`, () =>
    withTempDir(async (tmp) => {
      const root = tmp.file('r');
      await mkdir(join(root, 'locked'), { recursive: true });
      await writeFile(join(root, 'locked/f'), 'x');
      await chmod(join(root, 'locked'), 0o000);
      try {
        const { paths, warnings } = await walkUnprivileged(root, {}, [tmp.path, root]);
        expect(paths).toEqual(['dir:locked']);
        expect(warnings).toMatchObject([{ code: 'EUNREADABLE', path: 'locked', message: expect.stringContaining('EACCES') }]);
      } finally {
        await chmod(join(root, 'locked'), 0o755);
      }
    }));

  it('stops with the signal before listing the next directory', () =>
    withTempDir(async (tmp) => {
      const root = tmp.file('r');
      await mkdir(join(root, 'a'), { recursive: true });
      const controller = new AbortController();
      controller.abort(new Error('stop'));
      await expect(walk(root, {}, { signal: controller.signal })).rejects.toThrow('stop');
    }));
});

/**
 * A chain of 30 directories with 200-byte names; each of the last 10 (all deeper than 4096
 * bytes) holds six files and a symlink. Returns the entries expected from a walk and the
 * files' contents.
 */
async function buildDeepTree(tree: DirTree, name: string): Promise<{ expected: string[]; contents: Map<string, string> }> {
  const expected: string[] = [];
  const contents = new Map<string, string>();
  let parent = '';
  for (let depth = 1; depth <= 30; depth++) {
    const rel = parent === '' ? name : `${parent}/${name}`;
    await tree.use(parent, (dir) => mkdir(dir.entry(name)));
    expected.push(`dir:${rel}`);
    if (depth > 20) {
      await tree.use(rel, async (dir) => {
        for (let i = 0; i < 6; i++) {
          await writeFile(dir.entry(`f${i}`), `file ${i} at depth ${depth}`);
          contents.set(`${rel}/f${i}`, `file ${i} at depth ${depth}`);
        }
        await symlink('f0', dir.entry('link'));
      });
      expected.push(...[0, 1, 2, 3, 4, 5].map((i) => `file:${rel}/f${i}`), `symlink:${rel}/link`);
    }
    parent = rel;
  }
  return { expected, contents };
}

const pathOf = (entry: string): string => entry.slice(entry.indexOf(':') + 1);

describe.skipIf(!anchoring && !onCi)(`walkTree through open directories${anchorNote}`, () => {
  it('80 entries under paths over 4096 bytes are all walked and read (was: dropped behind one EVANISHED "ENAMETOOLONG" warning)', () =>
    withTempDir(async (tmp) => {
      const root = tmp.file('r');
      await mkdir(root);
      const name = 'd'.repeat(200);
      const tree = await DirTree.open(root, { follow: true, maxOpen: 8 });
      try {
        const { expected, contents } = await buildDeepTree(tree, name);
        const long = expected.filter((p) => Buffer.byteLength(join(root, pathOf(p))) > 4096);
        expect(long.length).toBeGreaterThanOrEqual(80);
        await expect(lstat(join(root, pathOf(long[long.length - 1]!)))).rejects.toMatchObject({ code: 'ENAMETOOLONG' });

        const warnings: TreeWarning[] = [];
        const walked: string[] = [];
        let read = 0;
        for await (const e of walkTree(tree, await compileSelection(tree, {}, (w) => warnings.push(w)), (w) => warnings.push(w))) {
          walked.push(`${e.meta.type}:${e.path}`);
          if (e.meta.type !== 'file') continue;
          const opened = await openStable(tree, e.path);
          expect(opened.warning).toBeUndefined();
          try {
            expect((await collect(opened.read!.chunks)).toString()).toBe(contents.get(e.path));
            read++;
          } finally {
            await opened.read!.close();
          }
        }
        expect(warnings).toEqual([]);
        expect([...walked].sort()).toEqual([...expected].sort());
        expect(read).toBe(contents.size);
        // Parents before children.
        const at = new Map(walked.map((p, i) => [pathOf(p), i]));
        for (const p of at.keys()) if (p.includes('/')) expect(at.get(p.slice(0, p.lastIndexOf('/')))!).toBeLessThan(at.get(p)!);
      } finally {
        await tree.remove(name);
        await tree.close();
      }
    }));

  it('include globs reach entries under paths over 4096 bytes (was: the expansion failed with ENAMETOOLONG)', () =>
    withTempDir(async (tmp) => {
      const root = tmp.file('r');
      await mkdir(root);
      const name = 'd'.repeat(200);
      const tree = await DirTree.open(root, { follow: true, maxOpen: 8 });
      try {
        const { expected } = await buildDeepTree(tree, name);
        const warnings: TreeWarning[] = [];
        const walked: string[] = [];
        const selection = await compileSelection(tree, { include: ['**/f3'] }, (w) => warnings.push(w));
        for await (const e of walkTree(tree, selection, (w) => warnings.push(w))) walked.push(`${e.meta.type}:${e.path}`);
        expect(warnings).toEqual([]);
        expect(walked.sort()).toEqual(expected.filter((p) => p.startsWith('dir:') || p.endsWith('/f3')).sort());
      } finally {
        await tree.remove(name);
        await tree.close();
      }
    }));
});
