/**
 * Regression: "sparse files are restored fully allocated (a 20 GiB file with 1 MiB of data
 * restored as 20 GiB on disk …); wanted: holes restored as holes".
 *
 * A 2 GiB file (512 MiB in `npm test`) holding 1 MiB of data, and a 256 MiB file with a little data that then gets a
 * delta, are backed up (files archives uncompressed and gzipped) and restored: the contents
 * must be identical, and the restored files must take about their data on disk (st.blocks),
 * not their length; the patched version as well as the one extracted whole.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { restoreBackup } from '../../src/index.js';
import { Prng } from '../helpers/data.js';
import { withTempDir } from '../helpers/tools.js';
import { backupChain } from './helpers.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
/** The big file's size: 2 GiB in the slow campaign; in `npm test` enough to show the holes stay. */
const HUGE = process.env.IBT_SLOW === '1' ? 2 * GiB : 512 * MiB;

/** Write `data` at `offset` of `path`, making it at least `length` bytes long (the rest holes). */
async function writeAt(path: string, length: number, parts: [offset: number, data: Uint8Array][]): Promise<void> {
  const fh = await open(path, 'a+');
  try {
    await fh.truncate(length);
    for (const [offset, data] of parts) await fh.write(data, 0, data.length, offset);
  } finally {
    await fh.close();
  }
}

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * MiB })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Bytes the file takes on disk. */
async function allocated(path: string): Promise<number> {
  return (await stat(path)).blocks * 512;
}

describe('sparse files are restored with their holes', () => {
  for (const compression of ['none', 'gzip'] as const) {
    it(`a ${HUGE / MiB} MiB file with 1 MiB of data, and a patched 256 MiB one, take about their data on disk (${compression})`, () =>
      withTempDir(async (tmp) => {
        const src = tmp.file('src');
        const rng = new Prng(compression === 'none' ? 1 : 2);
        const huge = join(src, 'huge.img');
        const patched = join(src, 'patched.img');
        await backupChain(src, tmp.file('work'), compression, [
          async () => {
            await mkdir(src, { recursive: true });
            await writeAt(huge, HUGE, [
              [0, rng.bytes(64 * 1024)],
              [HUGE / 2 + 12_345, rng.bytes(MiB - 128 * 1024)],
              [HUGE - 64 * 1024, rng.bytes(64 * 1024)],
            ]);
            await writeAt(patched, 256 * MiB, [[100 * MiB, rng.bytes(MiB)]]);
          },
          async () => {
            // A change in the middle of a hole and one in the data: the delta's output is mostly zeros.
            await writeAt(patched, 256 * MiB, [
              [10 * MiB, rng.bytes(64 * 1024)],
              [100 * MiB + 4096, rng.bytes(4096)],
            ]);
          },
        ]);
        const out = tmp.file('out');
        const report = await restoreBackup('src', out, { workDir: tmp.file('work') });
        expect(report.stats.deltasApplied).toBe(1);
        for (const [name, data] of [
          ['huge.img', MiB],
          ['patched.img', MiB + 64 * 1024],
        ] as const) {
          const restored = join(out, name);
          expect((await stat(restored)).size).toBe((await stat(join(src, name))).size);
          expect(await sha256(restored), `content of ${name}`).toBe(await sha256(join(src, name)));
          // Data, plus at most a block on each side of every data run and the file system's own blocks.
          expect(await allocated(restored), `bytes of ${name} on disk`).toBeLessThan(data + MiB);
        }
      }));
  }
});
