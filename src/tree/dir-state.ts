/**
 * The state of one directory tree entry, as a backup records it, and change detection.
 *
 * What is recorded is what a restore must reproduce and what tells whether an entry changed:
 * type, permission bits, owner, mtime in nanoseconds (a string, since JSON numbers stop being
 * exact at 2^53), the size and content hash of regular files and the target of symlinks, and,
 * for files, the inode's change time and number. A file whose size, mtime, ctime and inode
 * are all the same is assumed to hold the same bytes unless the caller asks for content
 * hashes to be compared: rsync's quick check, made as strict as git's and restic's.
 */
import type { BigIntStats } from 'node:fs';

/** The kinds of entry a backup stores. */
export type EntryType = 'file' | 'dir' | 'symlink';

/** The metadata of one entry, as read from the file system. */
export interface EntryMeta {
  type: EntryType;
  /** Permission bits (`mode & 0o7777`). */
  mode: number;
  uid: number;
  gid: number;
  /** Modification time in nanoseconds since the epoch, as a decimal string. */
  mtime: string;
  /** Size in bytes (files only; 0 for others). */
  size: number;
  /** Symlink target, as stored in the link (never followed). */
  target?: string;
  /** Inode change time in nanoseconds (files only): moves on every write, even one that puts the mtime back. */
  ctime?: string;
  /** Inode number as a decimal string (files only): a file replaced by another gets a new one. */
  ino?: string;
}

/** The type of a stat result, or the name of the unsupported kind it is. */
export function entryTypeOf(st: BigIntStats): EntryType | 'socket' | 'fifo' | 'device' {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isSocket()) return 'socket';
  if (st.isFIFO()) return 'fifo';
  return 'device';
}

/** The recorded metadata of a stat result of a supported type. */
export function metaOf(st: BigIntStats, type: EntryType, target?: string): EntryMeta {
  const meta: EntryMeta = {
    type,
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    mtime: st.mtimeNs.toString(),
    size: type === 'file' ? Number(st.size) : 0,
  };
  if (target !== undefined) meta.target = target;
  if (type === 'file') {
    meta.ctime = st.ctimeNs.toString();
    meta.ino = st.ino.toString();
  }
  return meta;
}

/**
 * True when the contents may differ. As git and restic judge it: type, size, mtime or symlink
 * target changed, or the inode's change time or number did. The ctime catches a writer that
 * puts the mtime back (`touch -r`, `rsync --inplace -t`, VM tools): no process can set it.
 */
export function contentMayDiffer(a: EntryMeta, b: EntryMeta): boolean {
  return a.type !== b.type || a.size !== b.size || a.mtime !== b.mtime || a.target !== b.target || a.ctime !== b.ctime || a.ino !== b.ino;
}

/** True when an attribute a restore reproduces differs (type, size, mtime, target, mode, owner). */
export function metaDiffers(a: EntryMeta, b: EntryMeta): boolean {
  return a.type !== b.type || a.size !== b.size || a.mtime !== b.mtime || a.target !== b.target || a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid;
}
