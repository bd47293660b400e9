/**
 * The ignore file is part of the source tree, so anything may stand in its place: a FIFO, a
 * directory, a symlink, a huge file. None may hang or abort the selection; each is reported
 * and the rest of the selection (the caller's patterns) still applies.
 */
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DirTree } from '../../src/io/dir-tree.js';
import { compileSelection, walkTree, type SelectionOptions, type TreeWarning } from '../../src/tree/index.js';
import { distBuilt, walkUnprivileged } from '../helpers/unprivileged.js';
import { onCi, requireTool, withTempDir } from '../helpers/tools.js';

const mkfifo = requireTool('mkfifo');
const distNote = distBuilt ? '' : ' (skipped: run npm run build first)';

/** Select from a source with `keep`, `drop.log` and `skip/x` and what `build` adds; `undo` runs before the clean-up. */
async function select(
  build: (root: string) => Promise<void>,
  options: SelectionOptions = {},
  undo: (root: string) => Promise<void> = async () => undefined,
): Promise<{ paths: string[]; warnings: TreeWarning[] }> {
  return withTempDir(async (tmp) => {
    const root = tmp.file('r');
    await mkdir(join(root, 'skip'), { recursive: true });
    await writeFile(join(root, 'keep'), '');
    await writeFile(join(root, 'drop.log'), '');
    await writeFile(join(root, 'skip/x'), '');
    await build(root);
    const tree = await DirTree.open(root);
    const warnings: TreeWarning[] = [];
    const paths: string[] = [];
    try {
      const selection = await compileSelection(tree, { exclude: ['*.log'], ...options }, (w) => warnings.push(w));
      for await (const e of walkTree(tree, selection, (w) => warnings.push(w))) paths.push(e.path);
    } finally {
      await tree.close();
      await undo(root);
    }
    return { paths, warnings };
  });
}

describe('compileSelection: the ignore file', () => {
  it('applies the rules of a regular .exclude with the caller\'s patterns', async () => {
    const { paths, warnings } = await select((root) => writeFile(join(root, '.exclude'), 'skip/\n'));
    expect(paths).toEqual(['.exclude', 'keep']);
    expect(warnings).toEqual([]);
  });

  it('a missing ignore file is no problem', async () => {
    const { paths, warnings } = await select(async () => undefined);
    expect(paths).toEqual(['keep', 'skip', 'skip/x']);
    expect(warnings).toEqual([]);
  });

  it('reads an ignore file named by a path below the root', async () => {
    const { paths, warnings } = await select(
      async (root) => {
        await mkdir(join(root, 'conf'));
        await writeFile(join(root, 'conf/rules'), 'skip/\n');
      },
      { excludeFile: 'conf/rules' },
    );
    expect(paths).toEqual(['conf', 'keep', 'conf/rules']);
    expect(warnings).toEqual([]);
  });

  it.skipIf(mkfifo.skip)(`a FIFO named .exclude does not hang the backup: ESPECIAL, the other patterns still apply${mkfifo.note}`, async () => {
    const { paths, warnings } = await select(async (root) => {
      expect(spawnSync('mkfifo', [join(root, '.exclude')]).status).toBe(0);
    });
    expect(paths).toEqual(['keep', 'skip', 'skip/x']);
    // Once as the ignore file, once as an entry the walk cannot store.
    expect(warnings.map((w) => `${w.code}:${w.path}`)).toEqual(['ESPECIAL:.exclude', 'ESPECIAL:.exclude']);
  });

  it('a directory named .exclude does not abort the backup: EUNREADABLE, the other patterns still apply', async () => {
    const { paths, warnings } = await select(async (root) => {
      await mkdir(join(root, '.exclude'));
      await writeFile(join(root, '.exclude/inner'), 'skip/\n');
    });
    expect(paths).toEqual(['.exclude', 'keep', 'skip', '.exclude/inner', 'skip/x']);
    expect(warnings).toMatchObject([{ code: 'EUNREADABLE', path: '.exclude', message: expect.stringContaining('directory') }]);
  });

  it('a symlinked .exclude is not followed: EUNREADABLE, naming the way out', async () => {
    const { paths, warnings } = await select(async (root) => {
      await writeFile(join(root, '..', 'rules-elsewhere'), 'skip/\n');
      await symlink('../rules-elsewhere', join(root, '.exclude'));
    });
    expect(paths).toEqual(['.exclude', 'keep', 'skip', 'skip/x']);
    expect(warnings).toMatchObject([{ code: 'EUNREADABLE', path: '.exclude', message: expect.stringMatching(/symlink.*exclude patterns/) }]);
  });

  it('an ignore file over 1 MiB is not read: EUNREADABLE', async () => {
    const { paths, warnings } = await select((root) => writeFile(join(root, '.exclude'), `skip/\n${'#'.repeat(1 << 20)}\n`));
    expect(paths).toEqual(['.exclude', 'keep', 'skip', 'skip/x']);
    expect(warnings).toMatchObject([{ code: 'EUNREADABLE', path: '.exclude' }]);
  });

  it('refuses an ignore file path that leaves the root with EPARAM', async () => {
    await expect(select(async () => undefined, { excludeFile: '../rules' })).rejects.toMatchObject({ code: 'EPARAM' });
  });
});

describe('compileSelection: include patterns', () => {
  it.skipIf(!distBuilt && !onCi)(`a directory the expansion cannot search is a warning, not a failed backup${distNote}`, () =>
    withTempDir(async (tmp) => {
      const root = tmp.file('r');
      await mkdir(join(root, 'skip'), { recursive: true });
      await writeFile(join(root, 'keep'), '');
      await writeFile(join(root, 'drop.log'), '');
      await writeFile(join(root, 'skip/x'), '');
      await mkdir(join(root, 'locked'));
      await writeFile(join(root, 'locked/x'), '');
      await chmod(join(root, 'locked'), 0o000);
      const { paths, warnings } = await walkUnprivileged(root, { exclude: ['*.log'], include: ['**/x', 'keep'] }, [tmp.path, root, join(root, 'skip')]);
      await chmod(join(root, 'locked'), 0o755);
      expect(paths).toEqual(['file:keep', 'dir:skip', 'file:skip/x']);
      expect(warnings).toMatchObject([{ code: 'EUNREADABLE', path: 'locked', message: expect.stringContaining('EACCES') }]);
    }));
});
