/**
 * The open directories of one tree (a restore target, a backup source), by relative path.
 *
 * A relative path 'a/b/c' is resolved one component at a time, each directory opened
 * O_NOFOLLOW through its parent's descriptor (see `anchored-dir.ts`), starting from the
 * nearest ancestor already open. A component that is a symlink or not a directory stops the
 * resolution with `EUNSAFEPATH`: it is refused, never followed, even when it was swapped in a
 * moment ago. A directory resolved once keeps leading to the same directory for as long as it
 * stays open, whatever is renamed or replaced above it.
 *
 * Opening every directory of a tree once is cheap; keeping them all open is not (a million
 * directories, a per-process descriptor limit). So at most `maxOpen` descriptors are kept,
 * the least recently used closed first. A directory in use is pinned (`use`, or
 * `acquire`/`release`) and never closed under its user, because after a close its descriptor
 * number can be reused and a path built from it would lead elsewhere. The bound: at most
 * `maxOpen` descriptors, or the number pinned at the same time when that is larger (callers
 * bound that by their concurrency), plus one for each resolution step in flight.
 *
 * The cache does not see renames or removals made by its users: after removing or replacing a
 * directory of the tree, `forget` it (or use `remove`), so a later resolution opens the new one.
 */
import { BackupError } from '../errors.js';
import { Dir, type DirOpenOptions } from './anchored-dir.js';
import { removeTree } from './remove-tree.js';

/** Options of {@link DirTree.open}. */
export interface DirTreeOptions extends DirOpenOptions {
  /** How many directory descriptors to keep open, the root included (at least 2). Default 64. */
  maxOpen?: number;
}

/** One cached directory: its resolution in flight or done, and how many users hold it. */
interface Slot {
  readonly rel: string;
  readonly ready: Promise<Dir>;
  dir?: Dir;
  pins: number;
  /** Forgotten while pinned: closed when the last user releases it. */
  detached: boolean;
}

const DEFAULT_MAX_OPEN = 64;

/** The components of a relative posix path, each a valid entry name ('' gives none). */
function componentsOf(rel: string, root: string): string[] {
  if (rel === '') return [];
  const parts = rel.split('/');
  for (const p of parts) {
    if (p === '' || p === '.' || p === '..' || p.includes('\0')) {
      throw new BackupError('EUNSAFEPATH', `${JSON.stringify(rel)} is refused as a path inside ${root}: it must be relative, posix, without empty, "." or ".." segments or NUL`, {
        path: rel,
      });
    }
  }
  return parts;
}

/** A bounded cache of the open directories of one tree, resolved without following symlinks. */
export class DirTree {
  /** The root directory, open for the life of the tree. */
  readonly root: Dir;
  private readonly maxOpen: number;
  /** Open and opening directories by relative path, least recently used first. */
  private readonly slots = new Map<string, Slot>();
  private readonly slotOf = new Map<Dir, Slot>();
  private readonly closing = new Set<Promise<void>>();
  private detachedOpen = 0;
  private isClosed = false;

  private constructor(root: Dir, maxOpen: number) {
    this.root = root;
    this.maxOpen = maxOpen;
    // The root is pinned once for good: it is never evicted.
    const slot: Slot = { rel: '', ready: Promise.resolve(root), dir: root, pins: 1, detached: false };
    this.slots.set('', slot);
    this.slotOf.set(root, slot);
  }

  /** Open the tree rooted at `path` (see {@link Dir.open} for `follow` and the errors). */
  static async open(path: string, options: DirTreeOptions = {}): Promise<DirTree> {
    const maxOpen = options.maxOpen ?? DEFAULT_MAX_OPEN;
    if (!Number.isInteger(maxOpen) || maxOpen < 2) {
      throw new BackupError('EPARAM', `maxOpen must be an integer of at least 2 (the root and one more), got ${maxOpen}`);
    }
    return new DirTree(await Dir.open(path, options), maxOpen);
  }

  /** How many directory descriptors the tree holds now (or is opening), the root included. */
  get openCount(): number {
    return this.slots.size + this.detachedOpen;
  }

  /**
   * The open directory at `rel` ('' is the root), pinned until {@link DirTree.release}. A
   * component that is a symlink or not a directory fails with `EUNSAFEPATH` naming its
   * relative path; other failures with `EIO`, the node error (e.g. ENOENT) as `cause`.
   */
  async acquire(rel: string): Promise<Dir> {
    if (this.isClosed) throw this.closedError();
    const cached = this.slots.get(rel);
    if (cached) {
      // The common case (many files of one directory): no splitting, no checks, one lookup.
      this.pin(cached);
      try {
        return await cached.ready;
      } catch (e) {
        this.unpin(cached);
        throw e;
      }
    }
    const parts = componentsOf(rel, this.root.path);
    // ends[j] is where the key of the first j components ends in `rel` (the keys are slices).
    const ends = [0];
    for (const p of parts) ends.push(ends.length === 1 ? p.length : ends[ends.length - 1]! + 1 + p.length);
    let i = parts.length;
    while (!this.slots.has(rel.slice(0, ends[i]))) i--;
    let slot = this.pin(this.slots.get(rel.slice(0, ends[i]))!);
    let dir: Dir;
    try {
      dir = await slot.ready;
    } catch (e) {
      this.unpin(slot);
      throw e;
    }
    for (; i < parts.length; i++) {
      const key = rel.slice(0, ends[i + 1]);
      let child = this.slots.get(key);
      if (child) this.pin(child);
      else if (this.isClosed) {
        this.unpin(slot);
        throw this.closedError();
      } else child = this.start(key, dir.openDir(parts[i]!));
      try {
        dir = await child.ready;
      } catch (e) {
        this.unpin(child);
        throw e;
      } finally {
        // The parent stays pinned until its child is open: the open goes through its descriptor.
        this.unpin(slot);
      }
      slot = child;
    }
    return dir;
  }

  /** Release a directory obtained from {@link DirTree.acquire}; it may be closed from now on. */
  release(dir: Dir): void {
    const slot = this.slotOf.get(dir);
    if (!slot || slot.pins === 0) throw new BackupError('EINTERNAL', `${dir.path}: released but not acquired from this directory tree`, { path: dir.path });
    this.unpin(slot);
  }

  /** Run `fn` with the directory at `rel`, pinned while `fn` runs (see {@link DirTree.acquire}). */
  async use<T>(rel: string, fn: (dir: Dir) => Promise<T> | T): Promise<T> {
    const dir = await this.acquire(rel);
    try {
      return await fn(dir);
    } finally {
      this.release(dir);
    }
  }

  /**
   * Drop `rel` and everything below it from the cache, after it was removed, renamed or
   * replaced: the next resolution opens whatever is there now. Directories still pinned are
   * closed when released.
   */
  forget(rel: string): void {
    if (rel === '') throw new BackupError('EPARAM', `${this.root.path}: the root of a directory tree cannot be forgotten`, { path: this.root.path });
    const below = `${rel}/`;
    for (const [key, slot] of this.slots) {
      if (key !== rel && !key.startsWith(below)) continue;
      this.slots.delete(key);
      this.drop(slot);
    }
  }

  /**
   * Remove the entry at `rel` (a file, a symlink or a whole directory, never following a
   * symlink) through its parent, and forget it (see `remove-tree.ts`).
   */
  async remove(rel: string): Promise<void> {
    const parts = componentsOf(rel, this.root.path);
    if (parts.length === 0) throw new BackupError('EPARAM', `${this.root.path}: the root of a directory tree cannot be removed through it`, { path: this.root.path });
    this.forget(rel);
    try {
      await this.use(parts.slice(0, -1).join('/'), (parent) => removeTree(parent, parts[parts.length - 1]!));
    } finally {
      // Again, in case a resolution running meanwhile opened the directory being removed.
      this.forget(rel);
    }
  }

  /**
   * Close every descriptor of the tree. Directories still pinned are closed when released;
   * the tree refuses further use.
   */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    this.slots.get('')!.pins--;
    for (const slot of this.slots.values()) this.drop(slot);
    this.slots.clear();
    await Promise.all(this.closing);
  }

  private closedError(): BackupError {
    return new BackupError('EINTERNAL', `${this.root.path}: directory tree used after it was closed`, { path: this.root.path });
  }

  /** Take a slot out of service: closed now if nobody holds it, else when the last user releases it. */
  private drop(slot: Slot): void {
    if (slot.pins > 0) {
      slot.detached = true;
      this.detachedOpen++;
    } else this.discard(slot);
  }

  /** Create, pin and register the slot of `rel`, opened by `opening`. */
  private start(rel: string, opening: Promise<Dir>): Slot {
    const slot: Slot = {
      rel,
      ready: opening.then(
        (dir) => {
          slot.dir = dir;
          this.slotOf.set(dir, slot);
          return dir;
        },
        (e: unknown) => {
          if (this.slots.get(rel) === slot) this.slots.delete(rel);
          if (slot.detached) {
            slot.detached = false;
            this.detachedOpen--;
          }
          throw this.named(e, rel);
        },
      ),
      pins: 1,
      detached: false,
    };
    this.slots.set(rel, slot);
    this.evict();
    return slot;
  }

  /** An error from opening `rel`, naming it relative to the root when it is not a real directory. */
  private named(e: unknown, rel: string): unknown {
    if (!(e instanceof BackupError) || e.code !== 'EUNSAFEPATH') return e;
    return new BackupError('EUNSAFEPATH', `${JSON.stringify(rel)} is not a real directory inside ${this.root.path} (a symlink or not a directory); refusing to go through it`, {
      path: rel,
      cause: e.cause,
    });
  }

  private pin(slot: Slot): Slot {
    slot.pins++;
    if (!slot.detached && slot.rel !== '') {
      // Map order is the LRU order: a use moves the slot to the most recent end.
      this.slots.delete(slot.rel);
      this.slots.set(slot.rel, slot);
    }
    return slot;
  }

  private unpin(slot: Slot): void {
    slot.pins--;
    if (slot.pins > 0) return;
    if (slot.detached) {
      slot.detached = false;
      this.detachedOpen--;
      this.discard(slot);
    } else this.evict();
  }

  /** Close least recently used unpinned directories until the bound holds again. */
  private evict(): void {
    if (this.openCount <= this.maxOpen) return;
    for (const [key, slot] of this.slots) {
      if (this.openCount <= this.maxOpen) return;
      if (slot.pins > 0) continue;
      this.slots.delete(key);
      this.discard(slot);
    }
  }

  /** Close an unpinned slot's directory in the background; `close()` waits for it. */
  private discard(slot: Slot): void {
    const dir = slot.dir;
    if (!dir) return;
    this.slotOf.delete(dir);
    // A failed close of a read-only directory descriptor loses nothing, and there is no
    // caller left to tell: the descriptor is gone either way.
    const closing = dir.close().catch(() => undefined);
    this.closing.add(closing);
    void closing.then(() => this.closing.delete(closing));
  }
}
