/**
 * The catalog of one backup name in a repository: its committed states, the lock that lets
 * one run of the name write at a time, new ids, fetching and uploading its artifacts, the
 * commit, and clean-up after runs that died.
 *
 * A backup is committed when its state is stored, so the catalog is the state files: those
 * this release writes (`ID.state.json.gz`) and those older releases wrote (`ID.state.json`),
 * which are still read. Every state read here is checked as a whole (`state/`), against the
 * place it was found (its file name's id, this name) and, when the parent's state is at hand,
 * against the digest its parent had when it was written: a renamed, swapped, reordered or
 * foreign state is `ECORRUPT` naming the file, never a restore of the wrong point.
 *
 * In a repository with a cache (`repository/`), the storage is the truth and the cache a
 * copy: the committed ids are the states the storage lists; a state or SigVault is read from
 * the cache when it is there and fetched when not; a cached copy that fails its check (a
 * state's digest, an archive's size and hash) is fetched again, and only a copy that fails
 * in storage too is an error, naming the repository. A backup's archives are uploaded from
 * the cache; its state is written to `pending/` in the cache, uploaded last (the commit, see
 * `commit-claim.ts`) and moved beside the rest. A run killed after its state was written
 * leaves it in `pending/`: the next run of the name uploads what is missing and commits it
 * ({@link Catalog.resumePending}) instead of doing that work again.
 *
 * Writers hold the name's lock (`lock/`, in `NAME/locks/` of the storage). Under it, the
 * artifacts of an id that has no state can only be leftovers of a run that died, and are
 * removed, in the storage and in the cache, with the multipart uploads such a run left
 * unfinished; a temporary file carries its writer's pid in its name, and is removed only when
 * that process is provably dead, since readers (a restore filling the cache) do not lock.
 */
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { BackupError, isBackupError, wrapIoError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { readFileChunks } from '../io/read-chunks.js';
import { writerIsDead } from '../io/process-liveness.js';
import { tempName, tempNameOwner } from '../io/temp-name.js';
import { acquireLock, type HeldLock } from '../lock/index.js';
import { createContentHasher, hashChunks } from '../tree/content-hash.js';
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
  type ArtifactRole,
  type ArtifactSummary,
  type At,
  type BackupState,
  type ReadState,
} from '../state/index.js';
import type { Repository } from '../repository/index.js';
import type { SaveOptions } from '../storage/index.js';
import { claimParent, releaseClaim } from './commit-claim.js';
import type { BackupWarning } from './options.js';

/** The lock folder of a name, inside its folder. */
const LOCKS = 'locks';
/** The cache folder of states written and not yet committed. */
const PENDING = 'pending';

/** Why a pending backup can never be committed: it is then dropped, with a warning. */
const UNRESUMABLE = new Set(['ECONFLICT', 'EMISSING', 'ECORRUPT', 'ETRUNCATED']);

/** What damage to a state looks like: the state is skipped, never trusted. */
const DAMAGE = new Set(['ECORRUPT', 'ETRUNCATED', 'EMISSING']);

/** Options of {@link lockName}. */
export interface NameLockOptions {
  /** What the holder does, for the message another run gets. */
  operation: string;
  /** How long to wait for another holder, in ms; default 0. */
  timeoutMs?: number;
  /** Stops waiting for the lock: `EABORTED`. */
  signal?: AbortSignal;
  /** Told of each lock of a dead run that was taken over (`ESTALELOCK`). */
  onWarning?: (w: BackupWarning) => void;
}

/** Take the lock of backup name `name` in `repo` (ELOCKED naming the holder when another run has it). */
export function lockName(repo: Repository, name: string, options: NameLockOptions): Promise<HeldLock> {
  return acquireLock(repo.storage, `${name}/${LOCKS}`, { ...options, exclusive: true, where: repo.location, subject: `backup name ${JSON.stringify(name)}` });
}

/** The size and hash an artifact must have. */
export type Expected = Pick<ArtifactSummary, 'size' | 'hash'>;

/** The committed backups of one name. */
export class Catalog {
  private constructor(
    readonly repo: Repository,
    readonly name: string,
    /** The backup name's folder in the cache (in the work directory itself without a repository). */
    readonly dir: string,
    private readonly ids: string[],
    /** The ids whose state file has the name older releases gave it. */
    private readonly plain: Set<string>,
    /** The objects in the name's folder in storage when it was opened (with a cache), for {@link Catalog.cleanStrays}. */
    private readonly stored: readonly string[],
  ) {}

  /** Open the catalog of `name` in `repo`, creating its cache folder when `create` is set. */
  static async open(repo: Repository, name: string, create = false): Promise<Catalog> {
    const dir = repo.dirOf(name);
    if (create) {
      await mkdir(dir, { recursive: true }).catch((e) => {
        throw wrapIoError(e, dir, 'creating');
      });
    }
    const stored = repo.direct ? [] : await listNames(repo, name);
    const files = repo.direct ? await listDir(dir) : stored;
    const ids = new Set<string>();
    const current = new Set<string>();
    for (const f of files.filter(isStateFile)) {
      const id = idOfFile(f)!;
      ids.add(id);
      if (f === artifactFile(id, 'state', 'none')) current.add(id);
    }
    // Where an id has both (a copy made by hand), the file this release writes is the one read.
    const plain = new Set([...ids].filter((id) => !current.has(id)));
    return new Catalog(repo, name, dir, [...ids].sort(), plain, stored);
  }

  /** Bytes fetched from storage into the cache so far. */
  fetched = 0;

  /** Committed backup ids, oldest first. */
  get backupIds(): readonly string[] {
    return this.ids;
  }

  /** Where a backup of this name is, for messages. */
  private get where(): string {
    return this.repo.direct ? this.dir : `repository ${this.repo.location}`;
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
    const file = this.stateFile(id);
    const read = await this.withFetched(file, (path) => readStateFile(path, { id, name: this.name }));
    const { state } = read;
    if (state.parent !== null && this.ids.includes(state.parent.id)) {
      const parentDigest = await this.withFetched(this.stateFile(state.parent.id), (p) => readStateDigest(p)).catch((e: unknown) => {
        if (isBackupError(e) && DAMAGE.has(e.code)) return undefined;
        throw e;
      });
      if (parentDigest !== undefined) checkParentDigest(join(this.dir, file), state, parentDigest);
    }
    return read;
  }

  /**
   * `use` applied to the local copy of `file`; when that copy is damaged (`use` throws
   * ECORRUPT or ETRUNCATED) and came from the cache, once more to a copy fetched again.
   */
  private async withFetched<T>(file: string, use: (path: string) => Promise<T>): Promise<T> {
    const { path, cached } = await this.local(file);
    try {
      return await use(path);
    } catch (e) {
      if (!cached || !isBackupError(e) || !(e.code === 'ECORRUPT' || e.code === 'ETRUNCATED')) throw e;
      await this.download(file);
      return use(path).catch((again: unknown) => {
        throw isBackupError(again) && (again.code === 'ECORRUPT' || again.code === 'ETRUNCATED')
          ? new BackupError(again.code, `${again.message} (the copy in ${this.where} is damaged too)`, { path: again.path, cause: again })
          : again;
      });
    }
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
    if (this.ids.length === 0) throw new BackupError('ENOTFOUND', `no backup named ${JSON.stringify(this.name)} in ${this.where}`, { path: this.dir });
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

  /** The name of the state file of committed backup `id`: as this release writes it, or as an older one did. */
  stateFile(id: string): string {
    return this.plain.has(id) ? plainStateFile(id) : artifactFile(id, 'state', 'none');
  }

  /** The storage key of artifact `file` of this name. */
  key(file: string): string {
    return storageKey(this.name, file);
  }

  /**
   * The local path of an artifact file of this name, fetched from storage into the cache
   * when it is not there, or when `expected` is given and the cached copy is not that size
   * and hash. Missing everywhere: `EMISSING`; a fetched copy that is not `expected` either:
   * `ECORRUPT` naming the artifact and the repository. Only names an artifact can have are
   * accepted, whatever a state says.
   */
  async fetch(file: string, expected?: Expected): Promise<string> {
    const { path, cached } = await this.local(file, expected);
    if (!cached || expected === undefined || (await matches(path, expected))) return path;
    await this.download(file, expected);
    return path;
  }

  /**
   * The local copy of `file`, fetched (and checked against `expected`, when given) when
   * missing; `cached` when it was there already (and may be stale).
   */
  private async local(file: string, expected?: Expected): Promise<{ path: string; cached: boolean }> {
    if (idOfFile(file) === undefined) throw new BackupError('ECORRUPT', `refusing to read ${JSON.stringify(file)}: not the name of an artifact of backup ${JSON.stringify(this.name)}`, { path: file });
    const path = join(this.dir, file);
    if (await isFile(path)) return { path, cached: !this.repo.direct };
    if (this.repo.direct) throw new BackupError('EMISSING', `artifact ${file} of backup ${JSON.stringify(this.name)} is missing from ${this.dir}`, { path });
    await this.download(file, expected);
    return { path, cached: false };
  }

  /**
   * The bytes of artifact `file` straight from storage, counted in {@link Catalog.fetched}
   * (for an archive read once: the reader checks its size and hash). Missing: `EMISSING`.
   */
  async *stream(file: string): AsyncGenerator<Uint8Array> {
    const key = this.key(file);
    try {
      for await (const chunk of this.repo.storage.load(key)) {
        this.fetched += chunk.length;
        yield chunk;
      }
    } catch (e) {
      if (this.repo.storage.isNotFound(e)) throw new BackupError('EMISSING', `artifact ${file} of backup ${JSON.stringify(this.name)} is missing from ${this.where}`, { path: key, cause: e });
      throw wrapIoError(e, key, `fetching from ${this.where}`);
    }
  }

  /**
   * Fetch artifact `file` from storage into the folder `dir` (one of {@link Catalog.privateDir}),
   * checked against `expected`, whatever the cache holds; returns its path.
   */
  async fetchInto(file: string, expected: Expected, dir: string): Promise<string> {
    if (idOfFile(file) === undefined) throw new BackupError('ECORRUPT', `refusing to read ${JSON.stringify(file)}: not the name of an artifact of backup ${JSON.stringify(this.name)}`, { path: file });
    await this.download(file, expected, dir);
    return join(dir, file);
  }

  /**
   * A new folder in the name's cache folder for one run's own downloads (`purpose` names it),
   * with the temporary-name convention: a run killed before removing it leaves a folder that
   * {@link Catalog.cleanStrays} removes once that process is provably dead.
   */
  async privateDir(purpose: string): Promise<string> {
    const dir = join(this.dir, tempName(purpose));
    await mkdir(dir, { recursive: true }).catch((e) => {
      throw wrapIoError(e, dir, 'creating');
    });
    return dir;
  }

  /** Fetch `file` from storage into `dir` (default the cache), replacing the copy there; checked against `expected` when given. */
  private async download(file: string, expected?: Expected, dir = this.dir): Promise<void> {
    const path = join(dir, file);
    const key = this.key(file);
    const storage = this.repo.storage;
    await mkdir(dir, { recursive: true }).catch((e) => {
      throw wrapIoError(e, dir, 'creating');
    });
    const hasher = await createContentHasher();
    let size = 0;
    const counted = async function* (): AsyncGenerator<Uint8Array> {
      for await (const chunk of storage.load(key)) {
        hasher.update(chunk);
        size += chunk.length;
        yield chunk;
      }
    };
    try {
      await writeFileAtomic(path, counted(), { overwrite: true, durable: false });
    } catch (e) {
      if (storage.isNotFound(e)) throw new BackupError('EMISSING', `artifact ${file} of backup ${JSON.stringify(this.name)} is missing from ${this.where}`, { path: key, cause: e });
      throw wrapIoError(e, key, `fetching from ${this.where}`);
    }
    this.fetched += size;
    if (expected && (size !== expected.size || hasher.digest() !== expected.hash)) {
      await rm(path, { force: true });
      throw new BackupError(
        'ECORRUPT',
        `artifact ${file} of backup ${JSON.stringify(this.name)} is damaged in ${this.where}: ${size} bytes with hash ${hasher.digest()}, the state records ${expected.size} bytes with hash ${expected.hash}`,
        { path: key },
      );
    }
  }

  /**
   * Upload the archive `a` (in the cache) to storage, in the data class when it holds data,
   * and check the stored size. With `reuse`, an object already stored under its key with its
   * size is kept: saves are atomic and keys unique to one backup, so it is this very upload,
   * finished by a run that died before its commit. Nothing to do without a cache.
   */
  async store(a: Pick<ArtifactSummary, 'file' | 'role' | 'size' | 'hash'>, options: { reuse?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    if (this.repo.direct) return;
    const storage = this.repo.storage;
    const key = this.key(a.file);
    if (options.reuse && (await storedSize(storage, key)) === a.size) return;
    const path = join(this.dir, a.file);
    await storage.save(key, () => readFileChunks(path), { size: a.size, hash: a.hash, ...this.saveOptions(a.role, options.signal) });
    const stored = await storedSize(storage, key);
    if (stored !== a.size) {
      throw new BackupError('EIO', `uploading ${a.file} to ${this.where}: the stored object has ${stored ?? 'no'} bytes, the artifact ${a.size}`, { path: key });
    }
  }

  /** How the archive of `role` is saved: data archives in the repository's data class. */
  saveOptions(role: ArtifactRole, signal?: AbortSignal): SaveOptions {
    const storageClass = role === 'files' || role === 'deltas' ? this.repo.dataClass : undefined;
    return { ...(signal ? { signal } : {}), ...(storageClass ? { storageClass } : {}) };
  }

  /** Where a backup's state is written before its commit (created here): in `pending/` with a cache, in place without. */
  async stateDir(): Promise<string> {
    if (this.repo.direct) return this.dir;
    const dir = join(this.dir, PENDING);
    await mkdir(dir, { recursive: true }).catch((e) => {
      throw wrapIoError(e, dir, 'creating');
    });
    return dir;
  }

  /**
   * Commit backup `id`, whose state is written in {@link Catalog.stateDir} and whose archives
   * are stored: claim its parent (`commit-claim.ts`), store the state (create only), and move
   * the local state beside the archives. Without a cache the state written in place was the
   * commit, and this only registers it.
   */
  async commit(id: string, parentId: string | undefined, signal?: AbortSignal): Promise<void> {
    if (!this.repo.direct) {
      const file = artifactFile(id, 'state', 'none');
      const pending = join(await this.stateDir(), file);
      if (parentId !== undefined) await claimParent(this, parentId, id);
      const size = (await stat(pending)).size;
      await this.repo.storage.save(this.key(file), () => readFileChunks(pending), { size, ifNoneMatch: true, signal }).catch(async (e: unknown) => {
        // A state already stored under this id with this size is this one, from a try that died after the save.
        if (isBackupError(e, 'EEXIST') && (await storedSize(this.repo.storage, this.key(file))) === size) return;
        // Not committed (unless only the reply was lost: then the state is stored, and a later
        // claim on the parent finds it): the claim must not block the next run for long.
        if (parentId !== undefined && (await storedSize(this.repo.storage, this.key(file)).catch(() => undefined)) === undefined) {
          await releaseClaim(this, parentId, id);
        }
        throw e;
      });
      await rename(pending, join(this.dir, file)).catch((e: unknown) => {
        throw wrapIoError(e, pending, 'moving the committed state');
      });
    }
    this.ids.push(id);
  }

  /**
   * Commit the backups that runs of this name wrote completely and did not commit (killed
   * while uploading): each state in `pending/` whose archives are all in the cache or already
   * stored is uploaded with what is missing, oldest first. One that cannot be (an archive
   * lost, a parent no longer the latest) is dropped with a warning. Call it holding the
   * name's lock, before {@link Catalog.cleanStrays}. Returns the ids committed.
   */
  async resumePending(warn: (w: BackupWarning) => void, signal?: AbortSignal): Promise<string[]> {
    if (this.repo.direct) return [];
    const done: string[] = [];
    const dir = join(this.dir, PENDING);
    for (const f of (await listDir(dir)).filter(isStateFile).sort()) {
      const id = idOfFile(f)!;
      const path = join(dir, f);
      if (this.ids.includes(id)) {
        // Its commit went through and only the reply was lost.
        await rename(path, join(this.dir, f)).catch(() => rm(path, { force: true }));
        continue;
      }
      try {
        const { state } = await readStateFile(path, { id, name: this.name });
        const parent = state.parent?.id;
        const latest = this.ids[this.ids.length - 1];
        if (parent !== latest && (parent !== undefined || (latest !== undefined && id < latest))) {
          throw new BackupError('ECONFLICT', parent === undefined ? `backup ${latest} was committed after it` : `its parent ${parent} is no longer the latest backup`);
        }
        for (const a of state.chain[state.chain.length - 1]!.artifacts) {
          signal?.throwIfAborted();
          if ((await storedSize(this.repo.storage, this.key(a.file))) === a.size) continue;
          if (!(await matches(join(this.dir, a.file), a))) throw new BackupError('EMISSING', `its archive ${a.file} is neither stored nor intact in the cache`);
          await this.store(a, { signal });
        }
        await this.commit(id, parent, signal);
        done.push(id);
      } catch (e) {
        // Only what no later run can mend drops it; a network failure leaves it for the next run.
        if (!isBackupError(e) || !UNRESUMABLE.has(e.code)) throw e;
        await rm(path, { force: true });
        warn({ code: 'ECORRUPT', path, message: `backup ${id}, written by a run that stopped before its commit, was not committed: ${e.message}` });
      }
    }
    return done;
  }

  /**
   * Remove what runs that died left behind: the artifacts of ids that never committed (call
   * it only while holding the name's lock, after {@link Catalog.resumePending}), in the cache
   * and in storage, the multipart uploads left unfinished under the name, and temporary files
   * whose writer is provably dead, here and in the lock folder (a run killed while saving its
   * lock object leaves one there).
   */
  async cleanStrays(): Promise<void> {
    const committed = new Set(this.ids);
    for (const f of await listDir(this.dir)) {
      const id = idOfFile(f);
      if (id !== undefined && !committed.has(id)) await rm(join(this.dir, f), { force: true });
      else await removeDeadTemp(join(this.dir, f));
    }
    for (const f of await listDir(join(this.dir, PENDING))) await removeDeadTemp(join(this.dir, PENDING, f));
    if (this.repo.direct) {
      const locks = join(this.dir, LOCKS);
      for (const f of await listDir(locks)) await removeDeadTemp(join(locks, f));
      return;
    }
    // The listing made when the catalog was opened: the name's lock was held already, so
    // objects of uncommitted ids since then are this run's (a resumed backup's), not strays.
    const storage = this.repo.storage;
    for (const f of this.stored) {
      const id = idOfFile(f);
      if (id !== undefined && !committed.has(id)) await storage.remove(this.key(f));
    }
    await storage.abortIncomplete?.(`${this.name}/`);
  }

  /**
   * Remove the data archives (files, deltas) of `ids` from the cache: a backup never reads
   * them again and a restore fetches them, so the cache keeps only states and SigVaults, as
   * restic's keeps only metadata. Nothing to do without a cache.
   */
  async evictData(ids: Iterable<string>): Promise<void> {
    if (this.repo.direct) return;
    const wanted = new Set(ids);
    for (const f of await listDir(this.dir)) {
      const id = idOfFile(f);
      if (id !== undefined && wanted.has(id) && /\.(files|deltas)\./.test(f.slice(id.length))) await rm(join(this.dir, f), { force: true });
    }
  }
}

/** The names of the objects directly in the folder of `name` in the repository's storage. */
async function listNames(repo: Repository, name: string): Promise<string[]> {
  const out: string[] = [];
  const prefix = `${name}/`;
  for await (const key of repo.storage.list(prefix)) {
    const rest = key.slice(prefix.length);
    if (!rest.includes('/')) out.push(rest);
  }
  return out;
}

/** The size of the object `key`, or undefined when there is none. */
async function storedSize(storage: Repository['storage'], key: string): Promise<number | undefined> {
  try {
    return (await storage.stat(key)).size;
  } catch (e) {
    if (storage.isNotFound(e)) return undefined;
    throw e;
  }
}

/** Whether the file at `path` exists with `expected`'s size and hash. */
async function matches(path: string, expected: Expected): Promise<boolean> {
  const st = await stat(path).catch(() => undefined);
  if (!st?.isFile() || st.size !== expected.size) return false;
  return (await hashChunks(readFileChunks(path))) === expected.hash;
}

/** Remove `path` if it is a temporary file (or a run's private folder) whose writer is provably dead. */
async function removeDeadTemp(path: string): Promise<void> {
  const owner = tempNameOwner(basename(path));
  if (owner === undefined) return;
  const st = await stat(path).catch(() => undefined);
  if (st !== undefined && (await writerIsDead(owner, st.mtimeMs))) await rm(path, { force: true, recursive: true });
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
