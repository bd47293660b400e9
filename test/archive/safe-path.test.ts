/**
 * The path rules that keep a restore inside its target. (Refusing a directory of the target
 * that is a symlink is the restore target's job: test/restore/target.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { checkRelativePath } from '../../src/archive/index.js';

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
