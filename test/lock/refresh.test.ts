/**
 * Refreshing a held lock: a refresh writes a new lock object and only then removes the old
 * one (no moment without one, no rival run getting in), a lock whose object was removed or
 * that cannot be refreshed is lost and `assertHeld()` says so before a commit, and the
 * refresh timer never keeps the process alive.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BackupError, isBackupError } from '../../src/errors.js';
import { acquireLock, type HeldLock, type LockOptions } from '../../src/lock/index.js';
import { LocalStorage } from '../../src/storage/local.js';
import { listKeys, type LoadOptions, type SaveOptions, type SaveSource, type Storage } from '../../src/storage/storage.js';
import { collect } from '../backup/helpers.js';
import { failure } from '../helpers/failure.js';
import { requireBuilt, withTempDir } from '../helpers/tools.js';

const DIR = 'name/locks';

/** What a {@link Hooked} storage calls before it passes a save or a remove on. */
interface Hooks {
  beforeSave?: (key: string) => Promise<void> | void;
  beforeRemove?: (key: string) => Promise<void> | void;
}

/** A real storage with hooks run before each save and remove: to look at the folder mid-refresh, or to fail. */
class Hooked implements Storage {
  hooks: Hooks = {};
  constructor(readonly inner: Storage) {}
  get location(): string {
    return this.inner.location;
  }
  async save(key: string, source: SaveSource, options?: SaveOptions): Promise<void> {
    await this.hooks.beforeSave?.(key);
    return this.inner.save(key, source, options);
  }
  load(key: string, options?: LoadOptions): AsyncIterable<Uint8Array> {
    return this.inner.load(key, options);
  }
  stat(key: string) {
    return this.inner.stat(key);
  }
  list(prefix: string): AsyncIterable<string> {
    return this.inner.list(prefix);
  }
  async remove(key: string): Promise<void> {
    await this.hooks.beforeRemove?.(key);
    return this.inner.remove(key);
  }
  isNotFound(error: unknown): boolean {
    return this.inner.isNotFound(error);
  }
}

/** Every lock taken by {@link lock}: released before the temporary directory goes, even when a test fails. */
const taken: HeldLock[] = [];

async function withStorage(fn: (s: Hooked, local: LocalStorage) => Promise<void>): Promise<void> {
  await withTempDir(async (tmp) => {
    const local = new LocalStorage(tmp.file('work'));
    const hooked = new Hooked(local);
    try {
      await fn(hooked, local);
    } finally {
      hooked.hooks = {};
      await Promise.allSettled(taken.splice(0).map((held) => held.release()));
    }
  });
}

async function lock(storage: Storage, options: Partial<LockOptions> = {}): Promise<HeldLock> {
  const held = await acquireLock(storage, DIR, { operation: 'backup', ...options });
  taken.push(held);
  return held;
}

/** Resolves when `held` is lost, with the reason. */
function lost(held: HeldLock): Promise<BackupError> {
  if (held.signal.aborted) return Promise.resolve(held.signal.reason as BackupError);
  return new Promise((done) => held.signal.addEventListener('abort', () => done(held.signal.reason as BackupError), { once: true }));
}

/** Resolves after `held` has been refreshed `count` more times. */
async function refreshes(held: HeldLock, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const key = held.key;
    while (held.key === key) {
      if (held.signal.aborted) throw held.signal.reason;
      await new Promise((done) => setTimeout(done, 5));
    }
  }
}

describe('refreshing a held lock', () => {
  it('writes the lock anew under a new key, same id, and removes the old object only after', () =>
    withStorage(async (s, local) => {
      const held = await lock(s, { refreshMs: 20 });
      const first = { key: held.key, record: held.record };
      // At each removal of one of our objects, the folder as another run would list it.
      const atRemoval: Array<{ removing: string; listed: string[] }> = [];
      s.hooks.beforeRemove = async (key) => {
        atRemoval.push({ removing: key, listed: await listKeys(local, `${DIR}/`) });
      };
      await refreshes(held, 3);
      s.hooks.beforeRemove = undefined;
      await held.assertHeld();
      expect(held.key).not.toBe(first.key);
      expect(held.record.id).toBe(first.record.id);
      expect(held.record.createdAt).toBe(first.record.createdAt);
      expect(Date.parse(held.record.refreshedAt!)).toBeGreaterThan(Date.parse(first.record.createdAt));
      const stored = JSON.parse(Buffer.from(await collect(local.load(held.key))).toString());
      expect(stored).toEqual(held.record);
      expect(atRemoval.length).toBeGreaterThanOrEqual(3);
      expect(atRemoval[0]!.removing).toBe(first.key);
      for (const { removing, listed } of atRemoval) {
        // The object being removed has a successor already stored: never zero lock objects.
        expect(listed).toContain(removing);
        expect(listed.filter((k) => k !== removing && k.includes(first.record.id))).toHaveLength(1);
      }
      await held.release();
      expect(await listKeys(local, `${DIR}/`)).toEqual([]);
    }));

  it('never lets a rival run take the lock in the middle of a refresh', () =>
    withStorage(async (s, local) => {
      const held = await lock(s, { refreshMs: 20 });
      const rivals: unknown[] = [];
      const rival = async (): Promise<void> => {
        rivals.push(await lock(local, { operation: 'rival' }).then((r) => r.release().then(() => 'held'), (e: unknown) => e));
      };
      // Before the new object is saved, and between its save and the old one's removal.
      s.hooks.beforeSave = rival;
      s.hooks.beforeRemove = rival;
      await refreshes(held, 3);
      // Let the third refresh finish its removal.
      await held.assertHeld();
      s.hooks = {};
      expect(rivals.length).toBeGreaterThanOrEqual(6);
      for (const r of rivals) expect(isBackupError(r, 'ELOCKED'), String(r)).toBe(true);
      await held.release();
    }));

  it('releases every object it wrote, also when the last refresh could not remove the old one', () =>
    withStorage(async (s, local) => {
      const held = await lock(s, { refreshMs: 20 });
      const first = held.key;
      s.hooks.beforeRemove = (key) => {
        if (key === first) throw new Error('remove refused');
      };
      await refreshes(held, 1);
      expect(await listKeys(local, `${DIR}/`)).toContain(first);
      s.hooks = {};
      await held.release();
      expect(await listKeys(local, `${DIR}/`)).toEqual([]);
    }));
});

describe('losing a held lock', () => {
  it('is lost when a refresh fails past the give-up time: the signal aborts and assertHeld throws ELOCKED', () =>
    withStorage(async (s, local) => {
      const held = await lock(s, { refreshMs: 20, staleMs: 40, where: 's3:bucket' });
      await held.assertHeld();
      s.hooks.beforeSave = () => {
        throw new Error('503 Slow Down');
      };
      const reason = await lost(held);
      const e = await failure(held.assertHeld());
      expect(e).toBe(reason);
      expect(e.code).toBe('ELOCKED');
      expect(e.message).toContain('lost the lock of name/locks in s3:bucket');
      expect(e.message).toContain('could not be refreshed');
      expect(e.message).toContain('503 Slow Down');
      expect(e.message).toContain('must not commit');
      // Its object stays until the release: the run may still be working.
      expect(await listKeys(local, `${DIR}/`)).toContain(held.key);
      s.hooks = {};
      await held.release();
      expect(await listKeys(local, `${DIR}/`)).toEqual([]);
    }));

  it('reports a failed refresh and retries it while there is time; assertHeld refreshes itself when one is due', () =>
    withStorage(async (s) => {
      const errors: BackupError[] = [];
      const held = await lock(s, { refreshMs: 20, staleMs: 60_000, onRefreshError: (e) => errors.push(e) });
      let failing = true;
      s.hooks.beforeSave = () => {
        if (failing) throw new Error('connection reset');
      };
      while (errors.length < 2) await new Promise((done) => setTimeout(done, 5));
      expect(held.signal.aborted).toBe(false);
      expect(errors[0]!.message).toContain('connection reset');
      // A refresh is overdue and the storage still fails: no proof, no commit.
      expect((await failure(held.assertHeld())).message).toContain('connection reset');
      expect(held.signal.aborted).toBe(true);
      failing = false;
      await held.release();
    }));

  it('is lost when its object was removed (by unlock or by hand): found at the next refresh', () =>
    withStorage(async (s, local) => {
      const held = await lock(s, { refreshMs: 20 });
      await local.remove(held.key);
      const reason = await lost(held);
      expect(reason.message).toContain('was removed');
      expect(reason.message).toContain(held.key);
      expect((await failure(held.assertHeld())).code).toBe('ELOCKED');
      await held.release();
      expect(await listKeys(local, `${DIR}/`)).toEqual([]);
    }));

  it('is lost when its object was removed: found by assertHeld between refreshes', () =>
    withStorage(async (s, local) => {
      const held = await lock(s, { refreshMs: 3_600_000, staleMs: 7_200_000 });
      await held.assertHeld();
      await local.remove(held.key);
      const e = await failure(held.assertHeld());
      expect(e.code).toBe('ELOCKED');
      expect(e.message).toContain('was removed');
      expect(held.signal.aborted).toBe(true);
      await held.release();
    }));

  it('rejects refresh and stale times that leave no room for a refresh with EPARAM', () =>
    withStorage(async (s) => {
      for (const options of [{ refreshMs: 0 }, { refreshMs: Number.NaN }, { refreshMs: 100, staleMs: 150 }, { staleMs: Number.POSITIVE_INFINITY }]) {
        expect((await failure(lock(s, options))).code).toBe('EPARAM');
      }
      expect(await listKeys(s, `${DIR}/`)).toEqual([]);
    }));
});

const DIST_LOCK = resolve('dist/lock/index.js');
const DIST_STORAGE = resolve('dist/storage/local.js');
const built = requireBuilt(DIST_LOCK, DIST_STORAGE);

describe.skipIf(!built)(`the refresh timer${built ? '' : ' (skipped: run npm run build first)'}`, () => {
  // A run that forgets to release (or is between its last step and its exit) must still exit:
  // a timer that kept the event loop alive would hang every CLI command that takes a lock.
  it('does not keep the process alive: a holder that never releases exits on its own', () =>
    withTempDir(async (tmp) => {
      const script = tmp.file('hold.mjs');
      await writeFile(
        script,
        `import { acquireLock } from ${JSON.stringify(pathToFileURL(DIST_LOCK).href)};
import { LocalStorage } from ${JSON.stringify(pathToFileURL(DIST_STORAGE).href)};
const held = await acquireLock(new LocalStorage(process.argv[2]), ${JSON.stringify(DIR)}, { operation: 'hold', refreshMs: 10 });
const first = held.key;
await new Promise((done) => setTimeout(done, 100));
console.log(JSON.stringify({ refreshed: held.key !== first, lost: held.signal.aborted }));
`,
      );
      const child = spawn(process.execPath, [script, tmp.file('work')], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const code = await new Promise((done) => child.once('exit', done));
      expect(code, err).toBe(0);
      expect(JSON.parse(out)).toEqual({ refreshed: true, lost: false });
      expect(await listKeys(new LocalStorage(tmp.file('work')), `${DIR}/`)).toHaveLength(1);
    }));
});
