/**
 * The standing campaign "changing sources: a writer that keeps the mtime, at least 20 rounds:
 * 0 unflagged torn reads", for every reader of a file that must flag a torn read: an 8 MiB
 * file under a {@link startMtimeKeepingWriter} is read round after round, and a read whose
 * bytes are mixed (old front, new back) must be flagged, never clean. A campaign that saw no
 * torn read proves nothing, so it goes on until it has seen five (within 400 rounds).
 */
import { utimes, writeFile } from 'node:fs/promises';
import { DirTree } from '../../src/io/dir-tree.js';
import { KEPT_MTIME, startMtimeKeepingWriter } from './mtime-keeping-writer.js';
import type { TempDir } from './tools.js';

/** The size of the file the campaign reads. */
export const CAMPAIGN_FILE_SIZE = 8 << 20;

/** What one read saw: whether its bytes were mixed, and whether the reader flagged it (changed or racy). */
export interface CampaignRead {
  torn: boolean;
  flagged: boolean;
}

/** The reader under test: reads the file `f` of the tree once per call to `read`. */
export interface CampaignReader {
  read(): Promise<CampaignRead>;
  /** Release what the reader holds, before the tree closes. */
  stop?(): void;
}

/** The outcome, in the shape the tests expect: `{ enoughRounds: true, tornSeen: true, unflagged: 0 }`. */
export interface CampaignResult {
  enoughRounds: boolean;
  tornSeen: boolean;
  unflagged: number;
}

/** Run the campaign in `dir` with the reader `start` makes on the tree holding the file `f`. */
export async function tornReadCampaign(dir: TempDir, start: (tree: DirTree) => CampaignReader): Promise<CampaignResult> {
  await writeFile(dir.file('f'), Buffer.alloc(CAMPAIGN_FILE_SIZE, 1));
  await utimes(dir.file('f'), KEPT_MTIME, KEPT_MTIME);
  const writer = await startMtimeKeepingWriter(dir.file('f'), CAMPAIGN_FILE_SIZE);
  const tree = await DirTree.open(dir.path);
  let rounds = 0;
  let torn = 0;
  let unflagged = 0;
  try {
    const reader = start(tree);
    try {
      while ((rounds < 20 || torn < 5) && rounds < 400) {
        rounds++;
        const got = await reader.read();
        if (got.torn) torn++;
        if (got.torn && !got.flagged) unflagged++;
      }
    } finally {
      reader.stop?.();
    }
  } finally {
    await tree.close();
    await writer.stop();
  }
  return { enoughRounds: rounds >= 20, tornSeen: torn > 0, unflagged };
}
