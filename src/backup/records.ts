/**
 * The state records a backup writes for what it walked: one per directory, symlink and file,
 * each holding exactly the fields the schema allows for its kind (`state/schema.ts`).
 */
import type { DirEntry, FileEntry, SymlinkEntry } from '../state/index.js';
import type { EntryMeta } from '../tree/index.js';

/** How a file's current version is rebuilt: the fields of a file record besides its metadata. */
export type Content = Pick<FileEntry, 'hash' | 'content' | 'steps'>;

/** Whether the file record `prev` holds exactly the metadata `m`. */
function sameFileMeta(prev: FileEntry, m: EntryMeta): boolean {
  return prev.mode === m.mode && prev.uid === m.uid && prev.gid === m.gid && prev.mtime === m.mtime && prev.size === m.size && prev.ctime === m.ctime && prev.ino === m.ino;
}

/** The record of a directory. */
export function dirRecord(path: string, m: EntryMeta): DirEntry {
  return { path, type: 'dir', mode: m.mode, uid: m.uid, gid: m.gid, mtime: m.mtime, size: 0 };
}

/** The record of a symlink. */
export function symlinkRecord(path: string, m: EntryMeta): SymlinkEntry {
  return { path, type: 'symlink', mode: m.mode, uid: m.uid, gid: m.gid, mtime: m.mtime, size: 0, target: m.target! };
}

/** The record of a file with metadata `m` whose content is rebuilt as `content` says. */
export function fileRecord(path: string, m: EntryMeta, { hash, content, steps }: Content): FileEntry {
  const e: FileEntry = { path, type: 'file', mode: m.mode, uid: m.uid, gid: m.gid, mtime: m.mtime, size: m.size, ctime: m.ctime!, ino: m.ino!, hash, content };
  if (steps !== undefined) e.steps = steps;
  return e;
}

/**
 * An unchanged file's record with the metadata just read (`racy`: read it again next time).
 * When nothing at all changed, that is the previous record itself: at a million files, a
 * copy of each record is a few hundred megabytes that an unchanged tree need not cost.
 */
export function carriedRecord(path: string, meta: EntryMeta, prev: FileEntry, racy: boolean): FileEntry {
  if (!racy && prev.unstable === undefined && sameFileMeta(prev, meta)) return prev;
  const e = fileRecord(path, meta, prev);
  if (prev.sig !== undefined) e.sig = prev.sig;
  if (racy) e.unstable = true;
  return e;
}
