/**
 * Walking a source tree: every selected entry with its metadata, parents before children,
 * siblings in code-unit order so two walks of the same tree agree.
 *
 * The walk goes through a `DirTree`: each directory is opened through its parent's
 * descriptor and its entries are reached as `/proc/self/fd/N/name`, so no path the kernel sees
 * is longer than one name (a tree deeper than PATH_MAX is walked like any other) and a
 * directory swapped for a symlink mid-walk is refused, not followed. Symlinks are entries,
 * never followed (`lstat`). Entries a backup cannot store (sockets, FIFOs, devices) and
 * directories it cannot list are reported as warnings and skipped, and so are names that are
 * not valid UTF-8 (JSON, and so the state, can only hold Unicode); hard links are reported
 * once per inode and stored as independent files. `EVANISHED` means the entry is gone
 * (ENOENT); any other failure is `EUNREADABLE` with its reason.
 *
 * Directories to leave out (the backup's own work directory when it lies inside the source)
 * are named by identity, device and inode, not by path: a path reached through a symlink,
 * a bind mount or `..` names the same directory with a different string.
 *
 * Memory follows the depth of the tree and the width of one directory (`fs.opendir` lists it,
 * the names are sorted), not the size of the tree. The directory being listed stays open and
 * pinned in the `DirTree` until its last entry is yielded.
 */
import { opendir, lstat, readlink } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { isBackupError, type WarningCode } from '../errors.js';
import type { Dir } from '../io/anchored-dir.js';
import type { DirTree } from '../io/dir-tree.js';
import { entryTypeOf, metaOf, type EntryMeta } from './dir-state.js';
import type { Selection } from './selection.js';
import { reasonOf } from './stable-read.js';

/** A recoverable problem met while walking or reading the source. */
export interface TreeWarning {
  /** `ESPECIAL` (socket/FIFO/device skipped), `EBADNAME`, `EHARDLINK`, `EUNREADABLE`, `EVANISHED`, `ECHANGED`. */
  code: WarningCode;
  /** Path relative to the source root (`.` for the root). */
  path: string;
  message: string;
}

/** One walked entry. */
export interface WalkEntry {
  /** Posix path relative to the source root. */
  path: string;
  meta: EntryMeta;
}

/** A directory's identity: the device and inode numbers of `lstat(…, { bigint: true })`. */
export interface DirIdentity {
  dev: bigint;
  ino: bigint;
}

/** Options of {@link walkTree}. */
export interface WalkOptions {
  /** Checked before each directory is listed; the walk throws the signal's reason. */
  signal?: AbortSignal;
  /**
   * Directories left out, with everything below them, without a warning: those whose
   * device and inode are listed. The root itself is always walked.
   */
  skipDirs?: ReadonlyArray<DirIdentity>;
}

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const identityKey = (id: DirIdentity): string => `${id.dev}:${id.ino}`;

/**
 * Walk the tree, yielding the selected entries (the root itself excluded). Problems with the
 * tree's contents are passed to `warn`; the walk goes on.
 *
 * @throws {@link BackupError} `EINTERNAL` when the tree is closed; the signal's reason when it fires.
 */
export async function* walkTree(
  tree: DirTree,
  selection: Selection,
  warn: (w: TreeWarning) => void,
  options: WalkOptions = {},
): AsyncGenerator<WalkEntry, void, undefined> {
  const skip = new Set((options.skipDirs ?? []).map(identityKey));
  const seenInodes = new Set<string>();
  const stack: string[] = [''];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    options.signal?.throwIfAborted();
    let listing: Dir;
    try {
      listing = await tree.acquire(dir);
    } catch (e) {
      warn(listFailure(e, dir));
      continue;
    }
    const subdirs: string[] = [];
    try {
      const names = await listNames(listing, dir, warn);
      for (const name of names ?? []) {
        const rel = dir === '' ? name : `${dir}/${name}`;
        let st: BigIntStats;
        try {
          st = await lstat(listing.entry(name), { bigint: true });
        } catch (e) {
          warn(entryFailure(e, rel));
          continue;
        }
        const type = entryTypeOf(st);
        if (type === 'socket' || type === 'fifo' || type === 'device') {
          if (selection.keeps(rel, false)) warn({ code: 'ESPECIAL', path: rel, message: `${type} skipped: backups store files, directories and symlinks` });
          continue;
        }
        if (type === 'dir' && skip.has(identityKey(st))) continue;
        if (!selection.keeps(rel, type === 'dir')) continue;
        let target: string | undefined;
        if (type === 'symlink') {
          try {
            target = await readlink(listing.entry(name));
          } catch (e) {
            warn(entryFailure(e, rel));
            continue;
          }
        }
        if (type === 'file' && st.nlink > 1n) {
          const key = `${st.dev}:${st.ino}`;
          if (!seenInodes.has(key)) {
            seenInodes.add(key);
            warn({ code: 'EHARDLINK', path: rel, message: `has ${st.nlink} hard links; each link is stored and restored as a separate file` });
          }
        }
        yield { path: rel, meta: metaOf(st, type, target) };
        if (type === 'dir') subdirs.push(rel);
      }
    } finally {
      tree.release(listing);
    }
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
  }
}

/** The valid UTF-8 names of `listing`, sorted; undefined (after a warning) when it cannot be listed. */
async function listNames(listing: Dir, dir: string, warn: (w: TreeWarning) => void): Promise<string[] | undefined> {
  const names: string[] = [];
  try {
    const handle = await opendir(listing.anchor, { encoding: 'buffer' as BufferEncoding });
    for await (const d of handle) {
      const raw = d.name as unknown as Buffer;
      const name = raw.toString('utf8');
      if (Buffer.from(name).equals(raw)) names.push(name);
      else warn({ code: 'EBADNAME', path: dir === '' ? name : `${dir}/${name}`, message: 'skipped: the name is not valid UTF-8, which the backup state cannot record' });
    }
  } catch (e) {
    warn({ code: 'EUNREADABLE', path: dir || '.', message: `cannot list directory (${reasonOf(e as NodeJS.ErrnoException)}); skipped with everything below it` });
    return undefined;
  }
  return names.sort(byCodeUnit);
}

/** The warning for a directory that cannot be opened (errors not about the tree are rethrown). */
function listFailure(e: unknown, dir: string): TreeWarning {
  const path = dir || '.';
  if (isBackupError(e, 'EUNSAFEPATH')) {
    return { code: 'EUNREADABLE', path, message: 'was replaced by a symlink or a file while the walk ran; not followed, skipped' };
  }
  if (!isBackupError(e, 'EIO')) throw e;
  const cause = e.cause as NodeJS.ErrnoException | undefined;
  if (cause?.code === 'ENOENT') return { code: 'EVANISHED', path, message: 'vanished before it could be listed' };
  return { code: 'EUNREADABLE', path, message: `cannot open directory (${reasonOf(cause)}); skipped with everything below it` };
}

/** The warning for an entry whose lstat or readlink failed. */
function entryFailure(e: unknown, rel: string): TreeWarning {
  const sys = e as NodeJS.ErrnoException;
  if (sys?.code === 'ENOENT') return { code: 'EVANISHED', path: rel, message: 'vanished before it could be read' };
  return { code: 'EUNREADABLE', path: rel, message: `cannot be read (${reasonOf(sys)}); skipped` };
}
