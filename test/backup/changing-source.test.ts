/**
 * The changing-sources campaign, end to end: incremental backups of a file that a writer keeps
 * rewriting while putting its old mtime back (`touch -r`, `rsync --inplace -t`, VM tools).
 * Regression: such a torn read (old front, new back) was stored as clean, with no warning,
 * and every later incremental kept it. Every round, the backup's record of the file must be
 * flagged (ECHANGED, or `unstable`: read again next time) unless what it stored is one whole
 * version; and once the writer stops, the next backups store the final version, clean.
 */
import { mkdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fullBackup, incrementalBackup, restoreBackup } from '../../src/index.js';
import { readStateFile } from '../../src/state/index.js';
import { RACY_MARGIN_MS } from '../../src/tree/index.js';
import { isTorn, KEPT_MTIME, startMtimeKeepingWriter } from '../helpers/mtime-keeping-writer.js';
import { withTempDir } from '../helpers/tools.js';

const SIZE = 4 << 20;

describe('backups of a file rewritten under them with its mtime put back', () => {
  it('20+ rounds: 0 torn reads stored unflagged, and the final version is stored clean once the writer stops', () =>
    withTempDir(async (tmp) => {
      const src = tmp.file('src');
      const work = tmp.file('work');
      await mkdir(src);
      await writeFile(join(src, 'vm.img'), Buffer.alloc(SIZE, 1));
      await utimes(join(src, 'vm.img'), KEPT_MTIME, KEPT_MTIME);
      await fullBackup(src, { workDir: work });
      const record = async (id: string) => {
        const { state } = await readStateFile(join(work, 'src', `${id}.state.json.gz`), { id, name: 'src' });
        const e = state.entries.find((x) => x.path === 'vm.img');
        return e?.type === 'file' ? e : undefined;
      };
      const writer = await startMtimeKeepingWriter(join(src, 'vm.img'), SIZE);
      let rounds = 0;
      let tornStored = 0;
      let unflagged = 0;
      try {
        while ((rounds < 20 || tornStored < 3) && rounds < 200) {
          rounds++;
          const inc = await incrementalBackup(src, { workDir: work });
          const e = await record(inc.id);
          const target = tmp.file(`out-${rounds}`);
          await restoreBackup('src', target, { workDir: work, at: inc.id });
          const torn = isTorn(await readFile(join(target, 'vm.img')));
          const flagged = e?.unstable === true || inc.warnings.some((w) => w.code === 'ECHANGED' && w.path === 'vm.img');
          if (torn) tornStored++;
          if (torn && !flagged) unflagged++;
          await rm(target, { recursive: true });
        }
      } finally {
        await writer.stop();
      }
      expect({ rounds: rounds >= 20, tornSeen: tornStored > 0, unflagged }).toEqual({ rounds: true, tornSeen: true, unflagged: 0 });

      // The writer may have stopped half-way: finish the file, then let the racy window pass.
      await writeFile(join(src, 'vm.img'), Buffer.alloc(SIZE, 7));
      await utimes(join(src, 'vm.img'), KEPT_MTIME, KEPT_MTIME);
      await new Promise((r) => setTimeout(r, RACY_MARGIN_MS + 200));
      const settled = await incrementalBackup(src, { workDir: work });
      const e = await record(settled.id);
      expect(e?.unstable, 'a quiet file is stored clean').toBeUndefined();
      await restoreBackup('src', tmp.file('final'), { workDir: work });
      expect((await readFile(tmp.file('final/vm.img'))).equals(Buffer.alloc(SIZE, 7))).toBe(true);
    }));
});
