/**
 * Stale locks and `unlock`: a lock of another host that stopped being refreshed is reported as
 * stale (with its age, host and pid, and the way out) and never taken over; `unlock` removes
 * stale locks and those of dead holders, keeps live ones unless told `all`, and works on a
 * repository-wide lock folder as on a name's.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isBackupError } from '../../src/errors.js';
import { currentProcess, type ProcessIdentity } from '../../src/io/process-liveness.js';
import { acquireLock, DEFAULT_REFRESH_MS, DEFAULT_STALE_MS, unlock, type UnlockedLock } from '../../src/lock/index.js';
import { formatAge, isStale, lockTimes } from '../../src/lock/staleness.js';
import { LocalStorage } from '../../src/storage/local.js';
import { listKeys, type Storage } from '../../src/storage/storage.js';
import { failure } from '../helpers/failure.js';
import { withTempDir } from '../helpers/tools.js';

const DIR = 'name/locks';
const MIN = 60_000;
const linux = existsSync('/proc/self/stat');

async function withStorage(fn: (s: LocalStorage) => Promise<void>): Promise<void> {
  await withTempDir((tmp) => fn(new LocalStorage(tmp.file('work'))));
}

/**
 * A lock object as another run would have written it (by default on host `elsewhere.example`),
 * `ageMs` after its last write by this host's clock; `refreshed` gives it a `refreshedAt` (and an
 * older `createdAt`). Returns its key.
 */
async function plant(
  storage: Storage,
  dir: string,
  holder: { identity?: ProcessIdentity; ageMs: number; refreshed?: boolean; pid?: number },
): Promise<string> {
  const id = randomBytes(16).toString('hex');
  const last = new Date(Date.now() - holder.ageMs).toISOString();
  const record: Record<string, unknown> = {
    format: 'ibt-lock',
    version: 1,
    id,
    operation: 'backup',
    exclusive: true,
    hostname: 'elsewhere.example',
    pid: holder.pid ?? 4242,
    ...holder.identity,
    user: 'alice',
    createdAt: holder.refreshed ? new Date(Date.now() - holder.ageMs - 6 * 60 * MIN).toISOString() : last,
    // A field a newer writer might add: dropped, not refused.
    comment: 'written by hand',
  };
  if (holder.refreshed) record.refreshedAt = last;
  const key = `${dir}/${last.replace(/[-:.]/g, '')}-${id}.json`;
  await storage.save(key, new TextEncoder().encode(JSON.stringify(record)));
  return key;
}

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((done) => child.once('exit', done));
  return child.pid!;
}

describe('stale locks', () => {
  it('reports a lock of another host not refreshed for staleMs as stale, with age, host, pid and `ibt unlock`; then unlock removes it', () =>
    withStorage(async (s) => {
      const key = await plant(s, DIR, { ageMs: 2 * 60 * MIN, refreshed: true, pid: 777 });
      const e = await failure(acquireLock(s, DIR, { operation: 'backup', where: 's3:bucket/repo' }));
      expect(e.code).toBe('ELOCKED');
      expect(e.path).toBe(key);
      expect(e.message).toContain('locked by a stale lock');
      expect(e.message).toContain('has not refreshed it for 2 h 0 min');
      expect(e.message).toContain('host "elsewhere.example"');
      expect(e.message).toContain('pid 777');
      expect(e.message).toContain(`s3:bucket/repo/${key}`);
      expect(e.message).toContain('`ibt unlock`');
      // Not taken over: still there.
      expect(await listKeys(s, `${DIR}/`)).toEqual([key]);

      const removed: UnlockedLock[] = [];
      const result = await unlock(s, DIR, { where: 's3:bucket/repo', onRemoved: (l) => removed.push(l) });
      expect(result.kept).toEqual([]);
      expect(result.removed).toEqual(removed);
      expect(removed).toHaveLength(1);
      expect(removed[0]).toMatchObject({ key, shown: `s3:bucket/repo/${key}` });
      expect(removed[0]!.reason).toContain('stale: not refreshed for 2 h 0 min');
      expect(removed[0]!.holder).toContain('pid 777 on host "elsewhere.example"');
      const held = await acquireLock(s, DIR, { operation: 'backup' });
      await held.release();
    }));

  it('uses staleMs, and the newest of createdAt and refreshedAt', () =>
    withStorage(async (s) => {
      // Created six hours ago, refreshed a second ago: fresh.
      const fresh = await plant(s, DIR, { ageMs: 1000, refreshed: true });
      const e = await failure(acquireLock(s, DIR, { operation: 'backup', staleMs: 10 * MIN, refreshMs: MIN }));
      expect(e.path).toBe(fresh);
      expect(e.message).not.toContain('stale');
      await s.remove(fresh);
      const stale = await plant(s, DIR, { ageMs: 11 * MIN });
      expect((await failure(acquireLock(s, DIR, { operation: 'backup', staleMs: 10 * MIN, refreshMs: MIN }))).message).toContain('stale lock');
      expect((await unlock(s, DIR, { staleMs: 12 * MIN })).kept.map((l) => l.key)).toEqual([stale]);
      expect((await unlock(s, DIR, { staleMs: 10 * MIN })).removed.map((l) => l.key)).toEqual([stale]);
    }));

  it('does not count a lock dated in the future (a clock ahead of ours) as stale', () => {
    const record = { refreshedAt: undefined, createdAt: new Date(Date.now() + 60 * MIN).toISOString() };
    expect(isStale(record as never, 1)).toBe(false);
  });

  it('has restic’s times by default and says durations in words', () => {
    expect(DEFAULT_REFRESH_MS).toBe(5 * MIN);
    expect(DEFAULT_STALE_MS).toBe(30 * MIN);
    expect(lockTimes({})).toEqual({ refreshMs: 5 * MIN, staleMs: 30 * MIN });
    expect([formatAge(250), formatAge(45_000), formatAge(31 * MIN), formatAge(125 * MIN), formatAge(76 * 60 * MIN)]).toEqual([
      '250 ms',
      '45 s',
      '31 min',
      '2 h 5 min',
      '3 d 4 h',
    ]);
  });
});

describe('unlock', () => {
  it('keeps a fresh lock of another host (and says why) unless all is set', () =>
    withStorage(async (s) => {
      const key = await plant(s, DIR, { ageMs: 2 * MIN });
      const result = await unlock(s, DIR);
      expect(result.removed).toEqual([]);
      expect(result.kept).toHaveLength(1);
      expect(result.kept[0]).toMatchObject({ key, shown: key });
      expect(result.kept[0]!.reason).toContain('in use');
      expect(await listKeys(s, `${DIR}/`)).toEqual([key]);
      const all = await unlock(s, DIR, { all: true });
      expect(all.removed.map((l) => l.key)).toEqual([key]);
      expect(await listKeys(s, `${DIR}/`)).toEqual([]);
    }));

  it('keeps a lock held by this process unless all is set; its holder then finds the lock lost', () =>
    withStorage(async (s) => {
      const held = await acquireLock(s, DIR, { operation: 'backup', refreshMs: 3_600_000, staleMs: 7_200_000 });
      expect((await unlock(s, DIR)).kept.map((l) => l.key)).toEqual([held.key]);
      await held.assertHeld();
      expect((await unlock(s, DIR, { all: true })).removed.map((l) => l.key)).toEqual([held.key]);
      const e = await failure(held.assertHeld());
      expect(e.message).toContain('was removed');
      await held.release();
    }));

  it('keeps an invalid lock object (its age is unknown) unless all is set', () =>
    withStorage(async (s) => {
      const key = `${DIR}/20260101T000000000Z-${'ab'.repeat(16)}.json`;
      await s.save(key, new TextEncoder().encode('not json {'));
      const result = await unlock(s, DIR);
      expect(result.kept.map((l) => [l.key, l.holder])).toEqual([[key, expect.stringContaining('not JSON')]]);
      expect((await unlock(s, DIR, { all: true })).removed.map((l) => l.key)).toEqual([key]);
    }));

  it.skipIf(!linux)('removes the fresh lock of a process of this host that no longer exists', () =>
    withStorage(async (s) => {
      const pid = await deadPid();
      const key = await plant(s, DIR, { identity: { ...(await currentProcess()), pid }, ageMs: 1000 });
      const result = await unlock(s, DIR);
      expect(result.removed.map((l) => [l.key, l.reason])).toEqual([[key, 'its holder is no longer running']]);
    }));

  it('works on a repository-wide lock folder, apart from the names’ folders', () =>
    withStorage(async (s) => {
      const repoLock = await acquireLock(s, 'locks', { operation: 'prune' });
      const nameLock = await acquireLock(s, DIR, { operation: 'backup' });
      expect(isBackupError(await acquireLock(s, 'locks/', { operation: 'prune' }).catch((e: unknown) => e), 'ELOCKED')).toBe(true);
      const stale = await plant(s, 'locks', { ageMs: 60 * MIN });
      const result = await unlock(s, 'locks');
      expect(result.removed.map((l) => l.key)).toEqual([stale]);
      expect(result.kept.map((l) => l.key)).toEqual([repoLock.key]);
      expect(await listKeys(s, `${DIR}/`)).toEqual([nameLock.key]);
      await repoLock.release();
      await nameLock.release();
    }));

  it('rejects a bad folder or stale time with EPARAM', () =>
    withStorage(async (s) => {
      for (const p of [unlock(s, '/'), unlock(s, DIR, { staleMs: 0 }), unlock(s, DIR, { staleMs: Number.NaN })]) {
        expect((await failure(p)).code).toBe('EPARAM');
      }
    }));
});
