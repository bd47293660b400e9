/**
 * Behaviour of the backup API: errors users act on, ids, listing, selection, checksum mode,
 * whole-versus-delta storage, odd names, aborts and leftovers of interrupted backups.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, open, readdir, readFile, rename, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fullBackup, incrementalBackup, listBackups, nativeAvailable, restoreBackup, type BackupError } from '../../src/index.js';
import { Prng } from '../helpers/data.js';
import { withTempDir } from '../helpers/tools.js';
import { expectSameTree, snapshot } from './helpers.js';

async function rejectsWith(p: Promise<unknown>, code: string): Promise<BackupError> {
  const e = (await p.then(
    () => undefined,
    (err: unknown) => err,
  )) as BackupError | undefined;
  expect(e, `expected ${code}`).toBeDefined();
  expect(e!.code).toBe(code);
  return e!;
}

describe('backup errors', () => {
  it('ESOURCE for a missing source and for a file', () =>
    withTempDir(async (tmp) => {
      await rejectsWith(fullBackup(join(tmp.path, 'nope'), { workDir: tmp.path }), 'ESOURCE');
      await writeFile(tmp.file('f'), 'x');
      await rejectsWith(incrementalBackup(tmp.file('f'), { workDir: tmp.path }), 'ESOURCE');
    }));

  it('ENOTFOUND for an unknown name, an unknown id and a time before the first backup', () =>
    withTempDir(async (tmp) => {
      await rejectsWith(restoreBackup('nothing', tmp.file('out'), { workDir: tmp.path }), 'ENOTFOUND');
      await mkdir(tmp.file('src'));
      const r = await fullBackup(tmp.file('src'), { workDir: tmp.file('w') });
      await rejectsWith(restoreBackup('src', tmp.file('o1'), { workDir: tmp.file('w'), at: '20000101T000000000Z-000' }), 'ENOTFOUND');
      await rejectsWith(restoreBackup('src', tmp.file('o2'), { workDir: tmp.file('w'), at: new Date(r.createdAt.getTime() - 1) }), 'ENOTFOUND');
      expect(await listBackups('nothing', { workDir: tmp.path })).toEqual([]);
    }));

  it('ENOTEMPTY for a non-empty target unless overwrite is set', () =>
    withTempDir(async (tmp) => {
      await mkdir(tmp.file('src'));
      await writeFile(tmp.file('src/a'), 'new');
      await fullBackup(tmp.file('src'), { workDir: tmp.file('w') });
      await mkdir(tmp.file('out'));
      await writeFile(tmp.file('out/a'), 'old');
      await writeFile(tmp.file('out/other'), 'kept');
      await rejectsWith(restoreBackup('src', tmp.file('out'), { workDir: tmp.file('w') }), 'ENOTEMPTY');
      await restoreBackup('src', tmp.file('out'), { workDir: tmp.file('w'), overwrite: true });
      expect(await readFile(tmp.file('out/a'), 'utf8')).toBe('new');
      expect(await readFile(tmp.file('out/other'), 'utf8')).toBe('kept');
    }));

  it('EABORTED leaves no new backup and earlier ones intact', () =>
    withTempDir(async (tmp) => {
      await mkdir(tmp.file('src'));
      await writeFile(tmp.file('src/a'), 'one');
      const w = tmp.file('w');
      await fullBackup(tmp.file('src'), { workDir: w });
      await writeFile(tmp.file('src/b'), new Prng(1).bytes(100_000));
      const ac = new AbortController();
      ac.abort();
      await rejectsWith(incrementalBackup(tmp.file('src'), { workDir: w, signal: ac.signal }), 'EABORTED');
      expect((await listBackups('src', { workDir: w })).length).toBe(1);
      expect((await readdir(join(w, 'src'))).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    }));
});

describe('chains and ids', () => {
  it('an incremental with no earlier backup is a full one; ids sort and stay unique within a millisecond', () =>
    withTempDir(async (tmp) => {
      await mkdir(tmp.file('src'));
      const w = tmp.file('w');
      const first = await incrementalBackup(tmp.file('src'), { workDir: w });
      expect(first.kind).toBe('full');
      expect(first.parent).toBeUndefined();
      const ids = [first.id];
      for (let i = 0; i < 5; i++) ids.push((await incrementalBackup(tmp.file('src'), { workDir: w })).id);
      expect(new Set(ids).size).toBe(ids.length);
      expect([...ids].sort()).toEqual(ids);
      const list = await listBackups('src', { workDir: w });
      expect(list.map((b) => b.id)).toEqual(ids);
      expect(list[1]!.parent).toBe(ids[0]);
      expect(list.map((b) => b.kind)).toEqual(['full', 'incremental', 'incremental', 'incremental', 'incremental', 'incremental']);
    }));

  it('the report lists exactly the artifacts written, the state last, and empty archives are absent', () =>
    withTempDir(async (tmp) => {
      await mkdir(tmp.file('src'));
      await writeFile(tmp.file('src/big'), new Prng(2).bytes(200_000));
      const w = tmp.file('w');
      const full = await fullBackup(tmp.file('src'), { workDir: w });
      expect(full.files.map((f) => f.role)).toEqual(['sigvault', 'files', 'state']);
      for (const f of full.files) expect((await stat(f.path)).size).toBe(f.size);
      const same = await incrementalBackup(tmp.file('src'), { workDir: w });
      expect(same.files.map((f) => f.role)).toEqual(['state']);
      const fh = await open(tmp.file('src/big'), 'r+');
      await fh.write(Buffer.from('edit'), 0, 4, 1000);
      await fh.close();
      await utimes(tmp.file('src/big'), 1_800_000_000, 1_800_000_000);
      const inc = await incrementalBackup(tmp.file('src'), { workDir: w });
      expect(inc.files.map((f) => f.role)).toEqual(['sigvault', 'deltas', 'state']);
      expect(inc.stats.storedDelta).toBe(1);
      expect(inc.files.find((f) => f.role === 'deltas')!.size).toBeLessThan(5000);
      const all = (await readdir(join(w, 'src'))).filter((f) => f !== 'locks').sort();
      expect(all).toEqual([...full.files, ...same.files, ...inc.files].map((f) => f.path.slice(join(w, 'src').length + 1)).sort());
    }));

  it('restores the state as of a Date: the last backup at or before it', () =>
    withTempDir(async (tmp) => {
      await mkdir(tmp.file('src'));
      const w = tmp.file('w');
      await writeFile(tmp.file('src/v'), 'one');
      const a = await fullBackup(tmp.file('src'), { workDir: w });
      await writeFile(tmp.file('src/v'), 'two!');
      const b = await incrementalBackup(tmp.file('src'), { workDir: w });
      await restoreBackup('src', tmp.file('o1'), { workDir: w, at: new Date(b.createdAt.getTime() - 1) });
      expect(await readFile(tmp.file('o1/v'), 'utf8')).toBe('one');
      await restoreBackup('src', tmp.file('o2'), { workDir: w, at: new Date(b.createdAt.getTime() + 60_000) });
      expect(await readFile(tmp.file('o2/v'), 'utf8')).toBe('two!');
      expect(a.id < b.id).toBe(true);
    }));

  it('a rewritten file whose delta would be nearly its size is stored whole', () =>
    withTempDir(async (tmp) => {
      await mkdir(tmp.file('src'));
      const w = tmp.file('w');
      await writeFile(tmp.file('src/f'), new Prng(3).bytes(100_000));
      await fullBackup(tmp.file('src'), { workDir: w });
      await writeFile(tmp.file('src/f'), new Prng(4).bytes(100_000));
      await utimes(tmp.file('src/f'), 1_800_000_000, 1_800_000_000);
      const inc = await incrementalBackup(tmp.file('src'), { workDir: w });
      expect(inc.stats.storedWhole).toBe(1);
      expect(inc.stats.storedDelta).toBe(0);
      await restoreBackup('src', tmp.file('out'), { workDir: w });
      expectSameTree(await snapshot(tmp.file('out')), await snapshot(tmp.file('src')));
    }));

  it('restoring the tenth incremental extracts each file once and replays only the changed file\'s deltas, with either engine', () =>
    withTempDir(async (tmp) => {
      await mkdir(tmp.file('src'));
      const w = tmp.file('w');
      const rng = new Prng(11);
      for (let i = 0; i < 20; i++) await writeFile(tmp.file(`src/f${i}`), rng.bytes(20_000));
      const data = rng.bytes(100_000);
      await writeFile(tmp.file('src/hot'), data);
      await fullBackup(tmp.file('src'), { workDir: w });
      for (let round = 1; round <= 10; round++) {
        data.set(rng.bytes(30), round * 7000);
        await writeFile(tmp.file('src/hot'), data);
        await utimes(tmp.file('src/hot'), 1_800_000_000 + round, 1_800_000_000 + round);
        expect((await incrementalBackup(tmp.file('src'), { workDir: w })).stats.storedDelta).toBe(1);
      }
      const engines = nativeAvailable() ? (['js', 'native'] as const) : (['js'] as const);
      for (const engine of engines) {
        const r = await restoreBackup('src', tmp.file(`out-${engine}`), { workDir: w, engine });
        expect(r.stats.files).toBe(21);
        expect(r.stats.deltasApplied).toBe(10);
        expect(r.stats.bytesWritten).toBe(20 * 20_000 + 100_000);
        expectSameTree(await snapshot(tmp.file(`out-${engine}`)), await snapshot(tmp.file('src')));
      }
    }));

  it('stray temporary files of dead runs and uncommitted artifacts are removed by the next backup; a live writer\'s temporary file is left alone', () =>
    withTempDir(async (tmp) => {
      await mkdir(tmp.file('src'));
      const w = tmp.file('w');
      await fullBackup(tmp.file('src'), { workDir: w });
      const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
      const deadPid = Number(dead.stdout);
      await writeFile(join(w, 'src', `.20991231T000000000Z-000.files.tar.gz.${deadPid}-0123456789ab.tmp`), 'junk');
      // A restore filling the cache (it takes no lock) writes a temporary file like this one.
      const live = `.20991231T000000000Z-001.state.json.${process.pid}-0123456789ab.tmp`;
      await writeFile(join(w, 'src', live), 'in progress');
      await writeFile(join(w, 'src', '20991231T000000000Z-000.files.tar.gz'), 'orphan');
      // A run killed while saving its lock object leaves its temporary file in the lock folder.
      await mkdir(join(w, 'src', 'locks'), { recursive: true });
      await writeFile(join(w, 'src', 'locks', `.20991231T000000000Z-0123.json.${deadPid}-0123456789ab.tmp`), '{');
      await incrementalBackup(tmp.file('src'), { workDir: w });
      const left = await readdir(join(w, 'src'));
      expect(left.filter((f) => f.includes('2099'))).toEqual([live]);
      expect(await readdir(join(w, 'src', 'locks'))).toEqual([]);
      expect((await listBackups('src', { workDir: w })).length).toBe(2);
    }));
});

describe('change detection', () => {
  it('an edit that puts back the size and mtime (touch -r) is not missed: the inode change time moved', () =>
    withTempDir(async (tmp) => {
      await mkdir(tmp.file('src'));
      const w = tmp.file('w');
      await writeFile(tmp.file('src/small'), 'aaaa');
      await writeFile(tmp.file('src/large'), new Prng(5).bytes(50_000));
      await writeFile(tmp.file('src/replaced'), 'cccc');
      const t = 1_700_000_000;
      for (const f of ['small', 'large', 'replaced']) await utimes(tmp.file(`src/${f}`), t, t);
      await fullBackup(tmp.file('src'), { workDir: w });
      await writeFile(tmp.file('src/small'), 'bbbb');
      const large = await readFile(tmp.file('src/large'));
      large[25_000] ^= 1;
      await writeFile(tmp.file('src/large'), large);
      // Replaced by another file (a new inode) of the same size and mtime, as editors save.
      await writeFile(tmp.file('src/replaced.new'), 'dddd');
      await rename(tmp.file('src/replaced.new'), tmp.file('src/replaced'));
      for (const f of ['small', 'large', 'replaced']) await utimes(tmp.file(`src/${f}`), t, t);
      const quick = await incrementalBackup(tmp.file('src'), { workDir: w });
      expect(quick.stats.modified).toBe(3);
      expect(quick.stats.storedDelta).toBe(1);
      await restoreBackup('src', tmp.file('out'), { workDir: w });
      expectSameTree(await snapshot(tmp.file('out')), await snapshot(tmp.file('src')));
    }));

  it('checksum mode reads every file and stores nothing for files whose content hash is unchanged', () =>
    withTempDir(async (tmp) => {
      await mkdir(tmp.file('src'));
      const w = tmp.file('w');
      await writeFile(tmp.file('src/small'), 'aaaa');
      await writeFile(tmp.file('src/large'), new Prng(5).bytes(50_000));
      await fullBackup(tmp.file('src'), { workDir: w });
      const thorough = await incrementalBackup(tmp.file('src'), { workDir: w, checksum: true });
      expect(thorough.stats.bytesRead).toBe(50_004);
      expect(thorough.stats.modified).toBe(0);
      expect(thorough.files.map((f) => f.role)).toEqual(['state']);
    }));

  it('a file that changes between the walk and its read is stored as it is when read, with the metadata of what was read', () =>
    withTempDir(async (tmp) => {
      await mkdir(tmp.file('src'));
      const w = tmp.file('w');
      const rng = new Prng(12);
      await writeFile(tmp.file('src/b-growing.log'), rng.bytes(50_000));
      await writeFile(tmp.file('src/z-last'), 'z');
      await fullBackup(tmp.file('src'), { workDir: w });
      await writeFile(tmp.file('src/b-growing.log'), rng.bytes(60_000));
      await utimes(tmp.file('src/b-growing.log'), 1_800_000_000, 1_800_000_000);
      const { appendFileSync } = await import('node:fs');
      // Files needing a delta are read after the walk: growing the file when the walk reaches
      // the last entry changes it between its lstat and its read.
      const inc = await incrementalBackup(tmp.file('src'), {
        workDir: w,
        onProgress: (e) => {
          if (e.phase === 'scan' && e.path === 'z-last') appendFileSync(tmp.file('src/b-growing.log'), 'more');
        },
      });
      expect(inc.warnings).toEqual([]);
      await restoreBackup('src', tmp.file('o1'), { workDir: w });
      expectSameTree(await snapshot(tmp.file('o1')), await snapshot(tmp.file('src')));
      expect((await readFile(tmp.file('o1/b-growing.log'))).length).toBe(60_004);
    }));

  it('a touch without a content change stores nothing but the new mtime', () =>
    withTempDir(async (tmp) => {
      await mkdir(tmp.file('src'));
      const w = tmp.file('w');
      await writeFile(tmp.file('src/f'), new Prng(6).bytes(60_000));
      await fullBackup(tmp.file('src'), { workDir: w });
      await utimes(tmp.file('src/f'), 1_800_000_000, 1_800_000_000);
      const inc = await incrementalBackup(tmp.file('src'), { workDir: w });
      expect(inc.files.map((f) => f.role)).toEqual(['state']);
      await restoreBackup('src', tmp.file('out'), { workDir: w });
      expectSameTree(await snapshot(tmp.file('out')), await snapshot(tmp.file('src')));
    }));
});

describe('selection and odd entries', () => {
  it('honours exclude patterns, the .exclude file, include globs, and never backs up its own work dir', () =>
    withTempDir(async (tmp) => {
      const src = tmp.file('src');
      await mkdir(join(src, 'build'), { recursive: true });
      await mkdir(join(src, 'docs/img'), { recursive: true });
      await writeFile(join(src, 'build/out.o'), 'x');
      await writeFile(join(src, 'a.log'), 'x');
      await writeFile(join(src, 'keep.txt'), 'x');
      await writeFile(join(src, 'docs/img/p.png'), 'x');
      await writeFile(join(src, 'docs/readme.md'), 'x');
      await writeFile(join(src, '.exclude'), 'build/\n');
      const r = await fullBackup(src, { workDir: join(src, 'work'), exclude: ['*.log'] });
      await restoreBackup('src', tmp.file('o1'), { workDir: join(src, 'work') });
      expect([...(await snapshot(tmp.file('o1'))).keys()].sort()).toEqual(['.exclude', 'docs', 'docs/img', 'docs/img/p.png', 'docs/readme.md', 'keep.txt']);
      expect(r.stats.scanned).toBe(6);
      await fullBackup(src, { workDir: tmp.file('w2'), include: ['docs/**/*.png'] });
      await restoreBackup('src', tmp.file('o2'), { workDir: tmp.file('w2') });
      expect([...(await snapshot(tmp.file('o2'))).keys()].sort()).toEqual(['docs', 'docs/img', 'docs/img/p.png']);
    }));

  it('round-trips unicode, spaces, newlines, names over 100 bytes, empty dirs and dangling symlinks', () =>
    withTempDir(async (tmp) => {
      const src = tmp.file('src');
      const deep = join(src, 'd'.repeat(90), 'e'.repeat(90));
      await mkdir(deep, { recursive: true });
      await mkdir(join(src, 'empty dir'));
      await writeFile(join(deep, `${'ü'.repeat(60)}.txt`), 'unicode');
      await writeFile(join(src, 'line\nbreak'), 'newline');
      await writeFile(join(src, ' lead and trail '), 'spaces');
      await symlink('/nonexistent/target', join(src, 'dangling'));
      await fullBackup(src, { workDir: tmp.file('w') });
      await restoreBackup('src', tmp.file('out'), { workDir: tmp.file('w') });
      expectSameTree(await snapshot(tmp.file('out')), await snapshot(src));
    }));

  it('skips FIFOs with an ESPECIAL warning, which strict mode turns into ESTRICT', () =>
    withTempDir(async (tmp) => {
      const src = tmp.file('src');
      await mkdir(src);
      await writeFile(join(src, 'a'), 'x');
      const { execFileSync } = await import('node:child_process');
      execFileSync('mkfifo', [join(src, 'pipe')]);
      const r = await fullBackup(src, { workDir: tmp.file('w') });
      expect(r.warnings.map((w) => [w.code, w.path])).toEqual([['ESPECIAL', 'pipe']]);
      await rejectsWith(fullBackup(src, { workDir: tmp.file('w'), strict: true }), 'ESTRICT');
    }));

  it('stores hard links as separate files with an EHARDLINK warning', () =>
    withTempDir(async (tmp) => {
      const src = tmp.file('src');
      await mkdir(src);
      await writeFile(join(src, 'a'), 'shared');
      const { link } = await import('node:fs/promises');
      await link(join(src, 'a'), join(src, 'b'));
      const r = await fullBackup(src, { workDir: tmp.file('w') });
      expect(r.warnings.map((w) => w.code)).toEqual(['EHARDLINK']);
      await restoreBackup('src', tmp.file('out'), { workDir: tmp.file('w') });
      expect(await readFile(tmp.file('out/b'), 'utf8')).toBe('shared');
    }));
});
