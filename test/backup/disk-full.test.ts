/**
 * A full disk during a backup. Regression: it reported `EIO … tar entry destroyed` and never
 * said ENOSPC, and node warned of a file handle closed on garbage collection (a leak on that
 * path). The work directory is a small tmpfs, filled to a different level on each round so the
 * backup runs out of space at different moments: every failure must be `ENOSPC` naming the
 * artifact, leave nothing behind, and leak no file handle. Mounting needs root (CI runs as
 * root); elsewhere the suite skips and says why.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fullBackup, incrementalBackup, isBackupError, restoreBackup } from '../../src/index.js';
import { Prng } from '../helpers/data.js';
import { onCi, withTempDir } from '../helpers/tools.js';
import { expectSameTree, snapshot } from './helpers.js';

const canMount = process.getuid?.() === 0 && spawnSync('mount', ['--version']).status === 0;
if (!canMount && onCi) {
  it('tmpfs can be mounted (required when CI=true: the disk-full tests need it)', () => {
    throw new Error('the disk-full suite needs root and mount(8)');
  });
}

describe.skipIf(!canMount)(`a full disk during a backup${canMount ? '' : ' (skipped: mounting a tmpfs needs root)'}`, () => {
  it('is ENOSPC naming the artifact, leaves no file behind, leaks no handle, and the next backup works', () =>
    withTempDir(async (tmp) => {
      const src = tmp.file('src');
      const work = tmp.file('work');
      await mkdir(src);
      await mkdir(work);
      const rng = new Prng(99);
      for (let i = 0; i < 4; i++) await writeFile(join(src, `big-${i}.bin`), rng.bytes(300_000));
      for (let i = 0; i < 40; i++) await writeFile(join(src, `text-${i}.txt`), `line ${i}\n`.repeat(1500));
      const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1536k', 'tmpfs', work]);
      expect(mounted.status, String(mounted.stderr)).toBe(0);
      // A leaked FileHandle keeps its descriptor open until garbage collection closes it with
      // a warning; counting descriptors catches the leak without waiting for the collector.
      const openFds = async (): Promise<number> => (await readdir('/proc/self/fd')).length;
      const fdsBefore = await openFds();
      try {
        const codes = new Set<string>();
        for (let round = 0; round < 16; round++) {
          await writeFile(join(work, 'filler'), Buffer.alloc(round * 80_000));
          for (const compression of ['gzip', 'none'] as const) {
            const err = await fullBackup(src, { workDir: work, compression }).then(
              () => undefined,
              (e: unknown) => e,
            );
            if (err !== undefined) {
              expect(isBackupError(err), String(err)).toBe(true);
              const e = err as { code: string; message: string };
              codes.add(e.code);
              expect(e.code, e.message).toBe('ENOSPC');
              expect(e.message).toMatch(/src\/\d{8}T\d{9}Z-\d{3}\.(files\.tar(\.gz)?|sigvault\.tar|state\.json)|\.tmp/);
              expect((await readdir(join(work, 'src'))).filter((f) => f !== 'locks'), 'left behind').toEqual([]);
            }
            await rm(join(work, 'src'), { recursive: true, force: true });
          }
        }
        expect(codes, 'some rounds must run out of space').toEqual(new Set(['ENOSPC']));
        expect(await openFds(), 'file descriptors left open by failed backups').toBe(fdsBefore);

        await rm(join(work, 'filler'));
        await fullBackup(src, { workDir: work });
        await writeFile(join(src, 'text-0.txt'), 'changed\n');
        await incrementalBackup(src, { workDir: work });
        await restoreBackup('src', tmp.file('out'), { workDir: work });
        expectSameTree(await snapshot(tmp.file('out')), await snapshot(src));
      } finally {
        spawnSync('umount', ['-l', work]);
      }
    }));
});
