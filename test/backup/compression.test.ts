/**
 * Every codec of the registry end to end: a full backup, an incremental with deltas, and a
 * restore of each point, for none, gzip and zstd; zstd as the default where zstd-napi loads;
 * a chain whose older backups are gzip (as every release before zstd wrote them) going on in
 * zstd; a damaged zstd archive blamed by name; and the CLI's `--compression`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fullBackup, incrementalBackup, restoreBackup, type BackupError, type BackupReport, type Compression } from '../../src/index.js';
import { readStateFile } from '../../src/state/index.js';
import { logText, Prng } from '../helpers/data.js';
import { useTempDir } from '../helpers/tools.js';
import { requireZstdBinding } from '../helpers/zstd.js';
import { expectSameTree, snapshot, type Snap } from './helpers.js';

const SUFFIX: Record<Compression, string> = { none: '.tar', gzip: '.tar.gz', zstd: '.tar.zst' };

/** A tree with text, random data, small files and a symlink; `step` 1 edits, adds and deletes. */
async function makeTree(src: string, step: 0 | 1): Promise<void> {
  const rng = new Prng(31 + step);
  if (step === 0) {
    await mkdir(join(src, 'docs/deep'), { recursive: true });
    await writeFile(join(src, 'docs/big.log'), logText(32, 700_000));
    await writeFile(join(src, 'photo.jpg'), rng.bytes(1_500_000));
    for (let i = 0; i < 40; i++) await writeFile(join(src, 'docs/deep', `note-${i}.txt`), logText(i, 200 + i * 97));
    await writeFile(join(src, 'gone.txt'), 'deleted by the incremental\n');
    return;
  }
  const big = Buffer.from(await readFile(join(src, 'docs/big.log')));
  big.set(logText(99, 5000), 300_000);
  await writeFile(join(src, 'docs/big.log'), Buffer.concat([big, logText(98, 20_000)]));
  await writeFile(join(src, 'docs/deep/new.txt'), 'added by the incremental\n');
  await rm(join(src, 'gone.txt'));
}

async function backupAndRestore(
  tmp: { file(name: string): string },
  label: string,
  options: [{ compression?: Compression }, { compression?: Compression }],
): Promise<{ reports: BackupReport[]; snaps: Map<string, Snap>[]; work: string; src: string }> {
  const src = tmp.file(`${label}/src`);
  const work = tmp.file(`${label}/work`);
  const reports: BackupReport[] = [];
  const snaps: Map<string, Snap>[] = [];
  for (const step of [0, 1] as const) {
    await makeTree(src, step);
    snaps.push(await snapshot(src));
    reports.push(await (step === 0 ? fullBackup : incrementalBackup)(src, { workDir: work, ...options[step] }));
  }
  for (const [i, r] of reports.entries()) {
    const out = tmp.file(`${label}/out-${i}`);
    await restoreBackup(basename(src), out, { workDir: work, at: r.id });
    expectSameTree(await snapshot(out), snaps[i]!, `${label}, point ${i}`);
  }
  return { reports, snaps, work, src };
}

async function compressionsOf(report: BackupReport): Promise<{ state: Compression; archives: string[] }> {
  const statePath = report.files.find((f) => f.role === 'state')!.path;
  const { state } = await readStateFile(statePath, { id: report.id, name: report.name });
  const link = state.chain.at(-1)!;
  return { state: state.compression, archives: link.artifacts.map((a) => `${a.role}:${a.compression}:${a.file.slice(report.id.length)}`) };
}

const zstd = requireZstdBinding();

describe('backups with each codec', () => {
  const tmp = useTempDir();
  const codecs: Compression[] = zstd.skip ? ['none', 'gzip'] : ['none', 'gzip', 'zstd'];

  for (const compression of codecs) {
    it(`${compression}: full and incremental (with a delta) restore exactly, archives named and recorded by the codec`, async () => {
      const { reports } = await backupAndRestore(tmp, compression, [{ compression }, { compression }]);
      const [full, inc] = reports;
      expect(await compressionsOf(full!)).toEqual({
        state: compression,
        archives: ['sigvault:none:.sigvault.tar', `files:${compression}:.files${SUFFIX[compression]}`],
      });
      expect((await compressionsOf(inc!)).archives).toContain(`deltas:${compression}:.deltas${SUFFIX[compression]}`);
      expect(inc!.stats.storedDelta).toBeGreaterThan(0);
    });
  }

  describe.skipIf(zstd.skip)(`zstd${zstd.note}`, () => {
    it('is the default where zstd-napi loads', async () => {
      const { reports } = await backupAndRestore(tmp, 'default', [{}, {}]);
      for (const r of reports) expect((await compressionsOf(r)).state).toBe('zstd');
      expect(reports[0]!.files.map((f) => basename(f.path).slice(reports[0]!.id.length))).toContain('.files.tar.zst');
    });

    it('a chain of gzip backups goes on in zstd, and every point restores', async () => {
      const { reports } = await backupAndRestore(tmp, 'mixed', [{ compression: 'gzip' }, {}]);
      expect((await compressionsOf(reports[0]!)).state).toBe('gzip');
      expect((await compressionsOf(reports[1]!)).state).toBe('zstd');
    });

    it('is smaller than gzip on the same tree', async () => {
      const sizes: Record<string, number> = {};
      for (const compression of ['gzip', 'zstd'] as const) {
        const src = tmp.file(`size-${compression}/src`);
        await makeTree(src, 0);
        const r = await fullBackup(src, { workDir: tmp.file(`size-${compression}/work`), compression });
        sizes[compression] = r.files.find((f) => f.role === 'files')!.size;
      }
      expect(sizes.zstd).toBeLessThan(sizes.gzip!);
    });

    describe('a damaged zstd archive', () => {
      let chain: Awaited<ReturnType<typeof backupAndRestore>>;
      beforeAll(async () => {
        chain = await backupAndRestore(tmp, 'damaged', [{ compression: 'zstd' }, { compression: 'zstd' }]);
      });

      for (const role of ['files', 'deltas'] as const) {
        it(`a byte flipped in the ${role} archive is ECORRUPT or ETRUNCATED naming it, and no restore succeeds`, async () => {
          const archive = chain.reports.map((r) => r.files.find((f) => f.role === role)).find((f) => f !== undefined)!.path;
          const size = (await stat(archive)).size;
          for (const [i, at] of [0.1, 0.5, 0.9].map((f) => Math.floor(f * size)).entries()) {
            const copy = tmp.file(`damaged/copy-${role}-${i}`);
            await cp(chain.work, copy, { recursive: true });
            const damaged = join(copy, 'src', basename(archive));
            const bytes = await readFile(damaged);
            bytes[at] ^= 0x10;
            await writeFile(damaged, bytes);
            const err = (await restoreBackup('src', tmp.file(`damaged/out-${role}-${i}`), { workDir: copy }).then(
              () => undefined,
              (e: unknown) => e,
            )) as BackupError | undefined;
            expect(err, `flip at ${at}`).toBeDefined();
            expect(['ECORRUPT', 'ETRUNCATED'], `${err!.code}: ${err!.message}`).toContain(err!.code);
            expect(err!.path).toBe(damaged);
          }
        });
      }
    });
  });
});

const CLI = resolve('dist/cli/main.js');
const built = existsSync(CLI);

describe.skipIf(!built || zstd.skip)(`ibt backup --compression${built ? '' : ' (skipped: run npm run build first)'}${zstd.note}`, () => {
  const tmp = useTempDir();
  const ibt = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

  it('takes zstd, and refuses a name the registry lacks with EPARAM listing the names', async () => {
    await makeTree(tmp.file('cli'), 0);
    const ok = ibt('backup', tmp.file('cli'), '--work-dir', tmp.file('w'), '--compression', 'zstd', '--json');
    expect(ok.status, ok.stderr).toBe(0);
    expect((JSON.parse(ok.stdout) as BackupReport).files.some((f) => f.path.endsWith('.files.tar.zst'))).toBe(true);
    const bad = ibt('backup', tmp.file('cli'), '--work-dir', tmp.file('w'), '--compression', 'lz4');
    expect(bad.status).toBe(108);
    expect(bad.stderr).toBe('ibt: EPARAM: compression must be none, gzip or zstd, not "lz4"\n');
  });
});
