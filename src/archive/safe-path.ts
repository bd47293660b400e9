/**
 * Keeping a restore inside its target directory.
 *
 * An archive or state may be corrupt or hostile, so every path it names is checked before
 * anything is written: it must be relative, posix, free of NUL, `.`, `..` and empty segments
 * (the classic path-traversal and absolute-path attacks). And every directory a write goes
 * through must be a real directory inside the target, never a symlink: otherwise an archive
 * that first creates `a -> /etc` and then writes `a/passwd` (symlink-then-write) would escape.
 * Verified directories are remembered, so the cost is one `lstat` per directory, not per file.
 */
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { BackupError } from '../errors.js';

/**
 * Throw `EUNSAFEPATH` unless `path` is a safe relative POSIX path. It is judged as POSIX
 * judges it: `\` and `c:` are ordinary characters of a name there (systemd names units
 * `dev-disk-by\x2duuid….swap`), so refusing them would make legal trees unrestorable. Only
 * on Windows, where they are separators and drive letters, are they refused.
 */
export function checkRelativePath(path: string, what = 'entry'): void {
  const bad = (why: string): never => {
    throw new BackupError('EUNSAFEPATH', `${what} ${JSON.stringify(path)} is refused: ${why}`, { path });
  };
  if (typeof path !== 'string' || path.length === 0) bad('empty path');
  if (path.includes('\0')) bad('NUL in path');
  if (path.startsWith('/')) bad('absolute path');
  if (process.platform === 'win32' && (/^[A-Za-z]:/.test(path) || path.includes('\\'))) bad('a drive letter or backslash, which Windows reads as a path');
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.' || seg === '..') bad('empty, "." or ".." segment');
  }
}

/** The parent of a relative posix path ('' for top-level entries). */
export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/** A restore target that resolves relative paths only through real directories inside it. */
export class SafeTarget {
  private readonly verified = new Set<string>(['']);

  constructor(readonly root: string) {}

  /** Absolute path of `rel`, after checking that its parent chain holds no symlink. */
  async resolve(rel: string): Promise<string> {
    checkRelativePath(rel);
    await this.checkDir(parentOf(rel));
    return join(this.root, rel);
  }

  /** Record that `rel` is a directory this restore created. */
  trust(rel: string): void {
    this.verified.add(rel);
  }

  private async checkDir(rel: string): Promise<void> {
    if (this.verified.has(rel)) return;
    await this.checkDir(parentOf(rel));
    const st = await lstat(join(this.root, rel)).catch(() => undefined);
    if (!st || !st.isDirectory()) {
      throw new BackupError('EUNSAFEPATH', `${JSON.stringify(rel)} is not a directory inside the target (a symlink or a file), refusing to write through it`, { path: rel });
    }
    this.verified.add(rel);
  }
}
