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
 * Speed: an unchanged entry costs one lstat, and each is a round trip to libuv's thread pool.
 * Made one after another, every entry waited out its own round trip, so the entries of a
 * directory are looked at up to `WINDOW` at a time (lstat, and readlink for a kept symlink)
 * while the results are taken, judged and yielded strictly in name order: the entries, the
 * warnings and their order are those of a walk that looks at one entry at a time, and the hard
 * link warned about is the first one in that order. Only the moment differs: an
 * entry may be looked at before the walk's consumer is done with the ones before it, so a
 * change made meanwhile is seen as if it had come just after the look, as one made a moment
 * later would be by any walk (a file that is then read is fstat'ed again, `stable-read.ts`).
 * What a directory needs once (its descriptor, its listing in one call, the prefix of its
 * paths) is prepared once, not per entry.
 *
 * With tree workers (`tree-workers.ts`, started by a caller once a tree is big enough), a
 * directory's entries are looked at by a worker instead, {@link SLICE} to a message with two
 * messages in flight: the same lstat and readlink, made synchronously off the main thread,
 * and judged here by the same rules in the same order. The main thread's part of an unchanged
 * entry drops from a round trip through libuv's pool to a share of one message.
 *
 * Memory follows the depth of the tree and the width of one directory (its names are read in
 * one call and sorted), plus `WINDOW` looks in flight, not the size of the tree. The directory
 * being listed stays open and pinned in the `DirTree` until its last entry is yielded and no
 * look at its entries is running.
 */
import { lstat, readlink, type BigIntStats } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { isUtf8 } from 'node:buffer';
import { isBackupError, type WarningCode } from '../errors.js';
import type { Dir } from '../io/anchored-dir.js';
import type { DirTree } from '../io/dir-tree.js';
import { entryTypeOf, metaOf, type EntryMeta } from './dir-state.js';
import type { Selection } from './selection.js';
import { reasonOf } from './stable-read.js';
import type { TreeWorkers } from './tree-workers.js';
import type { StatResult } from './worker-protocol.js';

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
  /**
   * The tree workers to look at entries with, asked for at each directory (so a caller can
   * start them part-way, once the tree proves big); undefined looks from the main thread.
   */
  workers?: () => TreeWorkers | undefined;
}

/**
 * How many looks at the entries of a directory are in flight at once. libuv's pool runs four
 * calls at a time; more in its queue let one wake-up of the event loop take many results, and
 * that is what saves CPU. Walking 51,000 entries on two cores: 1,000 ms of CPU one at a time,
 * 810 with 16 in flight, 670 with 64, no less with 128 or 256.
 */
const WINDOW = 64;
/** Entries per message to a tree worker. */
const SLICE = 256;

/** What one look at an entry found, to be acted on in name order. */
type Look =
  /** Left out without a word (not selected, or a directory to skip). */
  | { kind: 'skip' }
  | { kind: 'warn'; warning: TreeWarning }
  | { kind: 'entry'; entry: WalkEntry; id: { dev: bigint; ino: bigint; nlink: bigint } }
  /** Not a problem of the tree (a defect): thrown when its turn comes. */
  | { kind: 'fail'; error: unknown };

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
    const prefix = dir === '' ? '' : `${dir}/`;
    let looks: Looks | undefined;
    try {
      const names = (await listNames(listing, dir, warn)) ?? [];
      const workers = names.length > 0 ? options.workers?.() : undefined;
      looks = workers ? new SlicedLooks(workers, listing, names, prefix, selection, skip) : new WindowedLooks(listing, names, prefix, selection, skip);
      for (let i = 0; i < names.length; i++) {
        const look = await looks.at(i);
        if (look.kind === 'skip') continue;
        if (look.kind === 'warn') {
          warn(look.warning);
          continue;
        }
        if (look.kind === 'fail') throw look.error;
        const { entry, id } = look;
        if (entry.meta.type === 'file' && id.nlink > 1n) {
          const key = `${id.dev}:${id.ino}`;
          if (!seenInodes.has(key)) {
            seenInodes.add(key);
            warn({ code: 'EHARDLINK', path: entry.path, message: `has ${id.nlink} hard links; each link is stored and restored as a separate file` });
          }
        }
        yield entry;
        if (entry.meta.type === 'dir') subdirs.push(entry.path);
      }
    } finally {
      // Looks still running use paths built from the listing's descriptor: it is released
      // (and may be closed, its number reused) only once they are over. Looks never reject.
      await looks?.settled();
      tree.release(listing);
    }
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
  }
}

/** The looks at the entries of one directory, taken in name order. */
interface Looks {
  /** The look at the `i`th name; asked for in order, each once. Never rejects. */
  at(i: number): Promise<Look>;
  /** Resolves once no look is running. */
  settled(): Promise<unknown>;
}

/** Looks from the main thread, up to {@link WINDOW} ahead of the one taken. */
class WindowedLooks implements Looks {
  private readonly looks: Promise<Look>[] = [];
  private started = 0;

  constructor(
    private readonly listing: Dir,
    private readonly names: string[],
    private readonly prefix: string,
    private readonly selection: Selection,
    private readonly skip: ReadonlySet<string>,
  ) {}

  at(i: number): Promise<Look> {
    for (; this.started < this.names.length && this.started < i + WINDOW; this.started++) {
      const name = this.names[this.started]!;
      this.looks[this.started % WINDOW] = lookAt(this.listing, name, this.prefix + name, this.selection, this.skip);
    }
    return this.looks[i % WINDOW]!;
  }

  settled(): Promise<unknown> {
    return Promise.all(this.looks);
  }
}

/** Looks by a tree worker, {@link SLICE} names to a message, the next slice asked for ahead. */
class SlicedLooks implements Looks {
  private readonly slices = new Map<number, Promise<Look[]>>();
  private readonly all: Promise<unknown>[] = [];

  constructor(
    private readonly workers: TreeWorkers,
    private readonly listing: Dir,
    private readonly names: string[],
    private readonly prefix: string,
    private readonly selection: Selection,
    private readonly skip: ReadonlySet<string>,
  ) {}

  async at(i: number): Promise<Look> {
    const k = Math.floor(i / SLICE);
    if (i % SLICE === 0) this.slices.delete(k - 1);
    const slice = this.slice(k)!;
    this.slice(k + 1);
    return (await slice)[i % SLICE]!;
  }

  settled(): Promise<unknown> {
    return Promise.all(this.all);
  }

  private slice(k: number): Promise<Look[]> | undefined {
    if (k * SLICE >= this.names.length) return undefined;
    let s = this.slices.get(k);
    if (!s) {
      s = this.ask(this.names.slice(k * SLICE, (k + 1) * SLICE));
      this.slices.set(k, s);
      this.all.push(s);
    }
    return s;
  }

  private async ask(names: string[]): Promise<Look[]> {
    try {
      const { stats } = await this.workers.stat({ paths: names.map((n) => this.listing.entry(n)) });
      return stats.map((r, j) => {
        try {
          return judgeStat(r, this.prefix + names[j]!, this.selection, this.skip);
        } catch (error) {
          return { kind: 'fail', error };
        }
      });
    } catch (error) {
      return names.map(() => ({ kind: 'fail', error }));
    }
  }
}

/** What the walk does with the entry `rel` given a worker's look at it: as {@link judge}. */
function judgeStat(r: StatResult, rel: string, selection: Selection, skip: ReadonlySet<string>): Look {
  switch (r.kind) {
    case 'error':
      return { kind: 'warn', warning: entryFailure(r, rel) };
    case 'other':
      if (!selection.keeps(rel, false)) return { kind: 'skip' };
      return { kind: 'warn', warning: { code: 'ESPECIAL', path: rel, message: `${r.type} skipped: backups store files, directories and symlinks` } };
    case 'link-error':
      if (!selection.keeps(rel, false)) return { kind: 'skip' };
      return { kind: 'warn', warning: entryFailure(r, rel) };
    case 'entry': {
      const isDir = r.meta.type === 'dir';
      if (isDir && skip.size > 0 && skip.has(identityKey(r))) return { kind: 'skip' };
      if (!selection.keeps(rel, isDir)) return { kind: 'skip' };
      return { kind: 'entry', entry: { path: rel, meta: r.meta }, id: r };
    }
  }
}

/**
 * Look at the entry `name` of `listing` (path `rel`): lstat it, read its target if it is a kept
 * symlink, and say what the walk does with it. Never rejects. Node's callback calls, not
 * `fs/promises`: an unchanged entry costs one lstat, and through the promise API it took
 * 10–12 µs of CPU against 7–8 µs (Node 20, two cores).
 */
function lookAt(listing: Dir, name: string, rel: string, selection: Selection, skip: ReadonlySet<string>): Promise<Look> {
  return new Promise((resolve) => {
    let path: string;
    try {
      path = listing.entry(name);
    } catch (error) {
      resolve({ kind: 'fail', error });
      return;
    }
    lstat(path, { bigint: true }, (e, st) => {
      if (e) return resolve({ kind: 'warn', warning: entryFailure(e, rel) });
      let look: Look | undefined;
      try {
        look = judge(st, rel, selection, skip);
      } catch (error) {
        return resolve({ kind: 'fail', error });
      }
      if (look) return resolve(look);
      // The same path for the target: the listing stays open until every look at it is over.
      readlink(path, (e2, target) => resolve(e2 ? { kind: 'warn', warning: entryFailure(e2, rel) } : { kind: 'entry', entry: { path: rel, meta: metaOf(st, 'symlink', target) }, id: st }));
    });
  });
}

/** What the walk does with the entry `rel` given its lstat; undefined for a kept symlink, whose target is read next. */
function judge(st: BigIntStats, rel: string, selection: Selection, skip: ReadonlySet<string>): Look | undefined {
  const type = entryTypeOf(st);
  if (type === 'socket' || type === 'fifo' || type === 'device') {
    if (!selection.keeps(rel, false)) return { kind: 'skip' };
    return { kind: 'warn', warning: { code: 'ESPECIAL', path: rel, message: `${type} skipped: backups store files, directories and symlinks` } };
  }
  if (type === 'dir' && skip.size > 0 && skip.has(identityKey(st))) return { kind: 'skip' };
  if (!selection.keeps(rel, type === 'dir')) return { kind: 'skip' };
  if (type === 'symlink') return undefined;
  return { kind: 'entry', entry: { path: rel, meta: metaOf(st, type) }, id: st };
}

/**
 * The valid UTF-8 names of `listing`, sorted, read in one call; undefined (after a warning)
 * when it cannot be listed.
 */
async function listNames(listing: Dir, dir: string, warn: (w: TreeWarning) => void): Promise<string[] | undefined> {
  let raw: Buffer[];
  try {
    raw = await readdir(listing.anchor, { encoding: 'buffer' });
  } catch (e) {
    warn({ code: 'EUNREADABLE', path: dir || '.', message: `cannot list directory (${reasonOf(e as NodeJS.ErrnoException)}); skipped with everything below it` });
    return undefined;
  }
  const names: string[] = [];
  for (const r of raw) {
    const name = r.toString('utf8');
    if (isUtf8(r)) names.push(name);
    else warn({ code: 'EBADNAME', path: dir === '' ? name : `${dir}/${name}`, message: 'skipped: the name is not valid UTF-8, which the backup state cannot record' });
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
function entryFailure(e: { code?: string | undefined; message: string }, rel: string): TreeWarning {
  const sys = e as NodeJS.ErrnoException;
  if (sys?.code === 'ENOENT') return { code: 'EVANISHED', path: rel, message: 'vanished before it could be read' };
  return { code: 'EUNREADABLE', path: rel, message: `cannot be read (${reasonOf(sys)}); skipped` };
}
