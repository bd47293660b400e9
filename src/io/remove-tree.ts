/**
 * Removing an entry and everything below it (rm -rf) without ever following a symlink.
 *
 * A recursive removal by path walks `a/b/c` by name at every call: if `b` is swapped for a
 * symlink to /home while it runs, it empties /home. Here every step goes through a descriptor
 * (see `anchored-dir.ts`): a non-directory is unlinked through its parent's anchored path
 * (unlink removes a symlink, never its target); a directory is opened O_NOFOLLOW, its children
 * removed through its own descriptor, and then rmdir'ed, which fails rather than follows if
 * the name was swapped for a symlink meanwhile. Every call checks the kind of the entry
 * itself, so the kind read from a listing is only a guess that orders the calls (it saves an
 * lstat per file); an entry that turns out to be of another kind, or changes kind under the
 * removal, is looked at again a few times, then reported.
 *
 * Names are read as bytes, so names that are not valid UTF-8 are removed too. Listings are
 * read in batches and closed before descending, so memory is bounded by the batch, and the
 * descriptors held are one per level of the tree being removed, plus one listing.
 */
import { lstat, opendir, rmdir, unlink } from 'node:fs/promises';
import { isBackupError, wrapIoError } from '../errors.js';
import type { Dir } from './anchored-dir.js';

/** How many names of a directory are read before their removal starts. */
const BATCH = 256;
/** How often an entry that keeps changing kind (file, directory, symlink) is looked at again. */
const ATTEMPTS = 5;

function codeOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * Remove the entry `name` of `dir` and, when it is a directory, everything below it, never
 * following a symlink. An entry that does not exist counts as removed. Fails with `EIO` naming
 * the entry that could not be removed (the node error as `cause`).
 */
export function removeTree(dir: Dir, name: string | Buffer): Promise<void> {
  return removeEntry(dir, name, false);
}

/**
 * Remove `name`, guessed to be a directory or not (from the listing's entry type). The guess
 * only orders the calls: unlink is tried first for a non-directory (it never follows a
 * symlink, and saves an lstat per file), and a directory is opened O_NOFOLLOW; each call
 * checks the entry's kind itself, so a wrong or stale guess costs one failed call.
 */
async function removeEntry(dir: Dir, name: string | Buffer, guessDir: boolean): Promise<void> {
  const path = dir.entry(name);
  let isDir = guessDir;
  for (let attempt = 1; ; attempt++) {
    // Each `continue` below means the entry was not of the kind expected (a wrong guess, or
    // a directory swapped for a symlink or back, or filled again while it was emptied): look
    // again, a bounded number of times.
    const retry = attempt < ATTEMPTS;
    if (!isDir) {
      try {
        await unlink(path);
        return;
      } catch (e) {
        if (codeOf(e) === 'ENOENT') return;
        // Linux says EISDIR for a directory, POSIX allows EPERM: ask the entry what it is.
        if (retry && (await isDirectory(path))) {
          isDir = true;
          continue;
        }
        throw wrapIoError(e, dir.describe(name), 'removing');
      }
    }
    let child: Dir;
    try {
      child = await dir.openDir(name);
    } catch (e) {
      if (isBackupError(e, 'EUNSAFEPATH') && retry) {
        isDir = false;
        continue;
      }
      if (isBackupError(e) && codeOf(e.cause) === 'ENOENT') return;
      throw wrapIoError(isBackupError(e) ? e.cause : e, dir.describe(name), 'removing');
    }
    try {
      await empty(child);
    } finally {
      await child.close();
    }
    try {
      await rmdir(path);
      return;
    } catch (e) {
      if (codeOf(e) === 'ENOENT') return;
      if (codeOf(e) === 'ENOTDIR' && retry) {
        isDir = false;
        continue;
      }
      if (codeOf(e) === 'ENOTEMPTY' && retry) continue;
      throw wrapIoError(e, dir.describe(name), 'removing');
    }
  }
}

/** Whether `path` is a directory now (false when it cannot be told). */
async function isDirectory(path: string | Buffer): Promise<boolean> {
  try {
    return (await lstat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Remove every entry of `dir`, a batch of names at a time. */
async function empty(dir: Dir): Promise<void> {
  for (;;) {
    const entries = await listBatch(dir);
    if (entries.length === 0) return;
    for (const e of entries) await removeEntry(dir, e.name, e.isDir);
  }
}

/** Up to {@link BATCH} entries of `dir`, names read as bytes; the listing is closed before returning. */
async function listBatch(dir: Dir): Promise<{ name: Buffer; isDir: boolean }[]> {
  const entries: { name: Buffer; isDir: boolean }[] = [];
  try {
    const listing = await opendir(dir.anchor, { encoding: 'buffer' as BufferEncoding, bufferSize: 64 });
    try {
      while (entries.length < BATCH) {
        const d = await listing.read();
        if (d === null) break;
        entries.push({ name: d.name as unknown as Buffer, isDir: d.isDirectory() });
      }
    } finally {
      await listing.close();
    }
  } catch (e) {
    throw wrapIoError(e, dir.path, 'listing');
  }
  return entries;
}
