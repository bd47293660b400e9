/**
 * A {@link Storage} in a local directory: each key is a file under the root, written under
 * a temporary name and renamed, so a reader never sees half an object. Useful on its own (a
 * mounted disk or network share) and as the reference backend for the conformance suite.
 */
import { createReadStream } from 'node:fs';
import { lstat, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../io/atomic-write.js';
import { BackupError, isBackupError, wrapIoError } from '../errors.js';
import type { LoadRange, Storage } from './storage.js';

function checkKey(key: string): void {
  if (key.length === 0 || key.startsWith('/') || key.split('/').some((s) => s === '' || s === '.' || s === '..') || key.includes('\0')) {
    throw new BackupError('EPARAM', `invalid storage key ${JSON.stringify(key)}`, { path: key });
  }
}

/** Storage in the directory `root` (created on the first save). */
export class LocalStorage implements Storage {
  constructor(readonly root: string) {}

  private file(key: string): string {
    checkKey(key);
    return join(this.root, ...key.split('/'));
  }

  async save(key: string, data: AsyncIterable<Uint8Array> | Uint8Array): Promise<void> {
    const path = this.file(key);
    await mkdir(dirname(path), { recursive: true }).catch((e) => {
      throw wrapIoError(e, path, 'creating the directory of');
    });
    const chunks = data instanceof Uint8Array ? (async function* () { yield data; })() : data;
    await writeFileAtomic(path, chunks, { overwrite: true });
  }

  async *load(key: string, range: LoadRange = {}): AsyncIterable<Uint8Array> {
    const path = this.file(key);
    const start = range.offset ?? 0;
    const length = range.length;
    if (length === 0) return;
    const stream = createReadStream(path, { start, end: length === undefined ? undefined : start + length - 1, highWaterMark: 1 << 20 });
    try {
      for await (const chunk of stream) yield chunk as Uint8Array;
    } catch (e) {
      throw wrapIoError(e, path, 'loading');
    } finally {
      stream.destroy();
    }
  }

  async stat(key: string): Promise<{ size: number }> {
    const path = this.file(key);
    const st = await stat(path).catch((e) => {
      throw wrapIoError(e, path, 'stat of');
    });
    if (!st.isFile()) throw wrapIoError(Object.assign(new Error('not a stored object'), { code: 'ENOENT' }), path, 'stat of');
    return { size: st.size };
  }

  /**
   * Every key starting with `prefix`, sorted. The walk starts at the deepest directory the
   * prefix names whole (`a/b/` and `a/b/c` both start at `a/b`), so listing one backup's lock
   * folder does not read every other backup's artifacts. Symbolic links are not followed, on
   * the way to that directory or below it, and temporary files are not keys.
   */
  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string, keyDir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw wrapIoError(e, dir, 'listing');
      }
      for (const d of entries) {
        const key = keyDir + d.name;
        if (d.isDirectory()) {
          if (`${key}/`.startsWith(prefix)) await walk(join(dir, d.name), `${key}/`);
        } else if (d.isFile() && !/^\..*\.tmp$/.test(d.name) && key.startsWith(prefix)) {
          out.push(key);
        }
      }
    };
    const start = await this.startOf(prefix);
    if (start !== undefined) await walk(start.dir, start.keyDir);
    return out.sort();
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
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
        throw wrapIoError(e, dir, 'listing');
      }
    }
    return { dir, keyDir: parts.map((p) => `${p}/`).join('') };
  }

  async remove(key: string): Promise<void> {
    const path = this.file(key);
    await rm(path, { force: true }).catch((e) => {
      throw wrapIoError(e, path, 'removing');
    });
  }

  isNotFound(error: unknown): boolean {
    const cause = isBackupError(error) ? (error.cause as NodeJS.ErrnoException | undefined) : (error as NodeJS.ErrnoException);
    return cause?.code === 'ENOENT';
  }
}
