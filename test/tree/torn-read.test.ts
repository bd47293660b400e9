/**
 * Regression: "a torn read is stored as clean when the writer puts back the exact mtime
 * (touch -r, rsync --inplace -t, VM tools): old front, new back, no warning, and every later
 * incremental keeps it".
 *
 * The seed of the standing campaign "changing sources: a writer that keeps the mtime, at least
 * 20 rounds: 0 unflagged torn reads". A child process rewrites a file front then back, each
 * time with one byte value, and after every write puts the old mtime back as `touch -r` does.
 * The test reads the file round after round; a read whose bytes are mixed (a torn read) must
 * be flagged `changed` or `racy`, never clean. A campaign that saw no torn read proves
 * nothing, so it goes on until it has seen some (within a bound).
 */
import { describe, expect, it } from 'vitest';
import { openStable } from '../../src/tree/index.js';
import { withTempDir } from '../helpers/tools.js';
import { tornReadCampaign } from '../helpers/torn-read-campaign.js';

const MiB = 1 << 20;

/** True when `chunk` holds a byte other than those of `same` (one byte value throughout). */
function mixed(chunk: Uint8Array, same: Buffer): boolean {
  return Buffer.compare(chunk, same.subarray(0, chunk.length)) !== 0;
}

describe('openStable against a writer that keeps the mtime', () => {
  it('20+ rounds of a writer that puts the old mtime back: 0 torn reads stored as clean', () =>
    withTempDir(async (tmp) => {
      const result = await tornReadCampaign(tmp, (tree) => ({
        read: async () => {
          const opened = await openStable(tree, 'f');
          if (!opened.read) throw new Error(JSON.stringify(opened.warning));
          const read = opened.read;
          let torn = false;
          let first: number | undefined;
          const same = Buffer.alloc(MiB);
          try {
            for await (const chunk of read.chunks) {
              if (first === undefined) {
                first = chunk[0]!;
                same.fill(first);
              }
              if (!torn && mixed(chunk, same)) torn = true;
            }
          } finally {
            await read.close();
          }
          return { torn, flagged: read.changed || read.racy };
        },
      }));
      expect(result).toEqual({ enoughRounds: true, tornSeen: true, unflagged: 0 });
    }));
});
