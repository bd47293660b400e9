/**
 * The catalog of one backup name: the committed states in its work directory (fetched from
 * storage when missing there), the ids of new backups, and cleanup after a crash.
 *
 * A backup is committed when its state file exists, so the catalog is simply the state files.
 * Ids are `YYYYMMDDTHHMMSSmmmZ-NNN` (UTC time, then a sequence number): they sort by time, and
 * two backups in the same millisecond get consecutive sequence numbers. A new id is always
 * greater than every committed one, even if the clock went back. Files of an id without a
 * state, and temporary files, are leftovers of an interrupted backup and are removed before
 * the next one starts (one backup of a name runs at a time).
 */
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic-write.js';
import { BackupError, wrapIoError } from '../errors.js';
import type { Storage } from '../storage/index.js';
import { artifactFile, idOfFile, storageKey } from './artifacts.js';
import { readState, type BackupState } from './state.js';

/** The committed backups of one name. */
export class Catalog {
  private constructor(
    readonly name: string,
    /** The backup name's folder in the work directory. */
    readonly dir: string,
    private readonly storage: Storage | undefined,
    private readonly ids: string[],
  ) {}

  /** Open the catalog of `name` under `workDir`, creating its folder when `create` is set. */
  static async open(workDir: string, name: string, storage?: Storage, create = false): Promise<Catalog> {
    const dir = join(workDir, name);
    if (create) {
      await mkdir(dir, { recursive: true }).catch((e) => {
        throw wrapIoError(e, dir, 'creating');
      });
    }
    const ids = new Set<string>();
    for (const f of await listDir(dir)) {
      if (f.endsWith('.state.json') && idOfFile(f)) ids.add(idOfFile(f)!);
    }
    if (storage) {
      for (const key of await storage.list(`${name}/`)) {
        const file = key.slice(name.length + 1);
        if (file.endsWith('.state.json') && idOfFile(file)) ids.add(idOfFile(file)!);
      }
    }
    return new Catalog(name, dir, storage, [...ids].sort());
  }

  /** Committed backup ids, oldest first. */
  get backupIds(): readonly string[] {
    return this.ids;
  }

  /** The state of backup `id`. */
  async state(id: string): Promise<BackupState> {
    return readState(await this.fetch(artifactFile(id, 'state', 'none')));
  }

  /** The newest committed state, if any. */
  async latest(): Promise<BackupState | undefined> {
    const id = this.ids[this.ids.length - 1];
    return id === undefined ? undefined : this.state(id);
  }

  /** The backup `at` names: an id, or the last backup at or before a time; default the latest. */
  async resolve(at?: string | Date): Promise<BackupState> {
    if (this.ids.length === 0) throw new BackupError('ENOTFOUND', `no backup named ${JSON.stringify(this.name)} in ${this.dir}`, { path: this.dir });
    if (at === undefined) return (await this.latest())!;
    if (typeof at === 'string') {
      if (!this.ids.includes(at)) throw new BackupError('ENOTFOUND', `backup ${JSON.stringify(this.name)} has no backup with id ${JSON.stringify(at)}`, { path: this.dir });
      return this.state(at);
    }
    if (!(at instanceof Date) || Number.isNaN(at.getTime())) throw new BackupError('EPARAM', '`at` must be a backup id or a valid Date');
    const found = this.ids.filter((id) => idDate(id).getTime() <= at.getTime()).pop();
    if (found === undefined) throw new BackupError('ENOTFOUND', `backup ${JSON.stringify(this.name)} has no backup at or before ${at.toISOString()}`, { path: this.dir });
    return this.state(found);
  }

  /** A new id, greater than every committed one. */
  newId(now = new Date()): string {
    const stamp = now.toISOString().replace(/[-:.]/g, '');
    const last = this.ids[this.ids.length - 1];
    let id = `${stamp}-000`;
    if (last !== undefined && id <= last) {
      const lastStamp = last.slice(0, -4);
      const seq = Number(last.slice(-3)) + 1;
      id = seq <= 999 ? `${lastStamp}-${String(seq).padStart(3, '0')}` : `${bumpMs(lastStamp)}-000`;
    }
    return id;
  }

  /** Register a committed backup. */
  added(id: string): void {
    this.ids.push(id);
  }

  /**
   * The local path of an artifact file of this name, fetched from storage into the work
   * directory (and kept there as a cache) when it is not there. Missing everywhere: `EMISSING`.
   */
  async fetch(file: string): Promise<string> {
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

  /** Remove temporary files and the files of backups that never committed. */
  async cleanStrays(): Promise<void> {
    const committed = new Set(this.ids);
    for (const f of await listDir(this.dir)) {
      const id = idOfFile(f);
      const stray = (f.startsWith('.') && f.endsWith('.tmp')) || (id !== undefined && !committed.has(id));
      if (stray) await rm(join(this.dir, f), { force: true });
    }
  }
}

/** The time an id stands for: a backup's `createdAt`. */
export function idDate(id: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z/.exec(id);
  if (!m) throw new BackupError('EPARAM', `not a backup id: ${JSON.stringify(id)}`);
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, +m[7]!));
}

function bumpMs(stamp: string): string {
  return new Date(idDate(`${stamp}-000`).getTime() + 1).toISOString().replace(/[-:.]/g, '');
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
