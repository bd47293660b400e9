/**
 * Backups are restorable without this library: every archive lists and extracts with GNU
 * tar, every delta applies with the real `rdiff patch`, and SigVault entries are signatures
 * `rdiff delta` accepts. The manual recovery in README.rst ("Manual recovery, without this library") is exactly what this does.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, open, readdir, readFile, rename, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fullBackup, incrementalBackup } from '../../src/index.js';
import { readStateFile } from '../../src/state/index.js';
import { Prng } from '../helpers/data.js';
import { requireTool, withTempDir } from '../helpers/tools.js';
import { zstdBinding } from '../helpers/zstd.js';
import type { Compression } from '../../src/archive/index.js';

const rdiff = requireTool('rdiff');
const tar = requireTool('tar');

async function edit(path: string, at: number, bytes: Uint8Array, time: number): Promise<void> {
  const fh = await open(path, 'r+');
  await fh.write(bytes, 0, bytes.length, at);
  await fh.close();
  await utimes(path, time, time);
}

const LONG = `${'ü'.repeat(40)}/${'name with spaces '.repeat(6)}.bin`;

for (const compression of ['gzip', 'none', ...(zstdBinding ? ['zstd'] : [])] as Compression[]) {
  describe.skipIf(rdiff.skip || tar.skip)(`manual recovery with GNU tar and rdiff (${compression})${rdiff.note}${tar.note}`, () => {
    it('replays a chain by hand to the same files', () =>
      withTempDir(async (tmp) => {
        const src = tmp.file('src');
        const work = tmp.file('work');
        const rng = new Prng(7);
        await mkdir(join(src, LONG.split('/')[0]!), { recursive: true });
        await writeFile(join(src, 'big.bin'), rng.bytes(300_000));
        await writeFile(join(src, LONG), rng.bytes(40_000));
        await writeFile(join(src, 'log.txt'), 'line\n'.repeat(5000));
        const reports = [await fullBackup(src, { workDir: work, compression })];
        for (let round = 1; round <= 2; round++) {
          await edit(join(src, 'big.bin'), 1000 * round * 97, rng.bytes(100), 1_800_000_000 + round);
          await edit(join(src, LONG), 20_000, rng.bytes(10), 1_800_000_000 + round);
          await writeFile(join(src, 'log.txt'), `${await readFile(join(src, 'log.txt'), 'utf8')}${'more\n'.repeat(100)}`);
          await utimes(join(src, 'log.txt'), 1_800_000_000 + round, 1_800_000_000 + round);
          await writeFile(join(src, `new-${round}.txt`), `round ${round}`);
          reports.push(await incrementalBackup(src, { workDir: work, compression }));
        }
        expect(reports[2]!.stats.storedDelta).toBe(3);

        const restored = tmp.file('manual');
        await mkdir(restored);
        for (const report of reports) {
          const archive = (role: string): string | undefined => report.files.find((f) => f.role === role)?.path;
          for (const role of ['sigvault', 'files', 'deltas']) {
            const path = archive(role);
            if (path) expect(execFileSync('tar', ['-tf', path], { encoding: 'utf8' }).length).toBeGreaterThan(0);
          }
          const files = archive('files');
          if (files) execFileSync('tar', ['-xf', files, '-C', restored]);
          const deltas = archive('deltas');
          if (!deltas) continue;
          const ddir = tmp.file(`deltas-${report.id}`);
          await mkdir(ddir);
          execFileSync('tar', ['-xf', deltas, '-C', ddir]);
          const names = execFileSync('tar', ['-tf', deltas], { encoding: 'utf8' }).split('\n').filter(Boolean);
          for (const name of names) {
            execFileSync('rdiff', ['patch', join(restored, name), join(ddir, name), join(restored, `${name}.new`)]);
            await rename(join(restored, `${name}.new`), join(restored, name));
          }
        }
        // The signatures of the last incremental, made in the delta pass (matched records copied),
        // are byte for byte what rdiff computes from the files with the same parameters.
        const sigs = tmp.file('sigs');
        await mkdir(sigs);
        const vault = reports[2]!.files.find((f) => f.role === 'sigvault')!.path;
        execFileSync('tar', ['-xf', vault, '-C', sigs]);
        const sigNames = execFileSync('tar', ['-tf', vault], { encoding: 'utf8' }).split('\n').filter(Boolean);
        expect(sigNames.sort()).toEqual(['big.bin', 'log.txt', LONG].sort());
        for (const name of sigNames) {
          const ours = await readFile(join(sigs, name));
          const args = ['signature', '-b', String(ours.readUInt32BE(4)), '-S', String(ours.readUInt32BE(8)), join(src, name), tmp.file('ref.sig')];
          execFileSync('rdiff', ['-f', ...args]);
          expect((await readFile(tmp.file('ref.sig'))).equals(ours), name).toBe(true);
        }
        const { state } = await readStateFile(reports[2]!.files.find((f) => f.role === 'state')!.path, { id: reports[2]!.id, name: 'src' });
        for (const e of state.entries.filter((x) => x.type === 'file')) {
          expect((await readFile(join(restored, e.path))).equals(await readFile(join(src, e.path))), e.path).toBe(true);
        }
      }));

    it('SigVault entries are signatures rdiff delta accepts', () =>
      withTempDir(async (tmp) => {
        const src = tmp.file('src');
        await mkdir(src);
        const rng = new Prng(8);
        const old = rng.bytes(200_000);
        await writeFile(join(src, 'f.bin'), old);
        const report = await fullBackup(src, { workDir: tmp.file('work'), compression });
        const vault = report.files.find((f) => f.role === 'sigvault')!.path;
        const sigs = tmp.file('sigs');
        await mkdir(sigs);
        execFileSync('tar', ['-xf', vault, '-C', sigs]);
        expect(await readdir(sigs)).toEqual(['f.bin']);
        const updated = Buffer.from(old);
        updated.set(rng.bytes(64), 150_000);
        await writeFile(tmp.file('new.bin'), updated);
        execFileSync('rdiff', ['delta', join(sigs, 'f.bin'), tmp.file('new.bin'), tmp.file('d')]);
        execFileSync('rdiff', ['patch', join(src, 'f.bin'), tmp.file('d'), tmp.file('out.bin')]);
        expect((await readFile(tmp.file('out.bin'))).equals(updated)).toBe(true);
      }));
  });
}
