/**
 * Hostile archives and hostile targets, each test named after the attack it stops. The
 * attacker controls the whole backup (state and archives, digest included), so these forge a
 * consistent one. A state that names an unsafe path is refused when it is read (ECORRUPT
 * naming the field), before anything is written. Another local user may also plant symlinks
 * in the target before the restore, or swap its directories for symlinks while it runs (the
 * standing campaign of that is test/restore/race.test.ts). Nothing may land outside the
 * target, and nothing outside may change.
 */
import { renameSync, symlinkSync } from 'node:fs';
import { mkdir, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TarWriter } from '../../src/archive/index.js';
import { fullBackup, restoreBackup, type BackupError } from '../../src/index.js';
import { readStateFile, type StateEntry } from '../../src/state/index.js';
import { seal } from '../helpers/seal.js';
import { withTempDir, type TempDir } from '../helpers/tools.js';

interface Forged {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  data?: string;
  target?: string;
}

/** A backup named `src` in `tmp/work` whose only backup holds exactly `entries`. */
async function forge(tmp: TempDir, entries: Forged[], tarNames: (path: string) => string = (p) => p): Promise<string> {
  const work = tmp.file('work');
  await mkdir(tmp.file('src'), { recursive: true });
  const report = await fullBackup(tmp.file('src'), { workDir: work, compression: 'none' });
  const statePath = report.files.find((f) => f.role === 'state')!.path;
  const { state } = await readStateFile(statePath, { id: report.id, name: 'src' });
  const file = `${report.id}.files.tar`;
  const tar = TarWriter.create(join(work, 'src', file));
  const records: StateEntry[] = [];
  for (const e of entries) {
    const base = { path: e.path, mode: e.type === 'dir' ? 0o755 : 0o644, uid: 0, gid: 0, mtime: '1700000000000000000', size: 0 as const };
    if (e.type === 'file') {
      const bytes = Buffer.from(e.data ?? 'pwned');
      await tar.add({ name: tarNames(e.path), type: 'file', mode: 0o644, mtime: base.mtime, size: bytes.length }, [bytes] as unknown as AsyncIterable<Uint8Array>);
      const { hashChunks } = await import('../../src/tree/index.js');
      records.push({ ...base, type: 'file', size: bytes.length, ctime: base.mtime, ino: '1', hash: await hashChunks([bytes]), content: [report.id] });
    } else records.push(e.type === 'symlink' ? { ...base, type: 'symlink', target: e.target! } : { ...base, type: 'dir' });
  }
  const summary = await tar.finish();
  state.entries = records;
  state.chain[0]!.artifacts = [{ role: 'files', file, ...summary, compression: 'none', entries: entries.length }];
  await writeFile(statePath, await seal(state));
  return work;
}

async function refused(work: string, target: string): Promise<BackupError> {
  const err = (await restoreBackup('src', target, { workDir: work }).catch((e: unknown) => e)) as BackupError;
  expect(err?.code).toBe('ECORRUPT');
  expect(err.message).toMatch(/state \S+\.state\.json\.gz is invalid: entries\[\d+\]/);
  return err;
}

describe('malicious archives', () => {
  it('path traversal: an entry named ../escaped is refused', () =>
    withTempDir(async (tmp) => {
      const work = await forge(tmp, [{ path: '../escaped', type: 'file' }]);
      await mkdir(tmp.file('out'));
      await refused(work, tmp.file('out/target'));
      expect(await readdir(tmp.file('out'))).not.toContain('escaped');
    }));

  it('path traversal: a .. in the middle of a path is refused', () =>
    withTempDir(async (tmp) => {
      const work = await forge(tmp, [{ path: 'a', type: 'dir' }, { path: 'a/../../escaped', type: 'file' }]);
      await mkdir(tmp.file('out'));
      await refused(work, tmp.file('out/target'));
      expect(await readdir(tmp.file('out'))).not.toContain('escaped');
      expect(await readdir(tmp.path)).not.toContain('escaped');
    }));

  it('absolute path: an entry named /tmp/... is refused', () =>
    withTempDir(async (tmp) => {
      const victim = tmp.file('victim');
      const work = await forge(tmp, [{ path: victim, type: 'file' }]);
      await refused(work, tmp.file('out'));
      await expect(readFile(victim)).rejects.toThrow();
    }));

  it('symlink then write: a symlink to the outside, then a file through it, is refused', () =>
    withTempDir(async (tmp) => {
      const outside = tmp.file('outside');
      await mkdir(outside);
      const work = await forge(tmp, [
        { path: 'link', type: 'symlink', target: outside },
        { path: 'link/pwned', type: 'file' },
      ]);
      await refused(work, tmp.file('out'));
      expect(await readdir(outside)).toEqual([]);
    }));

  it('symlink then write: a symlink already in the target is replaced, never followed', () =>
    withTempDir(async (tmp) => {
      const outside = tmp.file('outside');
      await mkdir(outside);
      const work = await forge(tmp, [
        { path: 'd', type: 'dir' },
        { path: 'd/f', type: 'file', data: 'inside' },
      ]);
      await mkdir(tmp.file('out'));
      await symlink(outside, tmp.file('out/d'));
      await restoreBackup('src', tmp.file('out'), { workDir: work, overwrite: true });
      expect(await readdir(outside)).toEqual([]);
      expect(await readFile(tmp.file('out/d/f'), 'utf8')).toBe('inside');
    }));

  it('archive entries the state does not name are never extracted', () =>
    withTempDir(async (tmp) => {
      const work = await forge(tmp, [{ path: 'ok', type: 'file', data: 'fine' }], () => '../../smuggled');
      const err = (await restoreBackup('src', tmp.file('out/t'), { workDir: work }).catch((e: unknown) => e)) as BackupError;
      expect(err.code).toBe('ECORRUPT');
      expect(await readdir(tmp.file('out'))).toEqual(['t']);
      expect(await readdir(tmp.file('out/t'))).toEqual([]);
    }));
  it('symlink planted in the target: a link where a nested directory goes is replaced, never followed', () =>
    withTempDir(async (tmp) => {
      const outside = tmp.file('outside');
      await mkdir(outside);
      const work = await forge(tmp, [
        { path: 'd', type: 'dir' },
        { path: 'd/e', type: 'dir' },
        { path: 'd/e/f', type: 'file', data: 'inside' },
      ]);
      await mkdir(tmp.file('out/d'), { recursive: true });
      await symlink(outside, tmp.file('out/d/e'));
      await restoreBackup('src', tmp.file('out'), { workDir: work, overwrite: true });
      expect(await readdir(outside)).toEqual([]);
      expect(await readFile(tmp.file('out/d/e/f'), 'utf8')).toBe('inside');
    }));

  it('symlink planted in the target: a link where a file goes, to a file outside, is replaced and the outside file is untouched', () =>
    withTempDir(async (tmp) => {
      const victim = tmp.file('victim');
      await writeFile(victim, 'precious');
      const work = await forge(tmp, [{ path: 'f', type: 'file', data: 'restored' }]);
      await mkdir(tmp.file('out'));
      await symlink(victim, tmp.file('out/f'));
      await restoreBackup('src', tmp.file('out'), { workDir: work, overwrite: true });
      expect(await readFile(victim, 'utf8')).toBe('precious');
      expect(await readFile(tmp.file('out/f'), 'utf8')).toBe('restored');
    }));

  it('symlink planted in the target without overwrite: the target is not empty, nothing is written', () =>
    withTempDir(async (tmp) => {
      const outside = tmp.file('outside');
      await mkdir(outside);
      const work = await forge(tmp, [
        { path: 'd', type: 'dir' },
        { path: 'd/f', type: 'file' },
      ]);
      await mkdir(tmp.file('out'));
      await symlink(outside, tmp.file('out/d'));
      const err = (await restoreBackup('src', tmp.file('out'), { workDir: work }).catch((e: unknown) => e)) as BackupError;
      expect(err.code).toBe('ENOTEMPTY');
      expect(await readdir(outside)).toEqual([]);
      expect(await readlink(tmp.file('out/d'))).toBe(outside);
    }));

  it('race: a directory swapped for a symlink to the outside while the restore runs is EUNSAFEPATH, never followed', () =>
    withTempDir(async (tmp) => {
      const outside = tmp.file('outside');
      await mkdir(outside);
      const entries: Forged[] = [{ path: 'a', type: 'file', data: 'first' }, { path: 'd', type: 'dir' }];
      for (let i = 0; i < 20; i++) entries.push({ path: `d/f${String(i).padStart(2, '0')}`, type: 'file' });
      const work = await forge(tmp, entries);
      const out = tmp.file('out');
      let swapped = false;
      const err = (await restoreBackup('src', out, {
        workDir: work,
        onProgress: () => {
          // After the first file: the moment another local user's swap would make a restore by path follow it.
          if (swapped) return;
          swapped = true;
          renameSync(`${out}/d`, `${out}/d.real`);
          symlinkSync(outside, `${out}/d`);
        },
      }).catch((e: unknown) => e)) as BackupError;
      expect(swapped).toBe(true);
      expect(err.code).toBe('EUNSAFEPATH');
      expect(await readdir(outside)).toEqual([]);
    }));
});
