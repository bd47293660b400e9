/**
 * The catalog of one backup name: its committed states (in the work directory, fetched from
 * storage when missing there), the lock that lets one run of the name write at a time, new
 * ids, and clean-up after runs that died.
 *
 * A backup is committed when its state file exists, so the catalog is the state files: those
 * this release writes (`ID.state.json.gz`) and those older releases wrote (`ID.state.json`),
 * which are still read. Every
 * state read here is checked as a whole (`state/`), against the place it was found (its file
 * name's id, this name) and, when the parent's state is at hand, against the digest its
 * parent had when it was written: a renamed, swapped, reordered or foreign state is
 * `ECORRUPT` naming the file, never a restore of the wrong point.
 *
 * Writers hold the name's lock (`lock/`, in `NAME/locks/` of the work directory). Under it,
 * the files of an id that has no state can only be leftovers of a run that died, and are
 * removed; a temporary file carries its writer's pid in its name, and is removed only when
 * that process is provably dead, since readers (a restore filling the cache) do not lock.
 */
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { BackupError, isBackupError, wrapIoError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { writerIsDead } from '../io/process-liveness.js';
import { tempNameOwner } from '../io/temp-name.js';
import { acquireLock, type HeldLock } from '../lock/index.js';
import {
  artifactFile,
  checkParentDigest,
  idDate,
  idOfFile,
  isStateFile,
  nextId,
  plainStateFile,
  readStateDigest,
  readStateFile,
  type At,
  type BackupState,
  type ReadState,
} from '../state/index.js';
import { LocalStorage, type Storage } from '../storage/index.js';
import type { BackupWarning } from './options.js';

/** The lock folder of a name, inside its folder. */
const LOCKS = 'locks';

/** What damage to a state looks like: the state is skipped, never trusted. */
const DAMAGE = new Set(['ECORRUPT', 'ETRUNCATED', 'EMISSING']);

/** Options of {@link lockName}. */
export interface NameLockOptions {
  /** What the holder does, for the message another run gets. */
  operation: string;
  /** How long to wait for another holder, in ms; default 0. */
  timeoutMs?: number;
  signal?: AbortSignal;
  onWarning?: (w: BackupWarning) => void;
}

/** Take the lock of backup name `name` in `workDir` (ELOCKED naming the holder when another run has it). */
export function lockName(workDir: string, name: string, options: NameLockOptions): Promise<HeldLock> {
  return acquireLock(new LocalStorage(workDir), `${name}/${LOCKS}`, { ...options, exclusive: true, where: workDir, subject: `backup name ${JSON.stringify(name)}` });
}

/** The committed backups of one name. */
export class Catalog {
  private constructor(
    readonly name: string,
    /** The backup name's folder in the work directory. */
    readonly dir: string,
    private readonly storage: Storage | undefined,
    private readonly ids: string[],
    /** The ids whose state file has the name older releases gave it. */
    private readonly plain: Set<string>,
  ) {}

  /** Open the catalog of `name` under `workDir`, creating its folder when `create` is set. */
  static async open(workDir: string, name: string, storage?: Storage, create = false): Promise<Catalog> {
    const dir = join(workDir, name);
    if (create) {
      await mkdir(dir, { recursive: true }).catch((e) => {
        throw wrapIoError(e, dir, 'creating');
      });
    }
    const files = await listDir(dir);
    if (storage) for (const key of await storage.list(`${name}/`)) files.push(key.slice(name.length + 1));
    const ids = new Set<string>();
    const current = new Set<string>();
    for (const f of files.filter(isStateFile)) {
      const id = idOfFile(f)!;
      ids.add(id);
      if (f === artifactFile(id, 'state', 'none')) current.add(id);
    }
    // Where an id has both (a copy made by hand), the file this release writes is the one read.
    const plain = new Set([...ids].filter((id) => !current.has(id)));
    return new Catalog(name, dir, storage, [...ids].sort(), plain);
  }

  /** Committed backup ids, oldest first. */
  get backupIds(): readonly string[] {
    return this.ids;
  }

  /**
   * The state of backup `id`, checked whole, against its file name and this name, and
   * against its parent's digest when the parent's state is here and intact. A child never
   * needs its parent's state to be restored, so a parent pruned away or damaged is no reason
   * to refuse the child; a parent that is readable and differs is.
   */
  async state(id: string): Promise<BackupState> {
    return (await this.read(id)).state;
  }

  /** {@link Catalog.state}, with the digest of the state file (what a child records of its parent). */
  async read(id: string): Promise<ReadState> {
    const path = await this.fetch(this.stateFile(id));
    const read = await readStateFile(path, { id, name: this.name });
    const { state } = read;
    if (state.parent !== null && this.ids.includes(state.parent.id)) {
      const parentDigest = await this.fetch(this.stateFile(state.parent.id))
        .then((p) => readStateDigest(p))
        .catch((e: unknown) => {
          if (isBackupError(e) && DAMAGE.has(e.code)) return undefined;
          throw e;
        });
      if (parentDigest !== undefined) checkParentDigest(path, state, parentDigest);
    }
    return read;
  }

  /**
   * The newest state that is intact. A damaged state is skipped with a warning naming it:
   * the next backup then chains from the newest good one instead of meeting a dead end.
   */
  async latestIntact(warn: (w: BackupWarning) => void): Promise<ReadState | undefined> {
    for (let i = this.ids.length - 1; i >= 0; i--) {
      const id = this.ids[i]!;
      try {
        return await this.read(id);
      } catch (e) {
        if (!isBackupError(e) || !DAMAGE.has(e.code)) throw e;
        warn({ code: 'ECORRUPT', path: e.path ?? join(this.dir, this.stateFile(id)), message: `backup ${id} cannot be used as a parent (${e.message}); the chain goes on from an older backup` });
      }
    }
    return undefined;
  }

  /** The backup `at` names: the latest, an id, or the last backup at or before a time. */
  async resolve(at: At): Promise<BackupState> {
    if (this.ids.length === 0) throw new BackupError('ENOTFOUND', `no backup named ${JSON.stringify(this.name)} in ${this.dir}`, { path: this.dir });
    if (at.kind === 'latest') return this.state(this.ids[this.ids.length - 1]!);
    if (at.kind === 'id') {
      if (!this.ids.includes(at.id)) throw new BackupError('ENOTFOUND', `backup ${JSON.stringify(this.name)} has no backup with id ${JSON.stringify(at.id)}`, { path: this.dir });
      return this.state(at.id);
    }
    const found = this.ids.filter((id) => idDate(id).getTime() <= at.time.getTime()).pop();
    if (found === undefined) throw new BackupError('ENOTFOUND', `backup ${JSON.stringify(this.name)} has no backup at or before ${at.time.toISOString()}`, { path: this.dir });
    return this.state(found);
  }

  /** A new id, greater than every committed one (unique while the name's lock is held). */
  nextId(now = new Date()): string {
    return nextId(this.ids[this.ids.length - 1], now);
  }

  /** Register a committed backup. */
  added(id: string): void {
    this.ids.push(id);
  }

  /** The name of the state file of committed backup `id`: as this release writes it, or as an older one did. */
  stateFile(id: string): string {
    return this.plain.has(id) ? plainStateFile(id) : artifactFile(id, 'state', 'none');
  }

  /**
   * The local path of an artifact file of this name, fetched from storage into the work
   * directory (and kept there as a cache) when it is not there. Missing everywhere:
   * `EMISSING`. Only names an artifact can have are accepted, whatever a state says.
   */
  async fetch(file: string): Promise<string> {
    if (idOfFile(file) === undefined) throw new BackupError('ECORRUPT', `refusing to read ${JSON.stringify(file)}: not the name of an artifact of backup ${JSON.stringify(this.name)}`, { path: file });
    const path = join(this.dir, file);
    if (await isFile(path)) return path;
    if (this.storage) {
      const key = storageKey(this.name, file);
      try {
        await mkdir(this.dir, { recursive: true });
        await writeFileAtomic(path, this.storage.load(key), { overwrite: true });
        return path;
      } catch (e) {
        if (!this.storage.isNotFound(e)) throw wrapIoError(e, key, 'fetching');
      }
    }
    throw new BackupError('EMISSING', `artifact ${file} of backup ${JSON.stringify(this.name)} is missing from ${this.dir}${this.storage ? ' and from storage' : ''}`, { path });
  }

  /**
   * Remove what runs that died left behind: the files of ids that never committed (call it
   * only while holding the name's lock), and temporary files whose writer is provably dead,
   * here and in the lock folder (a run killed while saving its lock object leaves one there).
   */
  async cleanStrays(): Promise<void> {
    const committed = new Set(this.ids);
    for (const f of await listDir(this.dir)) {
      const id = idOfFile(f);
      if (id !== undefined && !committed.has(id)) await rm(join(this.dir, f), { force: true });
      else await removeDeadTemp(join(this.dir, f));
    }
    const locks = join(this.dir, LOCKS);
    for (const f of await listDir(locks)) await removeDeadTemp(join(locks, f));
  }
}

/** Remove `path` if it is a temporary file whose writer is provably dead. */
async function removeDeadTemp(path: string): Promise<void> {
  const owner = tempNameOwner(basename(path));
  if (owner === undefined) return;
  const st = await stat(path).catch(() => undefined);
  if (st !== undefined && (await writerIsDead(owner, st.mtimeMs))) await rm(path, { force: true });
}

/** The storage key of artifact `file` of backup name `name`: what uploads and fetches agree on. */
export function storageKey(name: string, file: string): string {
  return `${name}/${file}`;
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw wrapIoError(e, dir, 'listing');
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
