/** Walking and selecting: symlinks are entries, never followed; gitignore and glob rules. */
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileSelection, walkTree, type TreeWarning } from '../../src/tree/index.js';
import { withTempDir } from '../helpers/tools.js';

async function walk(root: string, opts = {}): Promise<{ paths: string[]; warnings: TreeWarning[] }> {
  const warnings: TreeWarning[] = [];
  const paths: string[] = [];
  for await (const e of walkTree(root, await compileSelection(root, opts), (w) => warnings.push(w))) paths.push(`${e.meta.type}:${e.path}`);
  return { paths, warnings };
}

describe('walkTree', () => {
  it('lists parents before children, never follows symlinks, keeps dotfiles', () =>
    withTempDir(async (tmp) => {
      const root = tmp.file('r');
      await mkdir(join(root, 'b/c'), { recursive: true });
      await writeFile(join(root, 'b/c/f'), 'x');
      await writeFile(join(root, '.dot'), 'x');
      await symlink('b', join(root, 'a-link'));
      await symlink('/', join(root, 'root-link'));
      const { paths } = await walk(root);
      expect(paths).toEqual(['file:.dot', 'symlink:a-link', 'dir:b', 'symlink:root-link', 'dir:b/c', 'file:b/c/f']);
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
});
