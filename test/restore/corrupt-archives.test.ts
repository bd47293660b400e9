/**
 * Regressions: "archive corruption comes out as EIO STREAM_DESTROYED (exit 100) instead of
 * ECORRUPT (106)", and "a files archive that is damaged in the middle yields EHASH naming the
 * file, which hides the artifact".
 *
 * A byte is flipped at many places of each archive a restore reads (uncompressed and
 * gzipped, files and deltas): whatever it hits (a header, a body, padding, the gzip stream),
 * the restore fails with the archive's own error, ECORRUPT or ETRUNCATED naming it, never an
 * I/O error and never a file's EHASH: when a restored file does not match, the rest of the
 * archive is read to finish its hash check, and the archive is blamed.
 */
import { cp, mkdir, open, readdir, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { restoreBackup, type BackupError, type BackupReport } from '../../src/index.js';
import { Prng } from '../helpers/data.js';
import { useTempDir } from '../helpers/tools.js';
import { backupChain } from './helpers.js';
import { zstdBinding } from '../helpers/zstd.js';
import type { Compression } from '../../src/archive/index.js';

async function flip(path: string, at: number): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, at);
    b[0]! ^= 0x5a;
    await fh.write(b, 0, 1, at);
  } finally {
    await fh.close();
  }
}

/** Every path under `dir` that is a regular file. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (d.isDirectory()) out.push(...(await filesUnder(join(dir, d.name))));
    else out.push(join(dir, d.name));
  }
  return out;
}

for (const compression of ['none', 'gzip', ...(zstdBinding ? ['zstd'] : [])] as Compression[]) {
  describe(`a damaged archive is blamed, whatever byte is hit (${compression})`, () => {
    const tmp = useTempDir();
    let reports: BackupReport[];
    const work = (): string => tmp.file('work');

    beforeAll(async () => {
      const src = tmp.file('src');
      const rng = new Prng(11);
      const big = Buffer.from(rng.bytes(300_000));
      reports = await backupChain(src, work(), compression, [
        async () => {
          await mkdir(join(src, 'd'), { recursive: true });
          await writeFile(join(src, 'big.bin'), big);
          // Never changed: restored straight from the files archive, its hash checked there.
          await writeFile(join(src, 'whole.bin'), rng.bytes(300_000));
          for (let i = 0; i < 20; i++) await writeFile(join(src, 'd', `small${i}.txt`), `small file ${i}\n`.repeat(50));
        },
        async () => {
          big.set(rng.bytes(5000), 150_000);
          await writeFile(join(src, 'big.bin'), big);
        },
      ]);
    });

    const artifacts: [string, () => string][] = [
      ['files archive', () => reports[0]!.files.find((f) => f.role === 'files')!.path],
      ['deltas archive', () => reports[1]!.files.find((f) => f.role === 'deltas')!.path],
    ];
    let n = 0;
    for (const [label, artifact] of artifacts) {
      it(`a byte flipped anywhere in the ${label} is ECORRUPT or ETRUNCATED naming it (exit 106 or 103), never EIO or EHASH`, async () => {
        const size = (await stat(artifact())).size;
        const positions = Array.from({ length: 24 }, (_, i) => Math.floor(((i + 0.5) / 24) * size));
        for (const at of positions) {
          const copy = tmp.file(`copy-${++n}`);
          await cp(work(), copy, { recursive: true });
          const damaged = join(copy, 'src', basename(artifact()));
          await flip(damaged, at);
          const target = tmp.file(`out-${n}`);
          const err = (await restoreBackup('src', target, { workDir: copy }).then(
            () => undefined,
            (e: unknown) => e,
          )) as BackupError | undefined;
          expect(err, `flip at ${at} of ${size}: the restore must fail`).toBeDefined();
          expect(['ECORRUPT', 'ETRUNCATED'], `flip at ${at} of ${size}: ${err!.code} ${err!.message}`).toContain(err!.code);
          expect(err!.path, `flip at ${at}`).toBe(damaged);
          expect(err!.message).not.toMatch(/STREAM_DESTROYED|destroyed/i);
          expect([106, 103]).toContain(err!.exitCode);
          expect((await filesUnder(target)).filter((p) => p.endsWith('.tmp')), 'temporary files left').toEqual([]);
        }
      });
    }
  });
}
