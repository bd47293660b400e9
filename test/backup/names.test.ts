/**
 * Every name Linux allows must round-trip. Regression tests for names that made a whole
 * backup unrestorable with no warning at backup time: a backslash (systemd's escaped unit
 * names), a top-level `c:foo` (judged as a Windows drive), and names near the 255-byte limit,
 * where a temporary name that added bytes to the real one could not be created.
 */
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fullBackup, incrementalBackup, restoreBackup } from '../../src/index.js';
import { Prng } from '../helpers/data.js';
import { withTempDir } from '../helpers/tools.js';
import { expectSameTree, snapshot } from './helpers.js';

const NAMES = [
  'dev-disk-by\\x2duuid-0b6d1a2e.swap',
  'c:foo',
  'C:\\Windows',
  'a'.repeat(255),
  '日本語のファイル名'.repeat(9).slice(0, 85),
  `${'é'.repeat(127)}x`,
  '-leading-dash',
  ' spaces and\ttab ',
  'new\nline',
];

describe('legal names round-trip', () => {
  it('backslashes, drive-like names and 255-byte names survive a full backup, an incremental and a restore', () =>
    withTempDir(async (tmp) => {
      const src = tmp.file('src');
      const rng = new Prng(7);
      await mkdir(src);
      for (const [i, name] of NAMES.entries()) {
        expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
        await mkdir(join(src, `dir-${i}`));
        // Large enough to get a signature, so the incremental stores a delta under this name.
        await writeFile(join(src, name), rng.bytes(40_000));
        await writeFile(join(src, `dir-${i}`, name), 'inside\n');
      }
      const work = tmp.file('work');
      const full = await fullBackup(src, { workDir: work });
      expect(full.warnings).toEqual([]);
      const before = await snapshot(src);
      for (const name of NAMES) {
        const data = await readFile(join(src, name));
        data.set(rng.bytes(100), 20_000);
        await writeFile(join(src, name), data);
        await utimes(join(src, name), 1_800_000_000, 1_800_000_000);
      }
      const inc = await incrementalBackup(src, { workDir: work });
      expect(inc.stats.storedDelta).toBe(NAMES.length);
      const after = await snapshot(src);

      await restoreBackup('src', tmp.file('at-full'), { workDir: work, at: full.id });
      expectSameTree(await snapshot(tmp.file('at-full')), before, 'full');
      await restoreBackup('src', tmp.file('at-inc'), { workDir: work, at: inc.id });
      expectSameTree(await snapshot(tmp.file('at-inc')), after, 'incremental');
    }));
});
