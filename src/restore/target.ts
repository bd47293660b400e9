/**
 * The restore target: every write, mkdir, symlink, rename, chmod, chown and utimes of a
 * restore goes through a directory held open, never through a path.
 *
 * A restore that wrote `target/a/b/f` by path followed `a` when another local user swapped it
 * for a symlink while it ran: 400 of 400 files landed outside the target, and the restore
 * reported success. Here the target is a `DirTree` (`io/dir-tree.ts`): each directory is
 * opened O_NOFOLLOW through its parent's descriptor, and its entries are reached through its
 * own (`/proc/self/fd/N/name`). A directory swapped for a symlink is refused with
 * `EUNSAFEPATH`, never followed; a directory already open keeps receiving its entries
 * whatever is renamed around it.
 *
 * - Files are created O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600, under a temporary name
 *   beside their final name; they get owner (as root), mode and times through their
 *   descriptor, and are renamed into place last (a rename keeps the mtime). The owner goes
 *   first, since chown clears set-id bits.
 * - Directories are created 0700 while the restore runs (no other user can enter them to
 *   plant anything while they fill), and get owner, mode and times at the end, deepest first
 *   (no later write inside changes their mtime, and a read-only directory is finished after
 *   its contents), through a descriptor opened O_DIRECTORY|O_NOFOLLOW.
 * - Symlinks get owner and times through the anchored path, with lchown and lutimes, which
 *   never follow.
 * - What is in the way of an entry (a file where a directory goes, a directory or a symlink
 *   where a file goes) is removed with `removeTree`, which never follows a symlink; a
 *   directory where a directory goes is kept, with whatever the backup does not have. The
 *   target must be empty unless `overwrite` is set, so without it only another process can
 *   have put something there.
 * - The target itself is the user's choice: when it is a symlink, it is followed.
 *
 * Nothing is lstat'ed to learn what is in the way: the call that meets it fails (EEXIST,
 * EISDIR), and only then is it looked at. A small file costs seven calls: open, one write,
 * fchown (as root), fchmod, futimens (the addon's, on the calling thread; futimes through
 * the thread pool without it), close and rename; a file with a block of zeros, or a large
 * one, also ftruncate. A directory costs mkdir, and at the end open, fchown, fchmod,
 * futimens and close, once, whatever it holds.
 *
 * Many files may be in flight at once: each has its own temporary name and descriptor, and
 * the directory it is created in stays pinned in the tree until it is renamed or removed.
 * When such a directory is removed under them, their errors name the directory.
 *
 * Besides the versions kept for the next delta, a file whose deltas are composed has a spool:
 * one temporary file beside it, under a temporary name like the others, that its deltas are
 * appended to as the archives are read. Both are removed once the file is in place, and
 * whatever is left when the restore ends (it failed) is removed when the target closes.
 */
import { constants, fstat } from 'node:fs';
import { lchown, mkdir, open, opendir, rename, symlink, unlink, type FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parentOf } from '../archive/index.js';
import { BackupError, isBackupError, wrapIoError } from '../errors.js';
import type { Dir } from '../io/anchored-dir.js';
import { DirTree } from '../io/dir-tree.js';
import { setFileTimes, setPathTimes, type FileTimesOptions } from '../io/file-times.js';
import { tempName } from '../io/temp-name.js';
import type { DirEntry, FileEntry, StateEntry, SymlinkEntry } from '../state/index.js';

const { O_WRONLY, O_RDONLY, O_RDWR, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY } = constants;
const CREATE = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;
const CREATE_SPOOL = O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW;
/** Reads of a {@link KeptFile}'s range, at most. */
const READ_CHUNK = 1 << 20;
/** rename's answers when a non-directory is renamed onto a directory. */
const DIRECTORY_IN_THE_WAY = new Set(['EISDIR', 'ENOTEMPTY', 'EEXIST']);

/** Options of {@link RestoreTarget.open}. */
export interface RestoreTargetOptions {
  /** Restore into a non-empty target, replacing what is in the way of the backup's entries. */
  overwrite: boolean;
  /** How times are set (see `io/file-times.ts`); default: exact to the ns with the addon. */
  times?: FileTimesOptions;
}

function codeOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * The error of an open of the directory `rel` (at `path`) that met a symlink or a
 * non-directory: `EUNSAFEPATH` naming `rel`, as the directory tree names the directories it
 * refuses to go through.
 */
function notARealDirectory(e: unknown, rel: string, path: string): BackupError {
  const code = codeOf(e);
  if (code === 'ELOOP' || code === 'ENOTDIR') {
    return new BackupError('EUNSAFEPATH', `${path} is not a real directory (a symlink or not a directory); refusing to go through it`, { path: rel, cause: e });
  }
  return wrapIoError(e, path, 'opening directory');
}

/** Whether the open directory `dir` was removed (no name leads to it any more). */
function wasRemoved(dir: Dir): Promise<boolean> {
  return new Promise((done) => fstat(dir.fd, (e, st) => done(!e && st.nlink === 0)));
}

/** Open the target (following it when it is a symlink), creating it and its parents when missing. */
async function openTree(path: string): Promise<DirTree> {
  try {
    return await DirTree.open(path, { follow: true });
  } catch (e) {
    const cause = isBackupError(e) ? codeOf(e.cause) : undefined;
    if (cause === 'ENOTDIR') throw new BackupError('ENOTEMPTY', `restore target ${path} exists and is not a directory`, { path, cause: e });
    if (cause !== 'ENOENT') throw e;
  }
  await mkdir(path, { recursive: true }).catch((e: unknown) => {
    throw wrapIoError(e, path, 'creating');
  });
  return DirTree.open(path, { follow: true });
}

/** Whether the open directory `dir` has no entry; reads one name at most. */
async function isEmpty(dir: Dir): Promise<boolean> {
  try {
    const listing = await opendir(dir.anchor, { bufferSize: 1 });
    try {
      return (await listing.read()) === null;
    } finally {
      await listing.close();
    }
  } catch (e) {
    throw wrapIoError(e, dir.path, 'listing');
  }
}

/** The directory of `rel` (relative to the root) and its name in it. */
function split(rel: string): [parent: string, name: string] {
  return [parentOf(rel), basename(rel)];
}

/** A restore target, written only through directories held open (see the module header). */
export class RestoreTarget {
  /** Temporary files holding a version that a later delta replaces, by the path they restore. */
  private readonly kept = new Map<string, string>();
  /** Temporary files holding the deltas of a file, by the path they restore. */
  private readonly spools = new Map<string, string>();
  private readonly isRoot = process.getuid?.() === 0;

  private constructor(
    private readonly tree: DirTree,
    /** The target directory, as given. */
    readonly path: string,
    private readonly times: FileTimesOptions,
  ) {}

  /**
   * Open the target at `path`, creating it when missing. `ENOTEMPTY` when it is not a
   * directory, or not empty without `overwrite`; `EIO` naming it when it cannot be opened.
   */
  static async open(path: string, options: RestoreTargetOptions): Promise<RestoreTarget> {
    const tree = await openTree(path);
    try {
      if (!options.overwrite && !(await isEmpty(tree.root))) {
        throw new BackupError('ENOTEMPTY', `restore target ${path} is not empty (pass overwrite to restore into it)`, { path });
      }
    } catch (e) {
      await tree.close();
      throw e;
    }
    return new RestoreTarget(tree, path, options.times ?? {});
  }

  /** Whether files get their recorded owner (a restore as root). */
  get setsOwners(): boolean {
    return this.isRoot;
  }

  /** How times are set. */
  get timesOptions(): FileTimesOptions {
    return this.times;
  }

  /** Run `fn` with the directory `rel` of the target held open (and pinned) while it runs. */
  inDirectory<T>(rel: string, fn: (dir: Dir) => Promise<T>): Promise<T> {
    return this.tree.use(rel, fn);
  }

  /** The path of `rel` in the target, for messages. */
  describe(rel: string): string {
    return join(this.path, rel);
  }

  /** Create the directory `rel` (mode 0700 until {@link RestoreTarget.finishDir}), or keep the one there. */
  async makeDir(rel: string): Promise<void> {
    const [parentRel, name] = split(rel);
    await this.tree.use(parentRel, async (parent) => {
      for (let attempt = 0; ; attempt++) {
        try {
          await mkdir(parent.entry(name), { mode: 0o700 });
          return;
        } catch (e) {
          if (codeOf(e) !== 'EEXIST' || attempt > 0) throw wrapIoError(e, this.describe(rel), 'creating directory');
        }
        if (await this.isRealDir(rel)) return;
        await this.tree.remove(rel);
      }
    });
  }

  /** A new temporary file beside `rel`, for a version of that file. */
  async create(rel: string): Promise<NewFile> {
    const [parentRel, name] = split(rel);
    const parent = await this.tree.acquire(parentRel);
    const temp = tempName(name);
    try {
      const handle = await open(parent.entry(temp), CREATE, 0o600);
      return new NewFile(this, parent, rel, temp, handle);
    } catch (e) {
      const err = await this.entryError(e, parent, rel, 'creating');
      this.tree.release(parent);
      throw err;
    }
  }

  /** The version of `rel` kept by {@link NewFile.keep}, open for reading (and writing, with `write`). */
  async openKept(rel: string, write = false): Promise<KeptFile> {
    const temp = this.kept.get(rel);
    if (temp === undefined) throw new BackupError('EINTERNAL', `${this.describe(rel)}: no earlier version was kept to patch`, { path: rel });
    const parent = await this.tree.acquire(parentOf(rel));
    try {
      return new KeptFile(this, parent, rel, temp, await open(parent.entry(temp), (write ? O_RDWR : O_RDONLY) | O_NOFOLLOW));
    } catch (e) {
      this.tree.release(parent);
      throw wrapIoError(e, this.describe(rel), 'opening the previous version of');
    }
  }

  /**
   * The spool of deltas of `rel` (see the module header), open for reading and writing:
   * created empty (mode 0600) the first time, the same file after.
   */
  async openSpool(rel: string): Promise<KeptFile> {
    const [parentRel, name] = split(rel);
    const parent = await this.tree.acquire(parentRel);
    let temp = this.spools.get(rel);
    try {
      if (temp !== undefined) return new KeptFile(this, parent, rel, temp, await open(parent.entry(temp), O_RDWR | O_NOFOLLOW));
      temp = tempName(name);
      const handle = await open(parent.entry(temp), CREATE_SPOOL, 0o600);
      this.spools.set(rel, temp);
      return new KeptFile(this, parent, rel, temp, handle);
    } catch (e) {
      const err = await this.entryError(e, parent, rel, 'opening the spool of deltas of');
      this.tree.release(parent);
      throw err;
    }
  }

  /** Create the symlink `e`, with its owner (as root) and times. */
  async makeSymlink(e: SymlinkEntry): Promise<void> {
    const [parentRel, name] = split(e.path);
    const path = this.describe(e.path);
    await this.tree.use(parentRel, async (parent) => {
      const at = parent.entry(name);
      for (let attempt = 0; ; attempt++) {
        try {
          await symlink(e.target, at);
          break;
        } catch (err) {
          if (codeOf(err) !== 'EEXIST' || attempt > 0) throw wrapIoError(err, path, 'creating symlink');
        }
        await this.tree.remove(e.path);
      }
      if (this.isRoot) {
        await lchown(at, e.uid, e.gid).catch((err: unknown) => {
          throw wrapIoError(err, path, 'setting the owner of');
        });
      }
      const t = BigInt(e.mtime);
      await setPathTimes(at, t, t, { ...this.times, nofollow: true });
    });
  }

  /** Give the directory `e` its owner (as root), mode and times; call deepest first, after its contents. */
  async finishDir(e: DirEntry): Promise<void> {
    const [parentRel, name] = split(e.path);
    const path = this.describe(e.path);
    await this.tree.use(parentRel, async (parent) => {
      const handle = await open(parent.entry(name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW).catch((err: unknown) => {
        throw notARealDirectory(err, e.path, path);
      });
      try {
        await this.setAttributes(handle, e, path);
      } finally {
        await handle.close().catch(() => undefined);
      }
    });
  }

  /** Remove the temporary files still kept and the spools, then close every directory. Never throws. */
  async close(): Promise<void> {
    for (const [rel, temp] of [...this.kept, ...this.spools]) {
      // Best effort: a directory swapped for a symlink meanwhile cannot be reached safely.
      await this.tree.use(parentOf(rel), (parent) => unlink(parent.entry(temp))).catch(() => undefined);
    }
    this.kept.clear();
    this.spools.clear();
    await this.tree.close().catch(() => undefined);
  }

  /** Set owner (as root), mode and times of the open file or directory `handle`, for entry `e`. */
  async setAttributes(handle: FileHandle, e: StateEntry, path: string): Promise<void> {
    try {
      if (this.isRoot) await handle.chown(e.uid, e.gid);
      await handle.chmod(e.mode);
    } catch (err) {
      throw wrapIoError(err, path, 'setting the attributes of');
    }
    const t = BigInt(e.mtime);
    await setFileTimes(handle, t, t, path, this.times);
  }

  /** Rename the temporary `temp` of `parent` to the entry `rel`, removing a directory in the way. */
  async place(parent: Dir, rel: string, temp: string): Promise<void> {
    const name = basename(rel);
    for (let attempt = 0; ; attempt++) {
      try {
        await rename(parent.entry(temp), parent.entry(name));
        return;
      } catch (e) {
        if (!DIRECTORY_IN_THE_WAY.has(codeOf(e) ?? '') || attempt > 0) throw await this.entryError(e, parent, rel, 'renaming into');
      }
      await this.tree.remove(rel);
    }
  }

  /** Remember the temporary `temp` as the version of `rel` that the next delta patches. */
  keep(rel: string, temp: string): void {
    this.kept.set(rel, temp);
  }

  /** Forget the kept version or the spool `temp` of `rel` once it is removed. */
  dropKept(rel: string, temp: string): void {
    if (this.kept.get(rel) === temp) this.kept.delete(rel);
    if (this.spools.get(rel) === temp) this.spools.delete(rel);
  }

  /** Release a directory acquired for a {@link NewFile} or {@link KeptFile}. */
  release(dir: Dir): void {
    this.tree.release(dir);
  }

  /**
   * The error of `doing` the entry `rel` of `parent`: when it is ENOENT because `parent` was
   * removed meanwhile (files in flight in a directory someone deletes), it names the
   * directory, as the restore names a directory it cannot open; else it names `rel`.
   */
  private async entryError(e: unknown, parent: Dir, rel: string, doing: string): Promise<BackupError> {
    if (codeOf(e) === 'ENOENT' && (await wasRemoved(parent))) return wrapIoError(e, this.describe(parentOf(rel)), `${doing} ${JSON.stringify(basename(rel))} in the removed directory`);
    return wrapIoError(e, this.describe(rel), doing);
  }

  /** Whether `rel` is a real directory (not a symlink, not a file). */
  private async isRealDir(rel: string): Promise<boolean> {
    try {
      await this.tree.use(rel, () => undefined);
      return true;
    } catch (e) {
      if (isBackupError(e, 'EUNSAFEPATH')) return false;
      throw e;
    }
  }
}

/**
 * A version of a file being written under a temporary name. End it with exactly one of
 * {@link NewFile.commit}, {@link NewFile.keep} or {@link NewFile.discard}; `discard` after a
 * failed `commit` or `keep` cleans up what they left.
 */
export class NewFile {
  private closed = false;
  private settled = false;

  /** @internal Made by {@link RestoreTarget.create}. */
  constructor(
    private readonly target: RestoreTarget,
    private readonly parent: Dir,
    /** The path the file restores to, relative to the target. */
    readonly rel: string,
    private readonly temp: string,
    /** The open temporary file, for writing. */
    readonly handle: FileHandle,
  ) {}

  /** The file's path in the target, for messages. */
  get path(): string {
    return this.target.describe(this.rel);
  }

  /** Give the file the owner, mode and times of `e`, close it and rename it into place. */
  async commit(e: FileEntry): Promise<void> {
    await this.target.setAttributes(this.handle, e, this.path);
    await this.close();
    await this.target.place(this.parent, this.rel, this.temp);
    this.settle();
  }

  /** Close the file and keep it under its temporary name, for the next delta to patch. */
  async keep(): Promise<void> {
    await this.close();
    this.target.keep(this.rel, this.temp);
    this.settle();
  }

  /** Close and remove the temporary file. Never throws. */
  async discard(): Promise<void> {
    if (this.settled) return;
    await this.close().catch(() => undefined);
    await unlink(this.parent.entry(this.temp)).catch(() => undefined);
    this.settle();
  }

  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close().catch((e: unknown) => {
      throw wrapIoError(e, this.path, 'writing');
    });
  }

  private settle(): void {
    this.settled = true;
    this.target.release(this.parent);
  }
}

/**
 * A kept version of a file, open for reading as the basis of a delta; or the spool of its
 * deltas, open for reading and writing.
 */
export class KeptFile {
  private done = false;

  /** @internal Made by {@link RestoreTarget.openKept}. */
  constructor(
    private readonly target: RestoreTarget,
    private readonly parent: Dir,
    private readonly rel: string,
    private readonly temp: string,
    /** The open file, for reading. */
    readonly handle: FileHandle,
  ) {}

  /**
   * Its first `size` bytes (its whole length, as the state records it), for a small version.
   * A file cut short gives fewer: the patch made from them then fails its hash check.
   */
  async readAll(size: number): Promise<Uint8Array> {
    const bytes = Buffer.allocUnsafe(size);
    let at = 0;
    while (at < size) {
      const { bytesRead } = await this.handle.read(bytes, at, size - at, at).catch((e: unknown) => {
        throw wrapIoError(e, this.target.describe(this.rel), 'reading the previous version of');
      });
      if (bytesRead === 0) break;
      at += bytesRead;
    }
    return bytes.subarray(0, at);
  }

  /** Its bytes `[start, end)` in chunks of up to 1 MiB; fewer when it is shorter. */
  async *range(start: number, end: number): AsyncGenerator<Uint8Array, void, undefined> {
    for (let at = start; at < end; ) {
      const want = Math.min(READ_CHUNK, end - at);
      const { bytesRead, buffer } = await this.handle.read(Buffer.allocUnsafe(want), 0, want, at).catch((e: unknown) => {
        throw wrapIoError(e, this.target.describe(this.rel), 'reading the spool of deltas of');
      });
      if (bytesRead === 0) return;
      yield buffer.subarray(0, bytesRead);
      at += bytesRead;
    }
  }

  /**
   * Give it the owner, mode and times of `e`, close it and rename it into place: a kept
   * version written over with the last one.
   */
  async commit(e: FileEntry): Promise<void> {
    const path = this.target.describe(this.rel);
    await this.target.setAttributes(this.handle, e, path);
    this.done = true;
    try {
      await this.handle.close().catch((err: unknown) => {
        throw wrapIoError(err, path, 'writing');
      });
      await this.target.place(this.parent, this.rel, this.temp);
      this.target.dropKept(this.rel, this.temp);
    } finally {
      this.target.release(this.parent);
    }
  }

  /** Close and remove it: the next version is written. */
  async remove(): Promise<void> {
    if (this.done) return;
    await this.handle.close().catch(() => undefined);
    try {
      await unlink(this.parent.entry(this.temp));
    } catch (e) {
      throw wrapIoError(e, this.target.describe(this.rel), 'removing the previous version of');
    } finally {
      this.finish();
    }
    this.target.dropKept(this.rel, this.temp);
  }

  /** Close it and leave it kept (the restore failed; the target removes it when it closes). Never throws. */
  async close(): Promise<void> {
    if (this.done) return;
    await this.handle.close().catch(() => undefined);
    this.finish();
  }

  private finish(): void {
    this.done = true;
    this.target.release(this.parent);
  }
}
