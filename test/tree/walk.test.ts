/**
 * Walking and selecting: symlinks are entries, never followed; gitignore and glob rules; the
 * walk goes through open directories, so depth does not matter and a directory swapped for a
 * symlink is not followed; directories to leave out are named by device and inode; EVANISHED
 * only for what is really gone.
 */
import { spawnSync } from 'node:child_process';
import { chmod, link, lstat, mkdir, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anchoringWorks } from '../../src/io/anchored-dir.js';
import { DirTree } from '../../src/io/dir-tree.js';
import { compileSelection, openStable, TreeWorkers, walkTree, type SelectionOptions, type TreeWarning, type WalkOptions } from '../../src/tree/index.js';
import { collect } from '../helpers/streams.js';
import { distBuilt, walkUnprivileged } from '../helpers/unprivileged.js';
import { onCi, withTempDir } from '../helpers/tools.js';

const anchoring = await anchoringWorks();
const anchorNote = anchoring ? '' : ' (skipped: /proc/self/fd anchoring is unavailable here)';
const distNote = distBuilt ? '' : ' (skipped: run npm run build first)';

/** The tree workers the suites below walk with, when they run in that mode. */
let workers: TreeWorkers | undefined;

async function walk(root: string, opts: SelectionOptions = {}, walkOptions: WalkOptions = {}): Promise<{ paths: string[]; warnings: TreeWarning[] }> {
  const warnings: TreeWarning[] = [];
  const paths: string[] = [];
  const tree = await DirTree.open(root, { follow: true });
  try {
    const selection = await compileSelection(tree, opts, (w) => warnings.push(w));
    const w = workers;
    for await (const e of walkTree(tree, selection, (w) => warnings.push(w), { ...walkOptions, workers: () => w })) paths.push(`${e.meta.type}:${e.path}`);
  } finally {
    await tree.close();
  }
  return { paths, warnings };
}

// Every case runs twice: looks from the main thread, and looks by tree workers.
describe.each(distBuilt || onCi ? ['main thread', 'tree workers'] : ['main thread'])('walkTree, looking from the %s', (mode) => {
  beforeAll(() => {
    if (mode === 'tree workers') {
      workers = TreeWorkers.start();
      if (!workers) throw new Error('tree workers could not be started (is dist/ built?)');
    }
  });
  afterAll(() => {
    workers?.close();
    workers = undefined;
  });

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

/** A tree as the tests build it: hard links share an inode key, symlink targets are never followed. */
type SpecNode = { kind: 'file'; inode: string; size: number } | { kind: 'symlink'; target: string } | { kind: 'dir'; children: Map<string, SpecNode> };

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Names whose code-unit order differs from their code-point order (😀 before ﬁ), dotfiles, spaces; some excluded (`*.log`). */
const nameArb = fc
  .tuple(fc.array(fc.constantFrom('a', 'B', 'b', '.', 'é', 'ﬁ', '😀', '~', ' '), { minLength: 1, maxLength: 3 }), fc.boolean(), fc.nat(9))
  .map(([parts, log, n]) => `${parts.join('')}${log && n < 2 ? '.log' : ''}`)
  .filter((n) => n !== '.' && n !== '..');

/** A file (of its own or one of four hard-link groups), a symlink, or (above depth 0) a directory. */
const nodeArb = (depth: number): fc.Arbitrary<SpecNode> =>
  fc.oneof(
    { arbitrary: fc.option(fc.nat(3), { nil: undefined }).map((g): SpecNode => ({ kind: 'file', inode: g === undefined ? '' : `g${g}`, size: 0 })), weight: 4 },
    { arbitrary: fc.constantFrom('a', '..', '/', 'missing', '😀').map((target): SpecNode => ({ kind: 'symlink', target })), weight: 1 },
    ...(depth > 0 ? [{ arbitrary: dirArb(depth - 1), weight: 3 }] : []),
  );

const dirArb = (depth: number): fc.Arbitrary<SpecNode> =>
  fc.uniqueArray(fc.tuple(nameArb, nodeArb(depth)), { maxLength: 6, size: 'max', selector: ([n]) => n }).map((children): SpecNode => ({ kind: 'dir', children: new Map(children) }));

/**
 * Create `spec` under `root`, parents first: a file of its own gets an inode (and a size) of
 * its own; the first file of a hard-link group is written, the others are linked to it.
 * Returns every path, parents first.
 */
async function materialize(root: string, spec: SpecNode): Promise<string[]> {
  const paths: string[] = [];
  const firstOf = new Map<string, string>();
  const make = async (rel: string, node: SpecNode): Promise<void> => {
    const full = join(root, rel);
    if (node.kind === 'dir') {
      await mkdir(full, { recursive: true });
      for (const [name, child] of node.children) {
        const path = rel === '' ? name : `${rel}/${name}`;
        paths.push(path);
        await make(path, child);
      }
    } else if (node.kind === 'symlink') await symlink(node.target, full);
    else {
      if (node.inode === '') node.inode = `own:${rel}`;
      const first = firstOf.get(node.inode);
      if (first !== undefined) await link(join(root, first), full);
      else {
        firstOf.set(node.inode, rel);
        await writeFile(full, 'x'.repeat(firstOf.size));
      }
    }
  };
  await make('', spec);
  const sizes = new Map([...firstOf.keys()].map((inode, i) => [inode, i + 1]));
  const setSizes = (node: SpecNode): void => {
    if (node.kind === 'dir') for (const c of node.children.values()) setSizes(c);
    else if (node.kind === 'file') node.size = sizes.get(node.inode)!;
  };
  setSizes(spec);
  return paths;
}

/** The node at `rel` in `spec`, if there is one. */
function lookupSpec(spec: SpecNode, rel: string): SpecNode | undefined {
  let node: SpecNode | undefined = spec;
  for (const part of rel === '' ? [] : rel.split('/')) node = node?.kind === 'dir' ? node.children.get(part) : undefined;
  return node;
}

/** What a walk did, in order: `file:path:size`, `dir:path`, `symlink:path->target`, warnings as `CODE:path`. */
type Log = string[];

/**
 * The walk as a model: one entry at a time over the tree in memory, the consumer removing
 * `removals.get(path)` (each with everything below it) when it receives `path`. A removal that
 * would touch an entry of the directory being walked that comes after `path` (or the link
 * count of one) is dropped: when such an entry is looked at, before or after the removal, is
 * exactly what a walk with looks in flight leaves open. Returns the log and the removals kept.
 */
function modelWalk(spec: SpecNode, removals: Map<string, string[]>, excluded: (name: string) => boolean): { log: Log; kept: Map<string, string[]> } {
  const log: Log = [];
  const kept = new Map<string, string[]>();
  const lookup = (rel: string): SpecNode | undefined => lookupSpec(spec, rel);
  const below = (rel: string, node: SpecNode): [string, SpecNode][] =>
    node.kind !== 'dir' ? [[rel, node]] : [[rel, node], ...[...node.children].flatMap(([n, c]) => below(`${rel}/${n}`, c))];
  const links = new Map<string, number>();
  for (const [, n] of below('', spec)) if (n.kind === 'file') links.set(n.inode, (links.get(n.inode) ?? 0) + 1);
  const warned = new Set<string>();
  const stack = [''];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    const node = lookup(dir);
    if (node === undefined) {
      log.push(`EVANISHED:${dir}`);
      continue;
    }
    if (node.kind !== 'dir') throw new Error('the model only removes entries');
    const names = [...node.children.keys()].sort(byCodeUnit);
    const subdirs: string[] = [];
    for (const [i, name] of names.entries()) {
      const rel = dir === '' ? name : `${dir}/${name}`;
      const child = node.children.get(name)!;
      if (excluded(name)) continue;
      if (child.kind === 'file' && links.get(child.inode)! > 1 && !warned.has(child.inode)) {
        warned.add(child.inode);
        log.push(`EHARDLINK:${rel}`);
      }
      log.push(child.kind === 'file' ? `file:${rel}:${child.size}` : child.kind === 'dir' ? `dir:${rel}` : `symlink:${rel}->${child.target}`);
      if (child.kind === 'dir') subdirs.push(rel);
      const later = new Map(names.slice(i + 1).map((n) => [dir === '' ? n : `${dir}/${n}`, node.children.get(n)!]));
      const laterInodes = new Set([...later.values()].flatMap((n) => (n.kind === 'file' ? [n.inode] : [])));
      for (const target of removals.get(rel) ?? []) {
        const gone = lookup(target);
        if (gone === undefined) continue;
        const removed = below(target, gone);
        if (removed.some(([p, n]) => later.has(p) || (n.kind === 'file' && laterInodes.has(n.inode)))) continue;
        for (const [, n] of removed) if (n.kind === 'file') links.set(n.inode, links.get(n.inode)! - 1);
        const parent = lookup(target.includes('/') ? target.slice(0, target.lastIndexOf('/')) : '') as Extract<SpecNode, { kind: 'dir' }>;
        parent.children.delete(target.slice(target.lastIndexOf('/') + 1));
        kept.set(rel, [...(kept.get(rel) ?? []), target]);
      }
    }
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
  }
  return { log, kept };
}

/** Walk `root` for real, removing `removals.get(path)` under it as each entry arrives. */
async function walkRemoving(root: string, removals: Map<string, string[]>, options: { exclude?: string[]; forceFallback?: boolean; workers?: TreeWorkers } = {}): Promise<Log> {
  const log: Log = [];
  const tree = await DirTree.open(root, { follow: true, forceFallback: options.forceFallback });
  try {
    const warn = (w: TreeWarning): void => void log.push(`${w.code}:${w.path}`);
    const selection = await compileSelection(tree, { exclude: options.exclude }, warn);
    for await (const e of walkTree(tree, selection, warn, { workers: () => options.workers })) {
      log.push(e.meta.type === 'file' ? `file:${e.path}:${e.meta.size}` : e.meta.type === 'dir' ? `dir:${e.path}` : `symlink:${e.path}->${e.meta.target}`);
      for (const target of removals.get(e.path) ?? []) await rm(join(root, target), { recursive: true });
    }
  } finally {
    await tree.close();
  }
  return log;
}

describe('walkTree with looks in flight', () => {
  it.skipIf(!distBuilt && !onCi)(`looks by tree workers give the entries and warnings of looks from the main thread, in the same order${distNote}`, async () => {
    const treeWorkers = TreeWorkers.start()!;
    try {
      await fc.assert(
        fc.asyncProperty(dirArb(3), fc.nat(600), fc.boolean(), async (spec, wide, exclude) =>
          withTempDir(async (tmp) => {
            const root = tmp.file('r');
            // Wider than a worker's slice (256), so slices are asked for ahead of the one taken.
            const rootDir = spec as Extract<SpecNode, { kind: 'dir' }>;
            for (let i = 0; i < wide; i++) rootDir.children.set(`w${String(i).padStart(3, '0')}`, { kind: 'file', inode: i % 7 === 0 ? 'g0' : '', size: i % 3 });
            await materialize(root, spec);
            const options = { exclude: exclude ? ['*.log'] : [] };
            const fromMain = await walkRemoving(root, new Map(), options);
            expect(await walkRemoving(root, new Map(), { ...options, workers: treeWorkers })).toEqual(fromMain);
          }),
        ),
        { numRuns: 30 },
      );
    } finally {
      treeWorkers.close();
    }
  });

  it('yields the entries and warnings of a one-at-a-time walk, in its order, with hard links across directories and entries removed mid-walk', async () => {
    await fc.assert(
      fc.asyncProperty(
        dirArb(3),
        fc.oneof(fc.constant(0), fc.nat(150)),
        fc.array(fc.tuple(fc.nat(), fc.nat(), fc.boolean()), { maxLength: 10 }),
        fc.boolean(),
        fc.boolean(),
        async (spec, wide, removalPicks, exclude, forceFallback) =>
          withTempDir(async (tmp) => {
            const root = tmp.file('r');
            // A directory wider than the walk's look-ahead, so looks are started as earlier ones are taken.
            const rootDir = spec as Extract<SpecNode, { kind: 'dir' }>;
            for (let i = 0; i < wide; i++) rootDir.children.set(`w${String(i).padStart(3, '0')}`, { kind: 'file', inode: i % 7 === 0 ? 'g0' : '', size: 0 });
            const paths = await materialize(root, spec);
            // Half the removals take a directory: removed after it was walked past but before it is listed, it is EVANISHED.
            const dirs = paths.filter((p) => lookupSpec(spec, p)?.kind === 'dir');
            const removals = new Map<string, string[]>();
            for (const [at, target, dir] of paths.length > 0 ? removalPicks : []) {
              const trigger = paths[at % paths.length]!;
              const from = dir && dirs.length > 0 ? dirs : paths;
              removals.set(trigger, [...(removals.get(trigger) ?? []), from[target % from.length]!]);
            }
            const excluded = exclude ? (name: string) => name.endsWith('.log') : () => false;
            const model = modelWalk(spec, removals, excluded);
            const log = await walkRemoving(root, model.kept, { exclude: exclude ? ['*.log'] : [], forceFallback });
            expect(log).toEqual(model.log);
          }),
      ),
      { numRuns: 60 },
    );
  });

  it('an entry removed before its look is EVANISHED in its place; one removed while looks are in flight is either walked or EVANISHED, in order', () =>
    withTempDir(async (tmp) => {
      const root = tmp.file('r');
      const names = Array.from({ length: 300 }, (_, i) => `f${String(i).padStart(3, '0')}`);
      await mkdir(join(root, 'd'), { recursive: true });
      for (const n of names) await writeFile(join(root, 'd', n), n);
      // Received with d/f000: f001–f020 may be looked at already; f150 on are past any look-ahead of the walk (64).
      const racing = names.slice(1, 21);
      const late = names.slice(150);
      const log = await walkRemoving(root, new Map([['d/f000', [...racing, ...late].map((n) => `d/${n}`)]]));
      expect(log[0]).toBe('dir:d');
      const inD = log.slice(1);
      expect(inD.map((l) => l.slice(l.indexOf('d/') + 2, l.indexOf('d/') + 6))).toEqual(names);
      for (const [i, l] of inD.entries()) {
        const n = names[i]!;
        if (late.includes(n)) expect(l).toBe(`EVANISHED:d/${n}`);
        else if (racing.includes(n)) expect([`file:d/${n}:4`, `EVANISHED:d/${n}`]).toContain(l);
        else expect(l).toBe(`file:d/${n}:4`);
      }
    }));
});
