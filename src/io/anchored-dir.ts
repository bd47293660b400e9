/**
 * A directory held open, whose entries are reached through its descriptor, never its path.
 *
 * Two defects share one cause: reaching a file by its full path. A restore wrote
 * `target/a/b/f` by path, so when another local user swapped `a` for a symlink mid-run every
 * later write, chmod and utimes followed it (400 of 400 files landed outside the target and
 * the restore reported success). And a backup lost every entry whose path was longer than
 * PATH_MAX (4096 bytes): the kernel limits the path given to one call, not the depth of a tree.
 *
 * Node has no openat/fstatat, but Linux offers the same thing through /proc: a directory is
 * opened once (O_DIRECTORY|O_NOFOLLOW) and its entry `name` is reached as
 * `/proc/self/fd/<fd>/<name>`. The kernel resolves `/proc/self/fd/<fd>` to the open directory
 * itself, wherever it now is, not by its path, so only `name` is looked up. With O_NOFOLLOW on
 * opens and calls that never follow a last-component symlink (lstat, lutimes, lchown, rename,
 * unlink, rmdir, mkdir, symlink, readlink), nothing follows a symlink planted in the tree, and
 * the path stays short at any depth. `chmod`, `utimes`, `chown`, `stat` and `opendir` do follow
 * a final symlink: apply them to a descriptor instead (a file opened O_NOFOLLOW, a Dir's `fd`),
 * and list a directory through its own Dir (`anchor`).
 *
 * An anchored path is only as good as its descriptor: once the Dir is closed the number may
 * name another file, so a Dir refuses to build paths after `close()`, and callers keep a Dir
 * open (pinned, see `dir-tree.ts`) for as long as they use a path built from it.
 *
 * Where anchoring is unavailable (not Linux, /proc not mounted as procfs) the fallback reaches
 * entries by joined paths: paths longer than 4096 bytes then fail with ENAMETOOLONG, and a
 * directory swapped for a symlink between two calls is followed (races are not covered; a
 * symlink already in place is still refused, since directories are still opened one
 * component at a time with O_NOFOLLOW).
 */
import { constants } from 'node:fs';
import { open, stat, statfs, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { BackupError, wrapIoError } from '../errors.js';

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = constants;
/** The magic number statfs reports for procfs (PROC_SUPER_MAGIC). */
const PROC_SUPER_MAGIC = 0x9fa0;
const SLASH = 0x2f;
const DOT = 0x2e;

let probed: Promise<boolean> | undefined;

/**
 * Whether entries can be anchored here: Linux, with procfs at /proc, where
 * `/proc/self/fd/<fd>` leads to the directory open as `<fd>`. Probed once per process.
 */
export function anchoringWorks(): Promise<boolean> {
  probed ??= probe();
  return probed;
}

async function probe(): Promise<boolean> {
  if (process.platform !== 'linux') return false;
  let handle: FileHandle | undefined;
  try {
    // A /proc that is a plain directory (a chroot without procfs) would make the anchored
    // paths ordinary names, so the file system type is checked, not just the existence.
    if ((await statfs('/proc/self/fd')).type !== PROC_SUPER_MAGIC) return false;
    handle = await open('/', O_RDONLY | O_DIRECTORY);
    const [direct, anchored] = await Promise.all([handle.stat(), stat(`/proc/self/fd/${handle.fd}/.`)]);
    return direct.dev === anchored.dev && direct.ino === anchored.ino;
  } catch {
    return false;
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** Options of {@link Dir.open}. */
export interface DirOpenOptions {
  /**
   * Follow `path` itself when it is a symlink to a directory. True for a directory the user
   * named (a restore target, a backup source), which may be a symlink they chose; false
   * refuses a symlink with `EUNSAFEPATH`. Default false.
   */
  follow?: boolean;
  /**
   * Reach entries by joined paths even where anchoring works (to exercise the fallback).
   * Directories opened from this one inherit the choice. Default false.
   */
  forceFallback?: boolean;
}

/** True for the error codes an O_DIRECTORY|O_NOFOLLOW open gives for a symlink or a non-directory. */
function notARealDirectory(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ELOOP' || code === 'ENOTDIR';
}

function badName(name: string | Buffer, dir: string): BackupError {
  return new BackupError('EUNSAFEPATH', `${JSON.stringify(name.toString())} is refused as an entry of ${dir}: a name must be one path component (not empty, ".", "..", and without "/" or NUL)`, {
    path: dir,
  });
}

/** One open directory, whose entries are reached through its descriptor. */
export class Dir {
  /** The descriptor of the directory; valid until {@link Dir.close}. */
  readonly fd: number;
  /** The path the directory was reached by, for messages only (it may no longer lead here, or exceed PATH_MAX). */
  readonly path: string;
  /** True when entries are reached through `/proc/self/fd`, false in the joined-path fallback. */
  readonly anchored: boolean;
  private readonly handle: FileHandle;
  private readonly prefix: string;
  private readonly prefixBytes: Buffer;
  private isClosed = false;

  private constructor(handle: FileHandle, path: string, anchored: boolean) {
    this.handle = handle;
    this.fd = handle.fd;
    this.path = path;
    this.anchored = anchored;
    this.prefix = anchored ? `/proc/self/fd/${handle.fd}/` : path.endsWith('/') ? path : `${path}/`;
    this.prefixBytes = Buffer.from(this.prefix);
  }

  /**
   * Open the directory at `path` (a root: a restore target, a backup source). Fails with
   * `EUNSAFEPATH` when `path` is a symlink and `follow` is not set, `EIO` otherwise (the node
   * error, e.g. ENOENT or ENOTDIR, as `cause`).
   */
  static async open(path: string, options: DirOpenOptions = {}): Promise<Dir> {
    const anchored = !options.forceFallback && (await anchoringWorks());
    const flags = O_RDONLY | O_DIRECTORY | (options.follow ? 0 : O_NOFOLLOW);
    let handle: FileHandle;
    try {
      handle = await open(path, flags);
    } catch (e) {
      if (!options.follow && notARealDirectory(e)) {
        throw new BackupError('EUNSAFEPATH', `${path} is not a real directory (a symlink or not a directory); refusing to go through it`, { path, cause: e });
      }
      throw wrapIoError(e, path, 'opening directory');
    }
    return new Dir(handle, path, anchored);
  }

  /** The path of the directory itself, for listing it (opendir, readdir). Built like {@link Dir.entry}. */
  get anchor(): string {
    this.checkOpen();
    return this.anchored ? `/proc/self/fd/${this.fd}` : this.path;
  }

  /** True once {@link Dir.close} was called. */
  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * The path of the entry `name` of this directory, for one node:fs call made while this Dir
   * is open. `name` is one component: '', '.', '..' and names holding '/' or NUL are refused
   * with `EUNSAFEPATH`. A Buffer name (not valid UTF-8) gives a Buffer path.
   */
  entry(name: string): string;
  entry(name: Buffer): Buffer;
  entry(name: string | Buffer): string | Buffer;
  entry(name: string | Buffer): string | Buffer {
    this.checkOpen();
    if (typeof name === 'string') {
      if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) throw badName(name, this.path);
      return this.prefix + name;
    }
    const dots = name.length <= 2 && name.every((b) => b === DOT);
    if (name.length === 0 || dots || name.includes(SLASH) || name.includes(0)) throw badName(name, this.path);
    return Buffer.concat([this.prefixBytes, name]);
  }

  /** The path of `name` below this directory's path, for messages. */
  describe(name: string | Buffer): string {
    return join(this.path, name.toString());
  }

  /**
   * Open the subdirectory `name` (O_DIRECTORY|O_NOFOLLOW). A symlink or a non-directory fails
   * with `EUNSAFEPATH`; other failures with `EIO`, the node error (e.g. ENOENT) as `cause`.
   */
  async openDir(name: string | Buffer): Promise<Dir> {
    const path = this.describe(name);
    let handle: FileHandle;
    try {
      handle = await open(this.entry(name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    } catch (e) {
      if (notARealDirectory(e)) {
        throw new BackupError('EUNSAFEPATH', `${path} is not a real directory (a symlink or not a directory); refusing to go through it`, { path, cause: e });
      }
      throw wrapIoError(e, path, 'opening directory');
    }
    return new Dir(handle, path, this.anchored);
  }

  /** Close the descriptor. Idempotent; paths built from this Dir must not be used afterwards. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    await this.handle.close().catch((e) => {
      throw wrapIoError(e, this.path, 'closing directory');
    });
  }

  private checkOpen(): void {
    // After close the descriptor number may be reused by any open in the process: a path
    // built from it would lead to whatever that is.
    if (this.isClosed) throw new BackupError('EINTERNAL', `${this.path}: directory used after it was closed`, { path: this.path });
  }
}
