/** The path checks that keep a restore inside its target. */
import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkRelativePath, SafeTarget } from '../../src/archive/index.js';
import { withTempDir } from '../helpers/tools.js';

describe('checkRelativePath', () => {
  it.each(['', '/etc/passwd', '..', '../x', 'a/../../x', 'a/./b', 'a//b', 'a/', 'a\0b'])('refuses %j', (p) => {
    expect(() => checkRelativePath(p)).toThrow(expect.objectContaining({ code: 'EUNSAFEPATH' }));
  });
  it.each(['a', 'a/b', '.hidden', '..dots', 'a/..b', 'sp ace/new\nline', 'ü/ñ'])('accepts %j', (p) => {
    expect(() => checkRelativePath(p)).not.toThrow();
  });
  // Legal POSIX names that made a whole backup unrestorable when they were judged as Windows paths.
  it.skipIf(process.platform === 'win32').each(['dev-disk-by\\x2duuid-1234.swap', 'c:foo', 'C:\\x', 'a\\..\\b', 'dir/c:\\y'])('accepts the POSIX name %j', (p) => {
    expect(() => checkRelativePath(p)).not.toThrow();
  });
});

describe('SafeTarget', () => {
  it('refuses to resolve through a symlink or a file inside the target', () =>
    withTempDir(async (tmp) => {
      const root = tmp.file('t');
      await mkdir(join(root, 'real'), { recursive: true });
      await symlink(tmp.path, join(root, 'link'));
      const safe = new SafeTarget(root);
      await expect(safe.resolve('real/f')).resolves.toBe(join(root, 'real/f'));
      await expect(safe.resolve('link/f')).rejects.toMatchObject({ code: 'EUNSAFEPATH' });
      await expect(safe.resolve('real/missing/f')).rejects.toMatchObject({ code: 'EUNSAFEPATH' });
    }));
});
