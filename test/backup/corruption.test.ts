/**
 * Damaged artifacts: a flipped byte in, or a truncation of, each kind of artifact makes a
 * restore (or, for a SigVault, the next incremental) fail with a typed error that names the
 * artifact, and never leaves a wrong file in the target.
 */
import { cp, mkdir, open, readFile, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fullBackup, incrementalBackup, restoreBackup, type BackupError, type BackupReport } from '../../src/index.js';
import { Prng } from '../helpers/data.js';
import { useTempDir } from '../helpers/tools.js';
import { expectSameTree, snapshot, type Snap } from './helpers.js';
import { zstdBinding } from '../helpers/zstd.js';
import type { Compression } from '../../src/archive/index.js';

type Damage = 'flip' | 'truncate';

async function damage(path: string, how: Damage, at: number): Promise<void> {
  const size = (await stat(path)).size;
  if (how === 'truncate') {
    await truncate(path, Math.floor(size * at));
    return;
  }
  const fh = await open(path, 'r+');
  const pos = Math.min(size - 1, Math.floor(size * at));
  const b = Buffer.alloc(1);
  await fh.read(b, 0, 1, pos);
  b[0] ^= 0x5a;
  await fh.write(b, 0, 1, pos);
  await fh.close();
}

/** Every regular file left in `target` matches the expected tree; no temporary file is left. */
async function noWrongFile(target: string, expected: Map<string, Snap>): Promise<void> {
  const got = await snapshot(target).catch(() => new Map<string, Snap>());
  for (const [p, s] of got) {
    expect(p, 'temporary file left behind').not.toMatch(/\.tmp$/);
    if (s.type === 'file') expect({ p, sha: s.sha }).toEqual({ p, sha: expected.get(p)?.sha });
  }
}

for (const compression of ['gzip', 'none', ...(zstdBinding ? ['zstd'] : [])] as Compression[]) {
  describe(`damaged artifacts (${compression})`, () => {
    const tmp = useTempDir();
    let full: BackupReport;
    let inc: BackupReport;
    let expected: Map<string, Snap>;
    const work = (): string => tmp.file('work');

    beforeAll(async () => {
      const src = tmp.file('src');
      await mkdir(join(src, 'dir'), { recursive: true });
      const rng = new Prng(42);
      await writeFile(join(src, 'big.bin'), rng.bytes(120_000));
      await writeFile(join(src, 'dir/small.txt'), 'small file\n');
      await writeFile(join(src, 'other.bin'), rng.bytes(30_000));
      full = await fullBackup(src, { workDir: work(), compression });
      const big = await readFile(join(src, 'big.bin'));
      big.set(rng.bytes(50), 60_000);
      await writeFile(join(src, 'big.bin'), big);
      await utimes(join(src, 'big.bin'), 1_800_000_000, 1_800_000_000);
      await writeFile(join(src, 'dir/new.txt'), 'created later\n');
      inc = await incrementalBackup(src, { workDir: work(), compression });
      expect(inc.files.map((f) => f.role)).toEqual(['sigvault', 'files', 'deltas', 'state']);
      expected = await snapshot(src);
    });

    const cases: [string, () => BackupReport, string][] = [
      ['files archive of the full backup', () => full, 'files'],
      ['files archive of the incremental', () => inc, 'files'],
      ['deltas archive', () => inc, 'deltas'],
      ['state of the full backup', () => full, 'state'],
      ['state of the incremental', () => inc, 'state'],
    ];
    let n = 0;
    for (const [label, report, role] of cases) {
      for (const how of ['flip', 'truncate'] as const) {
        for (const at of [0.02, 0.5, 0.97]) {
          it(`${how} at ${at * 100}% of the ${label}: restore fails naming it`, async () => {
            const copy = tmp.file(`copy-${n++}`);
            await cp(work(), copy, { recursive: true });
            const artifact = report().files.find((f) => f.role === role)!;
            const damaged = join(copy, 'src', basename(artifact.path));
            await damage(damaged, how, at);
            const target = tmp.file(`out-${n}`);
            const err = (await restoreBackup('src', target, { workDir: copy }).then(
              () => undefined,
              (e: unknown) => e,
            )) as BackupError | undefined;
            if (role === 'state' && report() === full) {
              // The latest backup does not need the full's state: restoring it still works.
              expect(err).toBeUndefined();
              await noWrongFile(target, expected);
              return;
            }
            expect(err, 'restore should fail').toBeDefined();
            expect(['ECORRUPT', 'ETRUNCATED', 'EHASH']).toContain(err!.code);
            expect(`${err!.message} ${err!.path}`).toContain(basename(artifact.path));
            await noWrongFile(target, expected);
          });
        }
      }
    }

    it('a missing artifact is EMISSING naming it', async () => {
      const copy = tmp.file('copy-missing');
      await cp(work(), copy, { recursive: true });
      const deltas = inc.files.find((f) => f.role === 'deltas')!;
      const { rm } = await import('node:fs/promises');
      await rm(join(copy, 'src', basename(deltas.path)));
      const err = (await restoreBackup('src', tmp.file('out-missing'), { workDir: copy }).catch((e: unknown) => e)) as BackupError;
      expect(err.code).toBe('EMISSING');
      expect(err.message).toContain(basename(deltas.path));
    });

    it('one damaged SigVault no longer blocks every later incremental: its files are stored whole, with a warning naming it', async () => {
      const copy = tmp.file('copy-vault');
      await cp(work(), copy, { recursive: true });
      const vault = inc.files.find((f) => f.role === 'sigvault')!;
      await damage(join(copy, 'src', basename(vault.path)), 'flip', 0.5);
      const big = join(tmp.file('src'), 'big.bin');
      const data = await readFile(big);
      data[10] ^= 1;
      await writeFile(big, data);
      await utimes(big, 1_900_000_000, 1_900_000_000);
      const next = await incrementalBackup(tmp.file('src'), { workDir: copy, compression });
      const warning = next.warnings.find((w) => w.path === 'big.bin');
      expect(warning?.code).toBe('ECORRUPT');
      expect(warning?.message).toContain(basename(vault.path));
      expect(next.stats.storedWhole).toBe(1);
      expect(next.stats.storedDelta).toBe(0);
      await restoreBackup('src', tmp.file('out-vault'), { workDir: copy });
      expectSameTree(await snapshot(tmp.file('out-vault')), await snapshot(tmp.file('src')));
      // The chain goes on from there: the file's new signature lives in the new backup's vault.
      data[20] ^= 1;
      await writeFile(big, data);
      await utimes(big, 1_900_000_100, 1_900_000_100);
      const after = await incrementalBackup(tmp.file('src'), { workDir: copy, compression });
      expect(after.warnings).toEqual([]);
      expect(after.stats.storedDelta).toBe(1);
    });
  });
}
