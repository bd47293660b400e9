/**
 * What every backend must do under the repository layer, run on each (memory, a local
 * directory, S3 on moto): whole chains backed up and restored byte for byte, from the cache
 * the backups filled and from an empty one; a damaged cached artifact fetched again; one
 * damaged in storage too refused by name; strays of failed runs removed; a backup whose
 * commit failed resumed by the next run; conditional commits; cold archives thawed.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BackupError,
  fullBackup,
  incrementalBackup,
  initRepository,
  listBackups,
  openRepository,
  restoreBackup,
  type Repository,
  type SaveOptions,
  type SaveSource,
  type Storage,
} from '../../src/index.js';
import { Catalog } from '../../src/catalog/index.js';
import { claimParent } from '../../src/catalog/commit-claim.js';
import { expectSameTree, snapshot, type Snap } from '../backup/helpers.js';
import { randomData, scatteredOverwrites } from '../helpers/data.js';
import { withTempDir, type TempDir } from '../helpers/tools.js';

/** Options of {@link repositoryChainSuite}. */
export interface ChainSuiteOptions {
  /** The backend has cold classes (GLACIER archives refuse reads until thawed). */
  cold?: boolean;
}

/** `inner` with its saves going through `save`, which may call the real one. */
function interceptSaves(inner: Storage, save: (key: string, source: SaveSource, options: SaveOptions | undefined, real: Storage['save']) => Promise<void>): Storage {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'save') return (key: string, source: SaveSource, options?: SaveOptions) => save(key, source, options, target.save.bind(target));
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** A save cut off by a network loss (test). */
function lost(key: string): Promise<never> {
  return Promise.reject(new BackupError('EIO', `saving ${key}: connection lost (test)`, { path: key }));
}

/** A storage whose saves of keys matching `fail` fail (as a commit cut off by a network loss would). */
function failingSaves(inner: Storage, fail: RegExp): Storage {
  return interceptSaves(inner, (key, source, options, real) => (fail.test(key) ? lost(key) : real(key, source, options)));
}

async function bytesOf(storage: Storage, key: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const c of storage.load(key)) chunks.push(c);
  return Buffer.concat(chunks);
}

async function keys(storage: Storage, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const k of storage.list(prefix)) out.push(k);
  return out;
}

/** A source tree: small files, a large one that changes by deltas, a symlink, a folder. */
async function makeSource(dir: string): Promise<void> {
  await mkdir(join(dir, 'sub/deeper'), { recursive: true });
  await writeFile(join(dir, 'a.txt'), 'alpha\n');
  await writeFile(join(dir, 'sub/b.bin'), randomData(1, 3000));
  await writeFile(join(dir, 'sub/deeper/big.bin'), randomData(2, 400_000));
  await writeFile(join(dir, 'gone.txt'), 'to be deleted');
}

/** The changes of day `n`: a delta to the big file, a new file, a deletion. */
async function change(dir: string, n: number): Promise<void> {
  const big = join(dir, 'sub/deeper/big.bin');
  await writeFile(big, scatteredOverwrites(await readFile(big), n, 5));
  await writeFile(join(dir, `new-${n}.txt`), `day ${n}\n`);
  await rm(join(dir, 'gone.txt'), { force: true });
}

interface Chain {
  repo: Repository;
  ids: string[];
  snaps: Map<string, Snap>[];
  src: string;
}

/** A full backup and two incrementals of a fresh source into a fresh repository over `storage`. */
async function backUpChain(tmp: TempDir, storage: Storage, options: { storageClass?: string } = {}): Promise<Chain> {
  const src = tmp.file('src');
  await makeSource(src);
  const repo = await initRepository(storage, { cacheDir: tmp.file('cache'), ...options });
  const ids: string[] = [];
  const snaps: Map<string, Snap>[] = [];
  for (let day = 0; day < 3; day++) {
    if (day > 0) await change(src, day);
    snaps.push(await snapshot(src));
    const r = await (day === 0 ? fullBackup : incrementalBackup)(src, { name: 'src', repository: repo });
    expect(r.repository).toBe(storage.location);
    ids.push(r.id);
  }
  return { repo, ids, snaps, src };
}

/** Register the suite for the backend `make` creates (a fresh, empty one per test). */
export function repositoryChainSuite(label: string, make: () => Promise<Storage>, options: ChainSuiteOptions = {}): void {
  describe(`repository chains: ${label}`, () => {
    it('backs a chain up and restores every point byte for byte, from the cache it filled and from an empty one', () =>
      withTempDir(async (tmp) => {
        const storage = await make();
        const { repo, ids, snaps } = await backUpChain(tmp, storage);
        const cache = join(repo.cacheRoot, 'src');
        // Only states and SigVaults stay cached: a backup never reads a data archive again.
        expect((await readdir(cache)).filter((f) => /\.(files|deltas)\./.test(f))).toEqual([]);
        for (let i = 0; i < ids.length; i++) {
          const out = tmp.file(`out-${i}`);
          const r = await restoreBackup('src', out, { repository: repo, at: ids[i] });
          expectSameTree(await snapshot(out), snaps[i]!, `point ${i}`);
          expect(r.stats.bytesFetched).toBeGreaterThan(0);
        }
        const fresh = await openRepository(storage, { cacheDir: tmp.file('empty-cache') });
        expect((await listBackups('src', { repository: fresh })).map((b) => b.id)).toEqual(ids);
        const out = tmp.file('out-fresh');
        await restoreBackup('src', out, { repository: fresh });
        expectSameTree(await snapshot(out), snaps[2]!, 'latest, empty cache');
        // The next incremental from an empty cache fetches states and SigVaults, never data archives.
        const third = await openRepository(storage, { cacheDir: tmp.file('third-cache') });
        await incrementalBackup(tmp.file('src'), { name: 'src', repository: third });
        expect((await readdir(join(third.cacheRoot, 'src'))).filter((f) => /\.(files|deltas)\./.test(f))).toEqual([]);
      }));

    it('fetches again a cached state, SigVault or archive that is damaged, and refuses one damaged in storage too, naming it', () =>
      withTempDir(async (tmp) => {
        const storage = await make();
        const { repo, ids, snaps, src } = await backUpChain(tmp, storage);
        const cache = join(repo.cacheRoot, 'src');
        for (const f of await readdir(cache)) if (/\.(state\.json\.gz|sigvault\.tar)$/.test(f)) await writeFile(join(cache, f), 'garbage');
        const last = await restoreBackup('src', tmp.file('out'), { repository: repo });
        expectSameTree(await snapshot(tmp.file('out')), snaps[2]!);
        expect(last.id).toBe(ids[2]);
        await writeFile(join(src, 'sub/deeper/big.bin'), randomData(9, 400_000));
        const next = await incrementalBackup(src, { name: 'src', repository: repo });
        expect(next.warnings).toEqual([]);
        expect(next.stats.storedDelta + next.stats.storedWhole).toBeGreaterThan(0);

        const state = await listBackups('src', { repository: repo });
        const files = state[0]!.artifacts.find((a) => a.role === 'files')!;
        await writeFile(join(cache, files.file), 'a stale copy');
        await restoreBackup('src', tmp.file('out-2'), { repository: repo, at: ids[0] });
        expectSameTree(await snapshot(tmp.file('out-2')), snaps[0]!);

        const key = `src/${files.file}`;
        const good = await bytesOf(storage, key);
        const bad = Uint8Array.from(good);
        bad[bad.length >> 1]! ^= 0xff;
        await storage.save(key, bad);
        const fresh = await openRepository(storage, { cacheDir: tmp.file('cache-2') });
        const error = await restoreBackup('src', tmp.file('out-3'), { repository: fresh, at: ids[0] }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(BackupError);
        expect((error as BackupError).code).toBe('ECORRUPT');
        expect((error as BackupError).message).toContain(files.file);
        expect((error as BackupError).message).toContain(storage.location);
      }));

    it('regression: a backup whose commit was cut off lost its work; the next run uploads what is missing and commits it', () =>
      withTempDir(async (tmp) => {
        const storage = await make();
        const src = tmp.file('src');
        await makeSource(src);
        const repo = await initRepository(storage, { cacheDir: tmp.file('cache') });
        const full = await fullBackup(src, { name: 'src', repository: repo });
        await change(src, 1);
        const day1 = await snapshot(src);
        const cut = await openRepository(failingSaves(storage, /\.state\.json\.gz$/), { cacheDir: tmp.file('cache'), attempts: 1 });
        const error = await incrementalBackup(src, { name: 'src', repository: cut }).catch((e: unknown) => e);
        expect((error as BackupError).code).toBe('EIO');
        expect((await listBackups('src', { repository: repo })).map((b) => b.id)).toEqual([full.id]);
        // Regression: a resume that failed on the network dropped the backup it was resuming.
        const down = await openRepository(failingSaves(storage, /\.state\.json\.gz$/), { cacheDir: tmp.file('cache'), attempts: 1 });
        expect(await incrementalBackup(src, { name: 'src', repository: down }).catch((e: unknown) => (e as BackupError).code)).toBe('EIO');
        await change(src, 2);
        const day2 = await snapshot(src);
        const next = await incrementalBackup(src, { name: 'src', repository: repo });
        expect(next.resumed).toHaveLength(1);
        const ids = (await listBackups('src', { repository: repo })).map((b) => b.id);
        expect(ids).toEqual([full.id, next.resumed![0], next.id]);
        const fresh = await openRepository(storage, { cacheDir: tmp.file('cache-2') });
        await restoreBackup('src', tmp.file('out-1'), { repository: fresh, at: ids[1] });
        expectSameTree(await snapshot(tmp.file('out-1')), day1);
        await restoreBackup('src', tmp.file('out-2'), { repository: fresh, at: ids[2] });
        expectSameTree(await snapshot(tmp.file('out-2')), day2);
      }));

    it('uploads an archive again from its file when its upload while it was written failed', () =>
      withTempDir(async (tmp) => {
        const storage = await make();
        const failed = new Set<string>();
        const firstFails = interceptSaves(storage, (key, source, options, real) => {
          if (!/\.(files|deltas|sigvault)\./.test(key) || failed.has(key)) return real(key, source, options);
          failed.add(key);
          return lost(key);
        });
        const src = tmp.file('src');
        await makeSource(src);
        const repo = await initRepository(firstFails, { cacheDir: tmp.file('cache') });
        const full = await fullBackup(src, { name: 'src', repository: repo });
        expect([...failed].sort()).toEqual(full.files.filter((f) => f.role !== 'state').map((f) => `src/${f.path.split('/').pop()}`).sort());
        const fresh = await openRepository(storage, { cacheDir: tmp.file('cache-2') });
        await restoreBackup('src', tmp.file('out'), { repository: fresh });
        expectSameTree(await snapshot(tmp.file('out')), await snapshot(src));
      }));

    it('removes the artifacts of runs that never committed, and an aborted backup leaves nothing in storage', () =>
      withTempDir(async (tmp) => {
        const storage = await make();
        const { repo, ids, src } = await backUpChain(tmp, storage);
        const before = await keys(storage, 'src/');
        const stray = '20200101T000000000Z-000.files.tar';
        await storage.save(`src/${stray}`, new Uint8Array([1, 2, 3]));
        // Aborted at its commit, once its archives were written (and, uploaded as they were
        // written, stored): nothing of it stays, in storage or in the cache.
        await writeFile(join(src, 'sub/deeper/big.bin'), randomData(11, 400_000));
        const ac = new AbortController();
        const onProgress = (e: { phase: string }) => void (e.phase === 'commit' && ac.abort());
        await expect(incrementalBackup(src, { name: 'src', repository: repo, signal: ac.signal, onProgress })).rejects.toMatchObject({ code: 'EABORTED' });
        expect((await keys(storage, 'src/')).filter((k) => !before.includes(k) && k !== `src/${stray}`)).toEqual([]);
        expect(await readdir(join(repo.cacheRoot, 'src/pending')).catch(() => [])).toEqual([]);
        await writeFile(join(src, 'a.txt'), 'changed');
        const next = await incrementalBackup(src, { name: 'src', repository: repo });
        const after = await keys(storage, 'src/');
        expect(after).not.toContain(`src/${stray}`);
        const added = after.filter((k) => !before.includes(k));
        expect(added.filter((k) => !k.includes(next.id))).toEqual([`src/claims/${ids[2]}.json`]);
        expect(ids).toHaveLength(3);
      }));

    it('commits conditionally: of two runs claiming one parent, exactly one wins, and a stale claim gives way', () =>
      withTempDir(async (tmp) => {
        const storage = await make();
        const { repo, ids, src } = await backUpChain(tmp, storage);
        const catalogs = await Promise.all([Catalog.open(repo, 'src'), Catalog.open(repo, 'src')]);
        const children = ['29990101T000000000Z-000', '29990101T000000000Z-001'];
        const outcomes = await Promise.allSettled(catalogs.map((c, i) => claimParent(c, ids[2]!, children[i]!)));
        expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
        const lost = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
        expect((lost.reason as BackupError).code).toBe('ECONFLICT');
        // The winner's child never committed and its claim is fresh: a backup on that parent is refused...
        await writeFile(join(src, 'a.txt'), 'next');
        const error = await incrementalBackup(src, { name: 'src', repository: repo }).catch((e: unknown) => e);
        expect((error as BackupError).code).toBe('ECONFLICT');
        expect((error as BackupError).message).toContain(ids[2]);
        expect((await listBackups('src', { repository: repo })).map((b) => b.id)).toEqual(ids);
        // ...until the claim is older than a run can be.
        const claimKey = `src/claims/${ids[2]}.json`;
        const claim = JSON.parse(Buffer.from(await bytesOf(storage, claimKey)).toString('utf8')) as { createdAt: string };
        claim.createdAt = new Date(Date.now() - 3_600_000).toISOString();
        await storage.save(claimKey, new TextEncoder().encode(JSON.stringify(claim)));
        const next = await incrementalBackup(src, { name: 'src', repository: repo });
        expect(next.parent).toBe(ids[2]);
      }));

    it('refuses a location without a repository (ENOREPO), a second init (EEXIST) and a newer format (EFORMAT)', () =>
      withTempDir(async (tmp) => {
        const storage = await make();
        await expect(openRepository(storage, { cacheDir: tmp.path })).rejects.toMatchObject({ code: 'ENOREPO' });
        await initRepository(storage, { cacheDir: tmp.path });
        await expect(initRepository(storage, { cacheDir: tmp.path })).rejects.toMatchObject({ code: 'EEXIST' });
        await storage.save('.ibt/config.json', new TextEncoder().encode(JSON.stringify({ format: 'ibt-repository', version: 99, id: '0'.repeat(32), createdAt: new Date().toISOString() })));
        const e = await openRepository(storage, { cacheDir: tmp.path }).catch((x: unknown) => x);
        expect((e as BackupError).code).toBe('EFORMAT');
        expect((e as BackupError).message).toContain(storage.location);
      }));

    if (options.cold) it('keeps data archives in GLACIER: a restore thaws exactly what its point needs, stops with ETHAWING, and goes on when called again', () =>
      withTempDir(async (tmp) => {
        const storage = await make();
        const { ids, snaps } = await backUpChain(tmp, storage, { storageClass: 'GLACIER' });
        for (const k of await keys(storage, 'src/')) {
          const st = await storage.stat(k);
          expect(st.availability ?? 'ready', k).toBe(/\.(files|deltas)\./.test(k) ? 'archived' : 'ready');
        }
        const fresh = await openRepository(storage, { cacheDir: tmp.file('cache-2') });
        const error = await restoreBackup('src', tmp.file('out'), { repository: fresh, at: ids[0] }).catch((e: unknown) => e);
        expect((error as BackupError).code).toBe('ETHAWING');
        // Only the full's files archive was asked for: the deltas of later points stay cold.
        const thawed = [];
        for (const k of await keys(storage, 'src/')) if ((await storage.stat(k)).availability !== 'archived' && /\.(files|deltas)\./.test(k)) thawed.push(k);
        expect(thawed).toEqual([expect.stringContaining(`${ids[0]}.files.`)]);
        const r = await restoreBackup('src', tmp.file('out'), { repository: fresh, at: ids[0], overwrite: true });
        expectSameTree(await snapshot(tmp.file('out')), snaps[0]!);
        expect(r.stats.bytesThawed).toBe(0);
        const waited = await restoreBackup('src', tmp.file('out-2'), { repository: fresh, thaw: { wait: true, pollMs: 50 } });
        expectSameTree(await snapshot(tmp.file('out-2')), snaps[2]!);
        expect(waited.stats.bytesThawed).toBeGreaterThan(0);
      }));
  });
}
