/**
 * The path rules that keep a restore inside its target directory.
 *
 * An archive or state may be corrupt or hostile, so every path it names is checked before
 * anything is written: it must be relative, posix, free of NUL, `.`, `..` and empty segments
 * (the classic path-traversal and absolute-path attacks). States are checked with these rules
 * when they are read (`state/invariants.ts`), along with the rule that every parent is a
 * directory of the state, which stops symlink-then-write (`a -> /etc`, then `a/passwd`).
 * That a directory of the target is still a real directory when a restore goes through it is
 * the restore target's job (`restore/target.ts`, through `io/dir-tree.ts`).
 */
import { BackupError } from '../errors.js';

/** An empty, `.` or `..` segment anywhere in a `/`-separated path (one test per path: states hold millions). */
const UNSAFE_SEGMENT = /(?:^|\/)(?:\.{1,2})?(?:\/|$)/;

/**
 * Throw `EUNSAFEPATH` unless `path` is a safe relative POSIX path. It is judged as POSIX
 * judges it: `\` and `c:` are ordinary characters of a name there (systemd names units
 * `dev-disk-by\x2duuid….swap`), so refusing them would make legal trees unrestorable. Only
 * on Windows, where they are separators and drive letters, are they refused.
 */
export function checkRelativePath(path: string, what = 'entry'): void {
  const why = unsafeBecause(path);
  if (why !== undefined) throw new BackupError('EUNSAFEPATH', `${what} ${JSON.stringify(path)} is refused: ${why}`, { path });
}

function unsafeBecause(path: string): string | undefined {
  if (typeof path !== 'string' || path.length === 0) return 'empty path';
  if (path.includes('\0')) return 'NUL in path';
  if (path.startsWith('/')) return 'absolute path';
  if (process.platform === 'win32' && (/^[A-Za-z]:/.test(path) || path.includes('\\'))) return 'a drive letter or backslash, which Windows reads as a path';
  if (UNSAFE_SEGMENT.test(path)) return 'empty, "." or ".." segment';
  return undefined;
}

/** The parent of a relative posix path ('' for top-level entries). */
export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}
