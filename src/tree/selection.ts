/**
 * Which entries of a source tree a backup takes.
 *
 * Exclusion uses gitignore rules (the `ignore` package): the caller's patterns plus those of
 * an ignore file at the source root (`.exclude` by default). Directories are tested with a
 * trailing slash so `build/` excludes the directory `build`, as in git; an excluded directory
 * is not descended into. Inclusion uses glob patterns (fast-glob): when given, an entry is
 * kept if it matches, lies inside a matching directory, or is a directory on the way to a
 * match, so a restore recreates the parents of every included file. The glob is expanded
 * once up front, with the options a backup needs (dotfiles, directories, no symlink
 * following), rather than matched per entry.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fg from 'fast-glob';
import ignore from 'ignore';
import { wrapIoError } from '../errors.js';

/** What to select from a source tree. */
export interface SelectionOptions {
  /** gitignore patterns to leave out. */
  exclude?: readonly string[];
  /** Name of an ignore file at the source root (gitignore syntax); default `.exclude`. */
  excludeFile?: string;
  /** fast-glob patterns; when given, only matching entries (and their parents) are taken. */
  include?: readonly string[];
  /** Relative paths always left out (the work directory when it lies inside the source). */
  always?: readonly string[];
}

/** A compiled selection: `keeps(path, isDir)` for posix paths relative to the source root. */
export interface Selection {
  keeps(path: string, isDir: boolean): boolean;
}

/** Compile the selection for `source`. */
export async function compileSelection(source: string, options: SelectionOptions = {}): Promise<Selection> {
  const ig = ignore({ ignorecase: false });
  ig.add([...(options.exclude ?? [])]);
  const fileName = options.excludeFile ?? '.exclude';
  try {
    ig.add(await readFile(join(source, fileName), 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw wrapIoError(e, join(source, fileName), 'reading');
  }
  const always = new Set(options.always ?? []);
  const included = options.include && options.include.length > 0 ? await expandIncludes(source, options.include) : undefined;
  return {
    keeps(path: string, isDir: boolean): boolean {
      if (always.has(path) || ig.ignores(isDir ? `${path}/` : path)) return false;
      if (!included) return true;
      if (included.matched.has(path) || included.ancestors.has(path)) return true;
      for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) {
        if (included.matched.has(path.slice(0, i))) return true;
      }
      return false;
    },
  };
}

async function expandIncludes(source: string, patterns: readonly string[]): Promise<{ matched: Set<string>; ancestors: Set<string> }> {
  const found = await fg([...patterns], {
    cwd: source,
    dot: true,
    onlyFiles: false,
    followSymbolicLinks: false,
    markDirectories: false,
    unique: true,
  });
  const matched = new Set(found);
  const ancestors = new Set<string>();
  for (const p of found) {
    for (let i = p.indexOf('/'); i > 0; i = p.indexOf('/', i + 1)) ancestors.add(p.slice(0, i));
  }
  return { matched, ancestors };
}
