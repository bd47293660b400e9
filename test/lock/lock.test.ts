/**
 * The backup-name lock in one process: holding, conflicts with their messages, waiting,
 * taking over the locks of provably dead holders (and only those), invalid lock objects, and
 * the race the issue reported: two runs of one name started in the same millisecond.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { isBackupError, LocalStorage, type BackupError, type Storage } from '../../src/index.js';
import { listKeys } from '../../src/storage/storage.js';
import { processStartTicks } from '../../src/io/process-liveness.js';
import { acquireLock, type HeldLock, type LockOptions, type LockWarning } from '../../src/lock/index.js';
import { collect } from '../backup/helpers.js';
import { onCi, withTempDir } from '../helpers/tools.js';

const DIR = 'name/locks';
const linux = existsSync('/proc/self/stat');
const linuxNote = linux ? '' : ' (skipped: needs /proc)';
if (!linux && onCi) {
  it('/proc is mounted (required when CI=true)', () => {
    throw new Error('/proc/self/stat is missing: the Linux takeover tests cannot run');
  });
}

function lock(storage: Storage, options: Partial<LockOptions> = {}): Promise<HeldLock> {
  return acquireLock(storage, DIR, { operation: 'backup', ...options });
}

async function lockError(p: Promise<unknown>): Promise<BackupError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isBackupError(e)) throw new Error(`expected a BackupError, got ${String(e)}`);
  return e;
}

async function withStorage(fn: (s: LocalStorage) => Promise<void>): Promise<void> {
  await withTempDir((tmp) => fn(new LocalStorage(tmp.file('work'))));
}

/**
 * A lock object as another run would have left it: one of ours, released, then written back
 * with `edit` applied. Returns its key.
 */
async function plant(storage: Storage, edit: (record: Record<string, unknown>) => void): Promise<string> {
  const held = await lock(storage);
  const record = JSON.parse(Buffer.from(await collect(storage.load(held.key))).toString()) as Record<string, unknown>;
  await held.release();
  edit(record);
  await storage.save(held.key, new TextEncoder().encode(JSON.stringify(record)));
  return held.key;
}

/** The pid of a child process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((done) => child.once('exit', done));
  return child.pid!;
}

describe('acquireLock', () => {
  it('holds a lock object naming this process, and release removes it (twice is harmless)', () =>
    withStorage(async (s) => {
      const held = await lock(s, { operation: 'prune' });
      expect(await listKeys(s, `${DIR}/`)).toEqual([held.key]);
      expect(held.key).toMatch(/^name\/locks\/\d{8}T\d{9}Z-[0-9a-f]{32}\.json$/);
      const stored = JSON.parse(Buffer.from(await collect(s.load(held.key))).toString());
      expect(stored).toEqual(held.record);
      expect(stored).toMatchObject({ format: 'ibt-lock', version: 1, operation: 'prune', exclusive: true, pid: process.pid, hostname: hostname() });
      await held.release();
      await held.release();
      expect(await listKeys(s, `${DIR}/`)).toEqual([]);
      await (await lock(s)).release();
    }));

  it('refuses a second holder with ELOCKED naming the holder: operation, pid, host, since when, lock object', () =>
    withStorage(async (s) => {
      const held = await lock(s, { operation: 'backup of /src' });
      const e = await lockError(lock(s, { where: '/var/work' }));
      expect(e.code).toBe('ELOCKED');
      expect(e.path).toBe(held.key);
      expect(e.message).toContain('name/locks in /var/work is locked');
      expect(e.message).toContain(`pid ${process.pid}`);
      expect(e.message).toContain(`host ${JSON.stringify(hostname())}`);
      expect(e.message).toContain('"backup of /src"');
      expect(e.message).toContain(held.record.createdAt);
      expect(e.message).toContain(held.key);
      // The refused run left nothing behind.
      expect(await listKeys(s, `${DIR}/`)).toEqual([held.key]);
      await held.release();
    }));

  it('lets shared locks coexist, and keeps exclusive ones apart from them', () =>
    withStorage(async (s) => {
      const a = await lock(s, { exclusive: false, operation: 'restore' });
      const b = await lock(s, { exclusive: false, operation: 'restore' });
      expect((await lockError(lock(s, { operation: 'prune' }))).message).toContain('"restore" (shared)');
      await a.release();
      await b.release();
      const x = await lock(s, { operation: 'prune' });
      expect((await lockError(lock(s, { exclusive: false, operation: 'restore' }))).message).toContain('"prune" (exclusive)');
      await x.release();
    }));

  it('waits up to the timeout and takes the lock once the holder releases it', () =>
    withStorage(async (s) => {
      const held = await lock(s);
      let released = false;
      setTimeout(() => {
        void held.release().then(() => {
          released = true;
        });
      }, 300);
      const waiter = await lock(s, { timeoutMs: 20_000 });
      expect(released).toBe(true);
      expect(await listKeys(s, `${DIR}/`)).toEqual([waiter.key]);
      await waiter.release();
    }));

  it('fails with ELOCKED once the timeout is over, not before', () =>
    withStorage(async (s) => {
      const held = await lock(s);
      const start = performance.now();
      const e = await lockError(lock(s, { timeoutMs: 400 }));
      expect(performance.now() - start).toBeGreaterThanOrEqual(400);
      expect(e.code).toBe('ELOCKED');
      expect(e.message).toContain('(waited 400 ms)');
      expect(e.message).toContain(held.key);
      expect(await listKeys(s, `${DIR}/`)).toEqual([held.key]);
      await held.release();
    }));

  it('stops waiting with EABORTED when its signal fires, leaving no lock object', () =>
    withStorage(async (s) => {
      const held = await lock(s);
      const e = await lockError(lock(s, { timeoutMs: 60_000, signal: AbortSignal.timeout(200) }));
      expect(e.code).toBe('EABORTED');
      expect(await listKeys(s, `${DIR}/`)).toEqual([held.key]);
      const early = await lockError(lock(s, { signal: AbortSignal.abort() }));
      expect(early.code).toBe('EABORTED');
      expect(await listKeys(s, `${DIR}/`)).toEqual([held.key]);
      await held.release();
    }));

  it('refuses a storage whose listing does not show the lock object it has just saved', () =>
    withStorage(async (s) => {
      // Listings that lag behind writes (S3 before 2020, some S3 look-alikes) would let two
      // runs in; this one never shows what it was given.
      const lagging: Storage = {
        location: s.location,
        save: (key, data, options) => s.save(key, data, options),
        load: (key, range) => s.load(key, range),
        stat: (key) => s.stat(key),
        list: async function* () {},
        remove: (key) => s.remove(key),
        isNotFound: (e) => s.isNotFound(e),
      };
      const e = await lockError(acquireLock(lagging, DIR, { operation: 'backup', where: 's3://bucket' }));
      expect(e.code).toBe('EIO');
      expect(e.message).toContain('s3://bucket did not list the lock object');
      expect(await listKeys(s, `${DIR}/`)).toEqual([]);
    }));

  it('rejects bad parameters with EPARAM', () =>
    withStorage(async (s) => {
      for (const p of [acquireLock(s, '/', { operation: 'x' }), lock(s, { timeoutMs: -1 }), lock(s, { timeoutMs: Number.NaN }), lock(s, { operation: '' })]) {
        expect((await lockError(p)).code).toBe('EPARAM');
      }
    }));

  // Regression (issue item 1): two backups of one name started in the same millisecond both
  // reported success and one of them vanished. Exactly one of them may hold the lock.
  it('lets exactly one of two acquires started in the same millisecond hold, 20 times over', () =>
    withStorage(async (s) => {
      for (let round = 0; round < 20; round++) {
        const results = await Promise.allSettled([lock(s), lock(s)]);
        const held = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
        const refused = results.filter((r) => r.status === 'rejected').map((r) => r.reason as unknown);
        expect(held, `round ${round}: holders`).toHaveLength(1);
        expect(refused.every((e) => isBackupError(e, 'ELOCKED')), `round ${round}: ${String(refused[0])}`).toBe(true);
        expect(await listKeys(s, `${DIR}/`)).toEqual([held[0]!.key]);
        await held[0]!.release();
      }
    }));
});

describe('locks of other runs', () => {
  it('never takes over a lock from another host, even when its pid is free here', () =>
    withStorage(async (s) => {
      const pid = await deadPid();
      const key = await plant(s, (r) => {
        r.hostname = 'elsewhere.example';
        r.pid = pid;
      });
      const warnings: LockWarning[] = [];
      const e = await lockError(lock(s, { onWarning: (w) => warnings.push(w) }));
      expect(e.code).toBe('ELOCKED');
      expect(e.message).toContain('host "elsewhere.example"');
      expect(e.message).toContain(`pid ${pid}`);
      expect(e.message).toContain(`remove ${key}`);
      expect(warnings).toEqual([]);
      expect(await listKeys(s, `${DIR}/`)).toEqual([key]);
    }));

  it('counts an invalid or unreadable lock object as held by an unknown run, naming the key to remove', () =>
    withStorage(async (s) => {
      const id = 'ab'.repeat(16);
      const cases: Array<[string, Uint8Array | string, string]> = [
        [`${DIR}/20260101T000000000Z-${id}.json`, 'not json {', 'not JSON'],
        [`${DIR}/stray.txt`, '{}', 'its name is not'],
        [`${DIR}/sub/20260101T000000000Z-${id}.json`, '{}', 'not directly in the lock folder'],
        [`${DIR}/20260101T000000000Z-${id}.json`, JSON.stringify({ format: 'ibt-lock', version: 2 }), 'newer version'],
        [`${DIR}/20260101T000000000Z-${id}.json`, JSON.stringify({ format: 'ibt-lock', version: 1, id }), 'field'],
        [`${DIR}/20260101T000000000Z-${id}.json`, 'x'.repeat(20_000), 'larger than'],
        [`${DIR}/20260101T000000000Z-${id}.json`, new Uint8Array([0xff, 0xfe, 0x7b]), 'not JSON'],
      ];
      for (const [key, bytes, why] of cases) {
        await s.save(key, typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes);
        const e = await lockError(lock(s, { where: '/var/work' }));
        expect(e.code).toBe('ELOCKED');
        expect(e.path).toBe(key);
        expect(e.message).toContain('unknown run');
        expect(e.message).toContain(why);
        expect(e.message).toContain(`remove /var/work/${key}`);
        // Shared locks are blocked too: an unknown holder may be exclusive.
        expect((await lockError(lock(s, { exclusive: false }))).code).toBe('ELOCKED');
        await s.remove(key);
      }
      await (await lock(s)).release();
    }));

  it('does not take over the lock of a live process on this host', () =>
    withStorage(async (s) => {
      const key = await plant(s, () => undefined);
      const warnings: LockWarning[] = [];
      const e = await lockError(lock(s, { onWarning: (w) => warnings.push(w) }));
      expect(e.path).toBe(key);
      expect(e.message).toContain(`pid ${process.pid}`);
      expect(warnings).toEqual([]);
      expect(await listKeys(s, `${DIR}/`)).toEqual([key]);
    }));
});

describe.skipIf(!linux)(`takeover of provably dead holders${linuxNote}`, () => {
  it('takes over the lock of a process that no longer exists, with an ESTALELOCK warning', () =>
    withStorage(async (s) => {
      const pid = await deadPid();
      const key = await plant(s, (r) => {
        r.pid = pid;
      });
      const warnings: LockWarning[] = [];
      const held = await lock(s, { onWarning: (w) => warnings.push(w), where: '/var/work' });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ code: 'ESTALELOCK', path: key });
      expect(warnings[0]!.message).toContain(`pid ${pid}`);
      expect(warnings[0]!.message).toContain(key);
      expect(await listKeys(s, `${DIR}/`)).toEqual([held.key]);
      await held.release();
    }));

  it('takes over the lock of a live pid with another start time (the pid was reused)', () =>
    withStorage(async (s) => {
      const ticks = (await processStartTicks(process.pid))!;
      const key = await plant(s, (r) => {
        r.startTicks = ticks + 1;
      });
      const warnings: LockWarning[] = [];
      const held = await lock(s, { onWarning: (w) => warnings.push(w) });
      expect(warnings.map((w) => w.path)).toEqual([key]);
      await held.release();
    }));

  it('takes over a lock from an earlier boot of this host', () =>
    withStorage(async (s) => {
      const key = await plant(s, (r) => {
        r.bootId = '00000000-0000-4000-8000-000000000000';
        r.createdAt = '2001-01-01T00:00:00.000Z';
      });
      const warnings: LockWarning[] = [];
      const held = await lock(s, { onWarning: (w) => warnings.push(w) });
      expect(warnings.map((w) => w.path)).toEqual([key]);
      await held.release();
    }));
});
