/**
 * Regression: "a restore after ten incrementals writes the 512 MiB image eleven times (1.5×
 * the restore of the full)". A file with two deltas or more is now written once, from its
 * first version and its composed deltas. What that must not give up, each checked here: every
 * point of the chain restores exactly; a file at its final name is complete at every moment
 * of a restore; a wrong delta anywhere in the chain (a consistent forgery: archives and state
 * agree) is never a wrong file, and the error names the archive at fault: its own pass for a
 * wrong size, a COPY past the version before or a bomb (nothing written past the recorded
 * size), the version and archive for wrong content (the deltas then replayed one at a time);
 * deltas too many pieces to compose are written in steps; no temporary file is left.
 */
import { cp, mkdir, open, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readTar } from '../../src/archive/index.js';
import { fullBackup, incrementalBackup, restoreBackup, type BackupError, type BackupReport } from '../../src/index.js';
import { DELTA_MAGIC, patch } from '../../src/rsync/index.js';
import { DeltaWriter } from '../../src/rsync/delta-writer.js';
import type { FileEntry } from '../../src/state/index.js';
import { collect, expectSameTree, snapshot, type Snap } from '../backup/helpers.js';
import { Prng } from '../helpers/data.js';
import { useTempDir } from '../helpers/tools.js';
import { bytesWrittenByThreadPool, editState, forgeArchive, hashOf, temporaryFiles } from './helpers.js';

const IMAGE = 4 << 20;
const POINTS = 6;
/** The two files changed in every incremental: one edited in place, one with data inserted (its bytes move). */
const FILES = ['img.bin', 'd/ins.bin'] as const;
type Changed = (typeof FILES)[number];

describe('a chain restore composes the deltas of each file', () => {
  const tmp = useTempDir();
  const src = (): string => tmp.file('src');
  const work = (): string => tmp.file('work');
  let reports: BackupReport[];
  const snaps: Map<string, Snap>[] = [];
  /** The versions of each file changed in every incremental, one per point. */
  const versionsOf: Record<Changed, Buffer[]> = { 'img.bin': [], 'd/ins.bin': [] };
  const images = versionsOf['img.bin'];
  let n = 0;

  beforeAll(async () => {
    const rng = new Prng(42);
    const image = Buffer.from(rng.bytes(IMAGE));
    let inserted = Buffer.from(rng.bytes(200_000));
    const steps = [
      async () => {
        await mkdir(join(src(), 'd'), { recursive: true });
        await writeFile(join(src(), 'img.bin'), image);
        await writeFile(join(src(), 'd/log.txt'), 'first line\n'.repeat(20_000));
        await writeFile(join(src(), 'd/once.bin'), rng.bytes(300_000));
        await writeFile(join(src(), 'd/ins.bin'), inserted);
        for (let i = 0; i < 20; i++) await writeFile(join(src(), 'd', `small${i}.txt`), `small ${i}\n`);
      },
    ];
    for (let p = 1; p < POINTS; p++) {
      steps.push(async () => {
        image.set(rng.bytes(4096), p * 300_000 + 123);
        await writeFile(join(src(), 'img.bin'), image);
        await writeFile(join(src(), 'd/log.txt'), `line ${p}\n`.repeat(3000), { flag: 'a' });
        const at = 20_000 * p + 77;
        inserted = Buffer.concat([inserted.subarray(0, at), Buffer.from(rng.bytes(300)), inserted.subarray(at)]);
        await writeFile(join(src(), 'd/ins.bin'), inserted);
        if (p === 1) {
          const fh = await open(join(src(), 'd/once.bin'), 'r+');
          await fh.write(rng.bytes(500), 0, 500, 1000);
          await fh.close();
        }
      });
    }
    reports = [];
    for (const [i, step] of steps.entries()) {
      await step();
      reports.push(await (i === 0 ? fullBackup : incrementalBackup)(src(), { workDir: work(), compression: 'none' }));
      snaps.push(await snapshot(src()));
      images.push(Buffer.from(image));
      versionsOf['d/ins.bin'].push(inserted);
      expect(reports[i]!.stats.storedDelta, `point ${i}`).toBe(i === 0 ? 0 : i === 1 ? 4 : 3);
    }
  });

  /** A fresh copy of the chain to forge, and a fresh target. */
  const fresh = async (): Promise<{ copy: string; target: string }> => {
    const copy = tmp.file(`copy-${++n}`);
    await cp(work(), copy, { recursive: true });
    return { copy, target: tmp.file(`out-${n}`) };
  };

  it('restores every point of the chain exactly, with every delta counted', async () => {
    for (const [i, r] of reports.entries()) {
      const target = tmp.file(`point-${i}`);
      const report = await restoreBackup('src', target, { workDir: work(), at: r.id });
      expectSameTree(await snapshot(target), snaps[i]!, `point ${i}`);
      expect(report.stats.deltasApplied, `point ${i}`).toBe(i === 0 ? 0 : 3 * i + 1);
      expect(await temporaryFiles(target)).toEqual([]);
    }
  });

  it('writes the image once, then the ranges its deltas change over it: not once per version, nor twice', async () => {
    const before = await bytesWrittenByThreadPool();
    await restoreBackup('src', tmp.file('bytes'), { workDir: work() });
    const wrote = (await bytesWrittenByThreadPool()) - before;
    // Besides the image, about 1.5 MiB: the log, ins.bin twice, once.bin twice, the spools.
    expect(wrote).toBeGreaterThan(IMAGE);
    expect(wrote).toBeLessThan(2 * IMAGE);
  });

  it('never shows a file at its final name before it is complete', async () => {
    const target = tmp.file('watched');
    let done = false;
    let whileWriting = 0;
    const want = images.at(-1)!;
    // What a restore killed at any of these moments would have left at the final name.
    const watching = (async () => {
      while (!done) {
        const names = await readdir(target).catch(() => [] as string[]);
        if (names.includes('img.bin')) expect((await readFile(join(target, 'img.bin'))).equals(want), 'img.bin at its final name is not its last version').toBe(true);
        else if (names.some((x) => x.startsWith('.img.bin.'))) whileWriting++;
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    await restoreBackup('src', target, { workDir: work() }).finally(() => (done = true));
    await watching;
    expect(whileWriting, 'moments looked at while img.bin was being written').toBeGreaterThan(0);
    expect((await readFile(join(target, 'img.bin'))).equals(want)).toBe(true);
  });

  /**
   * Replace the deltas of `path` in the copy `copy` with `deltas` (delta k giving
   * `versions[k]`) and record the versions' sizes and hashes in the last state: a consistent forgery.
   */
  async function forge(copy: string, versions: readonly Uint8Array[], deltas: readonly Uint8Array[], path: Changed = 'img.bin'): Promise<void> {
    await editState(copy, 'src', reports.at(-1)!.id, async (state) => {
      const e = state.entries.find((x) => x.path === path) as FileEntry;
      expect(e.content).toHaveLength(POINTS);
      for (const [k, id] of e.content.entries()) {
        if (k === 0) continue;
        const link = state.chain.find((l) => l.id === id)!;
        const artifact = link.artifacts.find((a) => a.role === 'deltas')!;
        const entries: { name: string; data: Uint8Array }[] = [];
        for await (const t of readTar(join(copy, 'src', artifact.file), artifact.compression)) {
          const data = await collect(t.body);
          entries.push({ name: t.name, data: t.name === path ? deltas[k - 1]! : data });
        }
        await forgeArchive(copy, 'src', link, 'deltas', entries);
      }
      e.steps = await Promise.all(versions.slice(0, -1).map(async (v) => ({ size: v.length, hash: await hashOf(v) })));
      Object.assign(e, { size: versions.at(-1)!.length, hash: await hashOf(versions.at(-1)!) });
    });
  }

  /** The real deltas of `path`, as the backups stored them. */
  async function realDeltas(path: Changed = 'img.bin'): Promise<Buffer[]> {
    const out: Buffer[] = [];
    for (const r of reports.slice(1)) {
      for await (const t of readTar(r.files.find((f) => f.role === 'deltas')!.path, 'none')) {
        const data = await collect(t.body);
        if (t.name === path) out.push(data);
      }
    }
    expect(out).toHaveLength(POINTS - 1);
    return out;
  }

  function encode(build: (w: DeltaWriter) => void): Buffer {
    const w = new DeltaWriter();
    build(w);
    w.end();
    return Buffer.concat(w.take(true));
  }

  /** The restore's error; the target must then hold no `path` and no temporary file. */
  async function failure(copy: string, target: string, path: Changed = 'img.bin'): Promise<BackupError> {
    const err = (await restoreBackup('src', target, { workDir: copy }).then(
      () => undefined,
      (e: unknown) => e,
    )) as BackupError | undefined;
    expect(err, 'the restore must fail').toBeDefined();
    expect(await temporaryFiles(target), 'temporary files left').toEqual([]);
    expect(await readdir(join(target, dirname(path))).catch(() => [])).not.toContain(basename(path));
    return err!;
  }

  /** The name of the deltas archive of backup `point`. */
  const archiveOf = (point: number): string => basename(reports[point]!.files.find((f) => f.role === 'deltas')!.path);

  for (const path of FILES) {
    it(`control: the forgery of the real deltas restores (${path})`, async () => {
      const { copy, target } = await fresh();
      await forge(copy, versionsOf[path], await realDeltas(path), path);
      await restoreBackup('src', target, { workDir: copy });
      expect((await readFile(join(target, path))).equals(versionsOf[path].at(-1)!)).toBe(true);
    });

    it(`a delta in the middle that gives the wrong content is EHASH at its version, naming its archive (${path})`, async () => {
      const { copy, target } = await fresh();
      const versions = versionsOf[path];
      const deltas = await realDeltas(path);
      // Version 4 comes out as version 3 again, or shifted by a byte (the same size): everything after it is wrong.
      const size = versions[3]!.length;
      expect(versions[4]!.length).toBe(size + (path === 'img.bin' ? 0 : 300));
      deltas[3] =
        path === 'img.bin'
          ? encode((w) => w.copy(0, size))
          : encode((w) => {
              w.copy(1, size - 1);
              w.literal(Buffer.alloc(301, 9), 0, 301);
            });
      await forge(copy, versions, deltas, path);
      const err = await failure(copy, target, path);
      expect(err.code).toBe('EHASH');
      expect(err.path).toBe(path);
      expect(err.message).toContain(`version 5 of ${POINTS}`);
      expect(err.message).toContain(archiveOf(4));
      expect(err.message).not.toContain(archiveOf(5));
    });
  }

  it('a wrong size recorded for a version in the middle is ECORRUPT in the pass of its archive', async () => {
    const { copy, target } = await fresh();
    await forge(copy, images, await realDeltas());
    await editState(copy, 'src', reports.at(-1)!.id, (state) => {
      const e = state.entries.find((x) => x.path === 'img.bin') as FileEntry;
      e.steps![2]!.size -= 1;
    });
    const err = await failure(copy, target);
    expect(err.code).toBe('ECORRUPT');
    expect(err.path).toContain(archiveOf(2));
    expect(err.message).toContain(`version 3 of ${POINTS}`);
  });

  it('a delta in the middle that copies past the end of the version before is ETRUNCATED naming its archive', async () => {
    const { copy, target } = await fresh();
    const versions = images.slice();
    const deltas = await realDeltas();
    // Consistent sizes: version 2 is one byte longer, and delta 2 reads one byte past version 1.
    versions[2] = Buffer.concat([versions[2]!, Buffer.of(7)]);
    deltas[1] = encode((w) => w.copy(0, IMAGE + 1));
    deltas[2] = encode((w) => w.literal(versions[3]!, 0, versions[3]!.length));
    await forge(copy, versions, deltas);
    const err = await failure(copy, target);
    expect(err.code).toBe('ETRUNCATED');
    expect(err.path).toContain(archiveOf(2));
    expect(err.message).toContain('past the end of the basis');
  });

  it('a delta bomb in the middle is stopped at its first command: ECORRUPT naming its archive, nothing written past the recorded size', async () => {
    const { copy, target } = await fresh();
    const deltas = await realDeltas();
    const bomb = Buffer.alloc(13 + (8 << 20), 1);
    bomb.writeUInt32BE(DELTA_MAGIC, 0);
    bomb[4] = 0x44;
    bomb.writeBigUInt64BE(BigInt(1024 ** 4), 5);
    deltas[2] = bomb;
    await forge(copy, images, deltas);
    const before = await bytesWrittenByThreadPool();
    const err = await failure(copy, target);
    const wrote = (await bytesWrittenByThreadPool()) - before;
    expect(err.code).toBe('ECORRUPT');
    expect(err.path).toContain(archiveOf(3));
    expect(err.message).toContain(`more than ${IMAGE} bytes`);
    // The image's first version, the other files (about 1.2 MiB), at most a chunk of the bomb
    // in the spool (the 8 MiB it carries would be more than this).
    expect(wrote).toBeLessThan(IMAGE + (3 << 20));
  });

  it('deltas with more pieces than a composition holds are written in steps, and the file is right', async () => {
    const { copy, target } = await fresh();
    const rng = new Prng(7);
    const versions: Uint8Array[] = [images[0]!];
    const deltas: Buffer[] = [];
    for (let k = 1; k < POINTS; k++) {
      const before = versions.at(-1)!;
      let d: Buffer;
      if (k === 2) {
        // 70,000 COPYs of 8 bytes from anywhere: more pieces than one composition holds.
        d = encode((w) => {
          for (let i = 0; i < 70_000; i++) w.copy(rng.int(before.length - 8), 8);
        });
      } else {
        const at = rng.int(before.length - 1000);
        d = encode((w) => {
          w.copy(0, at);
          w.literal(rng.bytes(1000), 0, 1000);
          w.copy(at + 1000, before.length - at - 1000);
        });
      }
      deltas.push(d);
      versions.push(await collect(patch(before, d)));
    }
    await forge(copy, versions, deltas);
    await restoreBackup('src', target, { workDir: copy });
    expect((await readFile(join(target, 'img.bin'))).equals(versions.at(-1)!)).toBe(true);
    expect(await temporaryFiles(target)).toEqual([]);
  });

  it('a wrong hash recorded for a version in between, with deltas that give the right last version, restores the right file', async () => {
    const { copy, target } = await fresh();
    await editState(copy, 'src', reports.at(-1)!.id, (state) => {
      const e = state.entries.find((x) => x.path === 'img.bin') as FileEntry;
      e.steps![2]!.hash = '0123456789abcdef';
    });
    await restoreBackup('src', target, { workDir: copy });
    expectSameTree(await snapshot(target), snaps.at(-1)!);
  });
});
