/**
 * Which entries of a source tree a backup takes.
 *
 * Exclusion uses gitignore rules (the `ignore` package): the caller's patterns plus those of
 * an ignore file in the source (`.exclude` at the root by default). Directories are tested
 * with a trailing slash so `build/` excludes the directory `build`, as in git; an excluded
 * directory is not descended into. Inclusion uses glob patterns (fast-glob): when given, an
 * entry is kept if it matches, lies inside a matching directory, or is a directory on the way
 * to a match, so a restore recreates the parents of every included file. The glob is
 * expanded once up front, with the options a backup needs (dotfiles, directories, no symlink
 * following), rather than matched per entry; its directory reads go through the tree's open
 * directories like the walk's, so it reaches any depth, and a directory it cannot read is a
 * warning (nothing below it is included), never a failed backup.
 *
 * The ignore file is part of the tree being backed up, so it is read like any other file of
 * it (`openStable`): without blocking and through the root's descriptor. Anything but a
 * regular file there (a FIFO, a directory, a device) is ignored with a warning, never waited
 * on or failed over. A symlink is not followed either, as git does not follow a symlinked
 * `.gitignore`: the tree layer never follows a link it finds in the source, the backup stores
 * the link and not what it points to (so the rules deciding what a backup holds are in it),
 * and a link planted by whoever can write the source could make the backup read any file its
 * user can (a backup often runs as root). A user who keeps the rules elsewhere passes them as
 * `exclude` patterns; the warning says so.
 */
import type { Dirent, Stats } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import fg from 'fast-glob';
import ignore from 'ignore';
import { isBackupError, wrapIoError } from '../errors.js';
import type { DirTree } from '../io/dir-tree.js';
import { openStable, reasonOf } from './stable-read.js';
import type { TreeWarning } from './walk.js';

/** The largest ignore file read; a longer one is ignored with a warning (memory stays bounded). */
const MAX_EXCLUDE_FILE = 1 << 20;

/** What to select from a source tree. */
export interface SelectionOptions {
  /** gitignore patterns to leave out. */
  exclude?: readonly string[];
  /** Posix path of an ignore file relative to the source root (gitignore syntax); default `.exclude`. */
  excludeFile?: string;
  /** fast-glob patterns; when given, only matching entries (and their parents) are taken. */
  include?: readonly string[];
}

/** A compiled selection: `keeps(path, isDir)` for posix paths relative to the source root. */
export interface Selection {
  keeps(path: string, isDir: boolean): boolean;
}

/**
 * Compile the selection for the tree. An ignore file that cannot be used (not a regular
 * file, a symlink, unreadable, over 1 MiB) is reported to `warn` and left out; a missing one
 * is no problem.
 *
 * @throws {@link BackupError} `EPARAM` when `excludeFile` is not a relative posix path; `EIO`
 *   when the include patterns cannot be expanded.
 */
export async function compileSelection(tree: DirTree, options: SelectionOptions, warn: (w: TreeWarning) => void): Promise<Selection> {
  const exclude = options.exclude ?? [];
  const rules = await readExcludeFile(tree, options.excludeFile ?? '.exclude', warn);
  // No rules, no matcher: `ignore` caches an answer for every path it is asked about, which
  // costs time and memory in proportion to the tree even when nothing can match.
  const ig = exclude.length > 0 || rules !== undefined ? ignore({ ignorecase: false }).add([...exclude]).add(rules ?? '') : undefined;
  const included = options.include && options.include.length > 0 ? await expandIncludes(tree, options.include, warn) : undefined;
  return {
    keeps(path: string, isDir: boolean): boolean {
      if (ig?.ignores(isDir ? `${path}/` : path)) return false;
      if (!included) return true;
      if (included.matched.has(path) || included.ancestors.has(path)) return true;
      for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) {
        if (included.matched.has(path.slice(0, i))) return true;
      }
      return false;
    },
  };
}

/** The text of the ignore file, or undefined when there is none or it cannot be used (after a warning). */
async function readExcludeFile(tree: DirTree, file: string, warn: (w: TreeWarning) => void): Promise<string | undefined> {
  const opened = await openStable(tree, file, { racyMarginMs: 0 });
  if (opened.warning) {
    if (opened.warning.code !== 'EVANISHED') {
      warn({ ...opened.warning, message: `ignore file not used (${opened.warning.message}); make it a regular file or pass its rules as exclude patterns` });
    }
    return undefined;
  }
  const { read } = opened;
  try {
    if (read.meta.size > MAX_EXCLUDE_FILE) {
      warn({ code: 'EUNREADABLE', path: file, message: `ignore file not used: it holds ${read.meta.size} bytes, more than the ${MAX_EXCLUDE_FILE} an ignore file may` });
      return undefined;
    }
    const parts: Uint8Array[] = [];
    for await (const chunk of read.chunks) parts.push(chunk);
    return Buffer.concat(parts).toString('utf8');
  } finally {
    await read.close();
  }
}

/**
 * Expand the include patterns in the tree. fast-glob walks by path, so its file-system calls
 * are answered through the tree's open directories ({@link anchoredFs}): the expansion reaches
 * any depth and never follows a directory swapped for a symlink.
 */
async function expandIncludes(tree: DirTree, patterns: readonly string[], warn: (w: TreeWarning) => void): Promise<{ matched: Set<string>; ancestors: Set<string> }> {
  let found: string[];
  try {
    found = await fg([...patterns], {
      cwd: tree.root.anchor,
      fs: anchoredFs(tree, warn),
      dot: true,
      onlyFiles: false,
      followSymbolicLinks: false,
      markDirectories: false,
      unique: true,
    });
  } catch (e) {
    throw wrapIoError(e, tree.root.path, 'expanding the include patterns in');
  }
  const matched = new Set(found);
  const ancestors = new Set<string>();
  for (const p of found) {
    for (let i = p.indexOf('/'); i > 0; i = p.indexOf('/', i + 1)) ancestors.add(p.slice(0, i));
  }
  return { matched, ancestors };
}

type Callback<T> = (error: NodeJS.ErrnoException | null, value: T) => void;

/** An error fast-glob takes for "not there", which it skips. */
function notFound(path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOENT: no such entry ${path}`), { code: 'ENOENT' });
}

/**
 * The calls fast-glob makes (readdir with file types, lstat, stat), for paths below the
 * tree's root anchor, made through the tree's open directories. A directory that cannot be
 * listed is a warning and reads as empty, and an entry that cannot be stat'ed reads as
 * missing, so nothing in the tree makes the expansion fail.
 */
function anchoredFs(tree: DirTree, warn: (w: TreeWarning) => void): Partial<fg.FileSystemAdapter> {
  const base = tree.root.anchor;
  /** The posix path below the root of an absolute path fast-glob built, or undefined outside it. */
  const relOf = (path: string): string | undefined => {
    if (path !== base && !path.startsWith(`${base}/`)) return undefined;
    const parts = path.slice(base.length).split('/').filter((p) => p !== '' && p !== '.');
    return parts.includes('..') ? undefined : parts.join('/');
  };
  const statWith = (stat: typeof lstat) => (path: string, cb: Callback<Stats>) => {
    const rel = relOf(path);
    if (rel === undefined || rel === '') {
      cb(notFound(path), undefined as never);
      return;
    }
    const cut = rel.lastIndexOf('/');
    tree.use(rel.slice(0, Math.max(0, cut)), (dir) => stat(dir.entry(rel.slice(cut + 1)))).then(
      (st) => cb(null, st),
      () => cb(notFound(path), undefined as never),
    );
  };
  const readdirTyped = (path: string, _options: unknown, cb: Callback<Dirent[]>): void => {
    const rel = relOf(path);
    if (rel === undefined) {
      cb(notFound(path), undefined as never);
      return;
    }
    tree.use(rel, (dir) => readdir(dir.anchor, { withFileTypes: true })).then(
      (entries) => cb(null, entries),
      (e: unknown) => {
        const cause = (isBackupError(e) ? e.cause : e) as NodeJS.ErrnoException | undefined;
        if (cause?.code !== 'ENOENT') {
          warn({ code: 'EUNREADABLE', path: rel || '.', message: `cannot be searched for the include patterns (${isBackupError(e, 'EUNSAFEPATH') ? 'no longer a real directory' : reasonOf(cause)}); nothing below it is included` });
        }
        cb(null, []);
      },
    );
  };
  return { lstat: statWith(lstat), stat: statWith(stat), readdir: readdirTyped as fg.FileSystemAdapter['readdir'] };
}
