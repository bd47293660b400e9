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
import { utimes, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { DirTree } from '../../src/io/dir-tree.js';
import { openStable } from '../../src/tree/index.js';
import { KEPT_MTIME, startMtimeKeepingWriter } from '../helpers/mtime-keeping-writer.js';
import { withTempDir } from '../helpers/tools.js';

const MiB = 1 << 20;
const FILE_SIZE = 8 * MiB;

/** True when `chunk` holds a byte other than those of `same` (one byte value throughout). */
function mixed(chunk: Uint8Array, same: Buffer): boolean {
  return Buffer.compare(chunk, same.subarray(0, chunk.length)) !== 0;
}

describe('openStable against a writer that keeps the mtime', () => {
  it('20+ rounds of a writer that puts the old mtime back: 0 torn reads stored as clean', () =>
    withTempDir(async (tmp) => {
      await writeFile(tmp.file('f'), Buffer.alloc(FILE_SIZE, 1));
      await utimes(tmp.file('f'), KEPT_MTIME, KEPT_MTIME);
      const writer = await startMtimeKeepingWriter(tmp.file('f'), FILE_SIZE);
      const tree = await DirTree.open(tmp.path);
      let rounds = 0;
      let torn = 0;
      let unflagged = 0;
      try {
        while ((rounds < 20 || torn < 5) && rounds < 400) {
          rounds++;
          const opened = await openStable(tree, 'f');
          if (!opened.read) throw new Error(JSON.stringify(opened.warning));
          const read = opened.read;
          let isTorn = false;
          let first: number | undefined;
          const same = Buffer.alloc(MiB);
          try {
            for await (const chunk of read.chunks) {
              if (first === undefined) {
                first = chunk[0]!;
                same.fill(first);
              }
              if (!isTorn && mixed(chunk, same)) isTorn = true;
            }
          } finally {
            await read.close();
          }
          if (isTorn) torn++;
          if (isTorn && !read.changed && !read.racy) unflagged++;
        }
      } finally {
        await tree.close();
        await writer.stop();
      }
      expect({ rounds: rounds >= 20, tornSeen: torn > 0, unflagged }).toEqual({ rounds: true, tornSeen: true, unflagged: 0 });
    }));
});
