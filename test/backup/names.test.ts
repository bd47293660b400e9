/**
 * Every name Linux allows must round-trip. Regression tests for names that made a whole
 * backup unrestorable with no warning at backup time: a backslash (systemd's escaped unit
 * names), a top-level `c:foo` (judged as a Windows drive), and names near the 255-byte limit,
 * where a temporary name that added bytes to the real one could not be created.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fullBackup, incrementalBackup, restoreBackup } from '../../src/index.js';
import { Prng } from '../helpers/data.js';
import { requireTool, withTempDir } from '../helpers/tools.js';
import { expectSameTree, snapshot } from './helpers.js';

const NAMES = [
  'dev-disk-by\\x2duuid-0b6d1a2e.swap',
  'c:foo',
  'C:\\Windows',
  'a'.repeat(255),
  '日本語のファイル名'.repeat(9).slice(0, 85),
  `${'é'.repeat(127)}x`,
  '-leading-dash',
  ' spaces and\ttab ',
  'new\nline',
];

describe('legal names round-trip', () => {
  it('backslashes, drive-like names and 255-byte names survive a full backup, an incremental and a restore', () =>
    withTempDir(async (tmp) => {
      const src = tmp.file('src');
      const rng = new Prng(7);
      await mkdir(src);
      for (const [i, name] of NAMES.entries()) {
        expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
        await mkdir(join(src, `dir-${i}`));
        // Large enough to get a signature, so the incremental stores a delta under this name.
        await writeFile(join(src, name), rng.bytes(40_000));
        await writeFile(join(src, `dir-${i}`, name), 'inside\n');
      }
      const work = tmp.file('work');
      const full = await fullBackup(src, { workDir: work });
      expect(full.warnings).toEqual([]);
      const before = await snapshot(src);
      for (const name of NAMES) {
        const data = await readFile(join(src, name));
        data.set(rng.bytes(100), 20_000);
        await writeFile(join(src, name), data);
        await utimes(join(src, name), 1_800_000_000, 1_800_000_000);
      }
      const inc = await incrementalBackup(src, { workDir: work });
      expect(inc.stats.storedDelta).toBe(NAMES.length);
      const after = await snapshot(src);

      await restoreBackup('src', tmp.file('at-full'), { workDir: work, at: full.id });
      expectSameTree(await snapshot(tmp.file('at-full')), before, 'full');
      await restoreBackup('src', tmp.file('at-inc'), { workDir: work, at: inc.id });
      expectSameTree(await snapshot(tmp.file('at-inc')), after, 'incremental');
    }));
});

/**
 * Python's `os.fwalk` and `dir_fd` reach any depth through descriptors, independently of the
 * library under test: they build the deep tree and describe it (path, type, size, sha256).
 */
const PY_BUILD = `
import os, sys
root, depth = sys.argv[1], int(sys.argv[2])
os.makedirs(root, exist_ok=True)
fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
for level in range(depth):
    name = ('d%02d-' % level) + 'x' * 196
    os.mkdir(name, dir_fd=fd)
    child = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
    os.close(fd)
    fd = child
    if level % 5 == 4:
        f = os.open('file-%d.txt' % level, os.O_WRONLY | os.O_CREAT, 0o640, dir_fd=fd)
        os.write(f, (('level %d ' % level) * 3000).encode())
        os.close(f)
os.symlink('../link-target', 'deep-link', dir_fd=fd)
os.close(fd)
`;
/** Append to the deepest file, so the incremental stores a delta under the longest path. */
const PY_EDIT = `
import os, sys
deepest = None
for top, dirs, files, fd in os.fwalk(sys.argv[1]):
    for name in (f for f in files if f.endswith('.txt')):
        if deepest is not None:
            os.close(deepest[0])
        deepest = (os.dup(fd), name)
fd, name = deepest
f = os.open(name, os.O_WRONLY | os.O_APPEND, dir_fd=fd)
os.write(f, b'appended by the test\\n')
os.close(f)
`;
const PY_DESCRIBE = `
import hashlib, json, os, stat, sys
out = {}
for top, dirs, files, fd in os.fwalk(sys.argv[1]):
    rel = os.path.relpath(top, sys.argv[1])
    for name in dirs + files:
        st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        path = name if rel == '.' else rel + '/' + name
        if stat.S_ISLNK(st.st_mode):
            out[path] = 'link ' + os.readlink(name, dir_fd=fd)
        elif stat.S_ISDIR(st.st_mode):
            out[path] = 'dir %o' % (st.st_mode & 0o7777)
        else:
            f = os.open(name, os.O_RDONLY, dir_fd=fd)
            h = hashlib.sha256()
            while True:
                b = os.read(f, 1 << 20)
                if not b:
                    break
                h.update(b)
            os.close(f)
            out[path] = 'file %o %d %s' % (st.st_mode & 0o7777, st.st_size, h.hexdigest())
print(json.dumps(out, sort_keys=True))
`;

function python(script: string, ...args: string[]): string {
  const run = spawnSync('python3', ['-c', script, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (run.status !== 0) throw new Error(`python3 failed: ${run.stderr}`);
  return run.stdout;
}

describe('paths longer than 4096 bytes', () => {
  const python3 = requireTool('python3');
  it.skipIf(python3.skip)(`round-trip through a full backup, an incremental and a restore (was: dropped behind one EVANISHED ENAMETOOLONG warning)${python3.note}`, () =>
    withTempDir(async (tmp) => {
      try {
        const src = tmp.file('src');
        const work = tmp.file('work');
        python(PY_BUILD, src, '25');
        const described = JSON.parse(python(PY_DESCRIBE, src)) as Record<string, string>;
        const longest = Math.max(...Object.keys(described).map((p) => Buffer.byteLength(p)));
        expect(longest, 'the tree must be deeper than PATH_MAX').toBeGreaterThan(4096);
        const full = await fullBackup(src, { workDir: work });
        expect(full.warnings).toEqual([]);
        expect(full.stats.scanned).toBe(Object.keys(described).length);
        const before = python(PY_DESCRIBE, src);
        python(PY_EDIT, src);
        const inc = await incrementalBackup(src, { workDir: work });
        expect(inc.warnings).toEqual([]);
        expect(inc.stats.storedDelta).toBe(1);
        await restoreBackup('src', tmp.file('at-full'), { workDir: work, at: full.id });
        expect(python(PY_DESCRIBE, tmp.file('at-full'))).toBe(before);
        await restoreBackup('src', tmp.file('at-inc'), { workDir: work, at: inc.id });
        expect(python(PY_DESCRIBE, tmp.file('at-inc'))).toBe(python(PY_DESCRIBE, src));
      } finally {
        // node's rm cannot remove a tree this deep (ENAMETOOLONG); GNU rm walks it by descriptor.
        spawnSync('rm', ['-rf', tmp.file('src'), tmp.file('at-full'), tmp.file('at-inc')]);
      }
    }));
});
