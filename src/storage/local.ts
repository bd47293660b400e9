/**
 * A {@link Storage} in a local directory: each key is a file under the root (`a/b` is
 * `ROOT/a/b`). Useful on its own (a mounted disk or network share) and as a reference backend
 * for the conformance suite.
 *
 * Saves are atomic the way every file this library writes is: the bytes go to a temporary
 * name beside the file (`io/temp-name.ts`, so a crash leaves only names a clean-up
 * recognises) and appear under the key complete. A plain save renames over the old file; a
 * conditional one (`ifNoneMatch`) hard-links the finished temporary file to the key instead,
 * because `link` refuses an existing name in one step, so of two concurrent creators exactly
 * one wins — an exists-check followed by a rename could let both "win". (A file system
 * without hard links fails conditional saves with `EIO`, rather than pretending.)
 *
 * Listing walks directories one at a time, in order, so it yields keys as it goes and holds
 * one directory's names per level, never the whole tree.
 */
import { createReadStream } from 'node:fs';
import { link, lstat, mkdir, readdir, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { writeFileAtomic } from '../io/atomic-write.js';
import { writerIsDead } from '../io/process-liveness.js';
import { tempName, tempNameOwner } from '../io/temp-name.js';
import { BackupError, isBackupError, wrapIoError } from '../errors.js';
import { abortable, throwIfAborted } from './abort.js';
import { spanOf } from './load-range.js';
import { checkKey, openerOf, type LoadOptions, type SaveOptions, type SaveSource, type Storage, type StoredObject } from './storage.js';

/** Errors of node:fs that mean "no object under this key" (a missing file, a file where a folder is, a folder where the file is). */
const NOT_FOUND = new Set(['ENOENT', 'ENOTDIR', 'EISDIR']);

/** Storage in the directory `root` (created on the first save). */
export class LocalStorage implements Storage {
  /** The root directory. */
  readonly location: string;

  /** @param root The directory the keys live under; created on the first save. */
  constructor(readonly root: string) {
    this.location = root;
  }

  private file(key: string): string {
    checkKey(key);
    return join(this.root, ...key.split('/'));
  }

  async save(key: string, source: SaveSource, options: SaveOptions = {}): Promise<void> {
    const path = this.file(key);
    throwIfAborted(options.signal, key);
    await mkdir(dirname(path), { recursive: true }).catch((e: unknown) => {
      throw wrapIoError(e, path, 'creating the directory of');
    });
    const chunks = abortable(openerOf(source).open(), options.signal, key);
    if (!options.ifNoneMatch) {
      await writeFileAtomic(path, chunks, { overwrite: true });
      return;
    }
    // The temporary file is itself written atomically, so a crash at any point leaves only
    // temporary names behind.
    const tmp = join(dirname(path), tempName(basename(path)));
    await writeFileAtomic(tmp, chunks);
    try {
      throwIfAborted(options.signal, key);
      await link(tmp, path).catch((e: unknown) => {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new BackupError('EEXIST', `storage key ${key} already exists in ${this.root}`, { path: key, cause: e });
        throw wrapIoError(e, path, 'creating');
      });
    } finally {
      await rm(tmp, { force: true }).catch(() => undefined);
    }
  }

  async *load(key: string, options: LoadOptions = {}): AsyncGenerator<Uint8Array> {
    const path = this.file(key);
    const { start, end } = spanOf(key, options);
    throwIfAborted(options.signal, key);
    if (end === start) return;
    const stream = createReadStream(path, { start, end: end === undefined ? undefined : end - 1, highWaterMark: 1 << 20 });
    try {
      for await (const chunk of abortable<Uint8Array>(stream, options.signal, key)) yield chunk;
    } catch (e) {
      throw wrapIoError(e, path, 'loading');
    } finally {
      stream.destroy();
    }
  }

  async stat(key: string): Promise<StoredObject> {
    const path = this.file(key);
    const st = await stat(path).catch((e: unknown) => {
      throw wrapIoError(e, path, 'stat of');
    });
    if (!st.isFile()) throw wrapIoError(Object.assign(new Error('not a stored object'), { code: 'EISDIR' }), path, 'stat of');
    return { size: st.size, availability: 'ready' };
  }

  /**
   * Every key starting with `prefix`, in code-unit order. The walk starts at the deepest
   * directory the prefix names whole (`a/b/` and `a/b/c` both start at `a/b`), so listing one
   * backup's lock folder does not read every other backup's artifacts. Each directory's
   * entries are sorted by name, a subdirectory's as `name/` (its keys all start so), which is
   * exactly the order of the full keys. Symbolic links are not followed, on the way to that
   * directory or below it, and temporary files are not keys.
   */
  async *list(prefix: string): AsyncGenerator<string> {
    const start = await this.startOf(prefix);
    if (start !== undefined) yield* this.walk(start.dir, start.keyDir, prefix);
  }

  private async *walk(dir: string, keyDir: string, prefix: string): AsyncGenerator<string> {
    let dirents;
    try {
      dirents = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      // A folder removed (or replaced by a file) since its parent was read holds no keys.
      if (NOT_FOUND.has((e as NodeJS.ErrnoException).code ?? '')) return;
      throw wrapIoError(e, dir, 'listing');
    }
    const entries = dirents
      .filter((d) => d.isDirectory() || (d.isFile() && tempNameOwner(d.name) === undefined))
      .map((d) => ({ name: d.name, sortName: d.isDirectory() ? `${d.name}/` : d.name }))
      .sort((a, b) => (a.sortName < b.sortName ? -1 : a.sortName > b.sortName ? 1 : 0));
    for (const { name, sortName } of entries) {
      const key = keyDir + sortName;
      if (sortName.endsWith('/')) {
        if (key.startsWith(prefix)) yield* this.walk(join(dir, name), key, prefix);
      } else if (key.startsWith(prefix)) {
        yield key;
      }
    }
  }

  /**
   * The directory the walk for `prefix` starts at and the key prefix of its entries, or
   * undefined when no key can start with `prefix` (a component is missing, is not a real
   * directory, or is not a valid key component).
   */
  private async startOf(prefix: string): Promise<{ dir: string; keyDir: string } | undefined> {
    const parts = prefix.split('/').slice(0, -1);
    let dir = this.root;
    for (const part of parts) {
      if (part === '' || part === '.' || part === '..' || part.includes('\0')) return undefined;
      dir = join(dir, part);
      try {
        if (!(await lstat(dir)).isDirectory()) return undefined;
      } catch (e) {
        if (NOT_FOUND.has((e as NodeJS.ErrnoException).code ?? '')) return undefined;
        throw wrapIoError(e, dir, 'listing');
      }
    }
    return { dir, keyDir: parts.map((p) => `${p}/`).join('') };
  }

  /**
   * Remove the temporary files of saves under `prefix` whose writer is provably dead (a run
   * killed in the middle of an upload to a mounted disk leaves one, possibly gigabytes, that
   * no listing shows); returns how many. A live writer's are left alone.
   */
  async abortIncomplete(prefix: string): Promise<number> {
    const start = await this.startOf(prefix);
    return start === undefined ? 0 : this.removeDeadTemps(start.dir, start.keyDir, prefix);
  }

  private async removeDeadTemps(dir: string, keyDir: string, prefix: string): Promise<number> {
    const dirents = await readdir(dir, { withFileTypes: true }).catch(() => []);
    let removed = 0;
    for (const d of dirents) {
      const path = join(dir, d.name);
      if (d.isDirectory()) {
        if (`${keyDir}${d.name}/`.startsWith(prefix) || prefix.startsWith(`${keyDir}${d.name}/`)) removed += await this.removeDeadTemps(path, `${keyDir}${d.name}/`, prefix);
        continue;
      }
      const owner = d.isFile() ? tempNameOwner(d.name) : undefined;
      if (owner === undefined || !`${keyDir}${d.name}`.startsWith(prefix.slice(0, prefix.lastIndexOf('/') + 1))) continue;
      const st = await stat(path).catch(() => undefined);
      if (st && (await writerIsDead(owner, st.mtimeMs))) {
        await unlink(path).catch(() => undefined);
        removed++;
      }
    }
    return removed;
  }

  async remove(key: string): Promise<void> {
    const path = this.file(key);
    await unlink(path).catch((e: unknown) => {
      if (NOT_FOUND.has((e as NodeJS.ErrnoException).code ?? '')) return;
      throw wrapIoError(e, path, 'removing');
    });
  }

  isNotFound(error: unknown): boolean {
    const cause = isBackupError(error) ? (error.cause as NodeJS.ErrnoException | undefined) : (error as NodeJS.ErrnoException | undefined);
    return NOT_FOUND.has(cause?.code ?? '');
  }

  /** Always false: a local file system's errors do not go away by trying again. */
  isTransient(_error: unknown): boolean {
    return false;
  }
}
