/**
 * Regression: "decompression bombs are written in full before being rejected: a state that
 * says 6 bytes with an archive or delta that expands to 1 GiB writes 1 GiB before EHASH", and
 * "a forged 1 TiB tar header comes out as EIO STREAM_DESTROYED (exit 100) instead of
 * ECORRUPT (106)".
 *
 * Every version of a file has a recorded size and hash (`steps`, then the entry's own). The
 * attacker here controls the whole backup and forges it consistently (archives with the
 * sizes and hashes the sealed state records), so only those per-version records can stop
 * them. How many bytes the restore wrote is read from the process's own counters (`wchar`
 * of the thread pool's threads, where every file write runs), which a control restore shows
 * counting.
 */
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { DELTA_MAGIC, nativeAvailable, restoreBackup, type BackupError, type BackupReport, type EngineName } from '../../src/index.js';
import { Prng } from '../helpers/data.js';
import { useTempDir } from '../helpers/tools.js';
import { backupChain, bytesWrittenByThreadPool, editState, forgeArchive, hashOf, resealArchive, ustarHeader } from './helpers.js';

const GiB = 1024 ** 3;
const HELLO = Buffer.from('hello\n');
const engines: EngineName[] = nativeAvailable() ? ['js', 'native'] : ['js'];

/** The restore's error, and how many bytes this process wrote while it ran. */
async function restoreFailure(work: string, target: string, engine?: EngineName): Promise<{ err: BackupError; wrote: number }> {
  const before = await bytesWrittenByThreadPool();
  const err = (await restoreBackup('src', target, { workDir: work, engine }).then(
    () => undefined,
    (e: unknown) => e,
  )) as BackupError | undefined;
  const wrote = (await bytesWrittenByThreadPool()) - before;
  expect(err, 'the restore must fail').toBeDefined();
  return { err: err!, wrote };
}

/** Nothing but directories may be left in `target`: no file, no temporary. */
async function onlyDirs(target: string): Promise<void> {
  const walk = async (dir: string): Promise<string[]> => {
    const out: string[] = [];
    for (const d of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (d.isDirectory()) out.push(...(await walk(join(dir, d.name))));
      else out.push(join(dir, d.name));
    }
    return out;
  };
  expect(await walk(target)).toEqual([]);
}

/** A tar.gz of one entry `name` holding a delta that turns any basis into 1 GiB of 0x01: about 1 MB of gzip members. */
function deltaBombArchive(name: string): Buffer {
  const literal = GiB;
  const opening = Buffer.alloc(13);
  opening.writeUInt32BE(DELTA_MAGIC, 0);
  opening[4] = 0x44; // LITERAL with an 8-byte length
  opening.writeBigUInt64BE(BigInt(literal), 5);
  const size = opening.length + literal + 1;
  const piece = gzipSync(Buffer.alloc(64 * 1024 ** 2, 1));
  const members = [gzipSync(Buffer.concat([ustarHeader(name, size), opening]))];
  for (let i = 0; i < literal / (64 * 1024 ** 2); i++) members.push(piece);
  const padding = (512 - (size % 512)) % 512;
  members.push(gzipSync(Buffer.concat([Buffer.from([0]), Buffer.alloc(padding), Buffer.alloc(1024)])));
  return Buffer.concat(members);
}

describe('decompression bombs and forged sizes', () => {
  const tmp = useTempDir();
  let full: BackupReport;
  let inc: BackupReport;
  let n = 0;
  const work = (): string => tmp.file('work');
  /** A fresh copy of the chain to forge, and a fresh target. */
  const fresh = async (): Promise<{ copy: string; target: string }> => {
    const copy = tmp.file(`copy-${++n}`);
    await cp(work(), copy, { recursive: true });
    return { copy, target: tmp.file(`out-${n}`) };
  };

  beforeAll(async () => {
    const src = tmp.file('src');
    const rng = new Prng(9);
    const big = Buffer.from(rng.bytes(256 * 1024));
    [full, inc] = await backupChain(src, work(), 'gzip', [
      async () => {
        await mkdir(join(src, 'd'), { recursive: true });
        await writeFile(join(src, 'd/six.txt'), HELLO);
        await writeFile(join(src, 'big.bin'), big);
      },
      async () => {
        big.set(rng.bytes(100), 1000);
        await writeFile(join(src, 'big.bin'), big);
      },
    ]);
    expect(inc.files.map((f) => f.role)).toContain('deltas');
  });

  it('control: the byte counter sees what a restore writes', async () => {
    const before = await bytesWrittenByThreadPool();
    await restoreBackup('src', tmp.file('control'), { workDir: work() });
    expect((await bytesWrittenByThreadPool()) - before).toBeGreaterThanOrEqual(256 * 1024);
    await rm(tmp.file('control'), { recursive: true });
  });

  for (const engine of engines) {
    it(`a delta that expands 6 bytes into 1 GiB is cut off at the recorded size: ECORRUPT naming the deltas archive, nothing written (${engine})`, async () => {
      const { copy, target } = await fresh();
      await editState(copy, 'src', inc.id, async (state) => {
        const deltas = state.chain[1]!.artifacts.find((a) => a.role === 'deltas')!;
        await writeFile(join(copy, 'src', deltas.file), deltaBombArchive('d/six.txt'));
        await resealArchive(copy, 'src', state.chain[1]!, 'deltas');
        deltas.entries = 1;
        const six = state.entries.find((e) => e.path === 'd/six.txt')!;
        if (six.type !== 'file') throw new Error('fixture');
        Object.assign(six, { content: [full.id, inc.id], steps: [{ size: 6, hash: await hashOf(HELLO) }], size: 6, hash: await hashOf(Buffer.from('HELLO\n')) });
        state.entries = state.entries.filter((e) => e.path !== 'big.bin');
      });
      const { err, wrote } = await restoreFailure(copy, target, engine);
      expect(err.code).toBe('ECORRUPT');
      expect(err.path).toBe(join(copy, 'src', `${inc.id}.deltas.tar.gz`));
      expect(err.message).toMatch(/more than 6 bytes/);
      expect(wrote, 'bytes written by the restore').toBeLessThan(1024 ** 2);
      await onlyDirs(target);
    });
  }

  it('a files-archive entry whose header says 1 MiB where the state says 6 is ECORRUPT naming the archive, before a byte is written', async () => {
    const { copy, target } = await fresh();
    const file = `${full.id}.files.tar.gz`;
    // The full backup is the point restored: its state says 6 bytes, its archive holds 1 MiB of non-zero bytes.
    await rm(join(copy, 'src', `${inc.id}.state.json.gz`));
    await editState(copy, 'src', full.id, async (state) => {
      await forgeArchive(copy, 'src', state.chain[0]!, 'files', [{ name: 'd/six.txt', data: Buffer.alloc(1024 ** 2, 1) }]);
      state.entries = state.entries.filter((e) => e.path !== 'big.bin');
    });
    const { err, wrote } = await restoreFailure(copy, target);
    expect(err.code).toBe('ECORRUPT');
    expect(err.path).toBe(join(copy, 'src', file));
    expect(err.message).toContain('has 1048576 bytes, the backup state says 6');
    expect(wrote, 'bytes written by the restore').toBeLessThan(4096);
    await onlyDirs(target);
  });

  for (const compression of ['none', 'gzip'] as const) {
    it(`a forged 1 TiB tar header is ECORRUPT (exit 106) naming the archive, not EIO STREAM_DESTROYED (${compression})`, async () => {
      const { copy, target } = await fresh();
      await rm(join(copy, 'src', `${inc.id}.state.json.gz`));
      await editState(copy, 'src', full.id, async (state) => {
        const files = state.chain[0]!.artifacts.find((a) => a.role === 'files')!;
        // The header promises 1 TiB; the archive ends after 6 bytes of it.
        const bytes = Buffer.concat([ustarHeader('d/six.txt', 1024 ** 4), HELLO]);
        await rm(join(copy, 'src', files.file));
        files.compression = compression;
        files.file = `${full.id}.files.tar${compression === 'gzip' ? '.gz' : ''}`;
        files.entries = 1;
        await writeFile(join(copy, 'src', files.file), compression === 'gzip' ? gzipSync(bytes) : bytes);
        await resealArchive(copy, 'src', state.chain[0]!, 'files');
        state.entries = state.entries.filter((e) => e.path !== 'big.bin');
      });
      const { err, wrote } = await restoreFailure(copy, target);
      expect(err.code).toBe('ECORRUPT');
      expect(err.exitCode).toBe(106);
      expect(err.message).not.toMatch(/STREAM_DESTROYED|destroyed/i);
      expect(err.message).toContain(`${full.id}.files.tar`);
      expect(err.message).toContain(`has ${1024 ** 4} bytes, the backup state says 6`);
      expect(wrote).toBeLessThan(4096);
      await onlyDirs(target);
    });
  }
});

describe('every intermediate version is checked at its step (its size; its hash where it is written)', () => {
  const tmp = useTempDir();
  let reports: BackupReport[];
  let n = 0;
  const work = (): string => tmp.file('work');
  let expected: Buffer;

  beforeAll(async () => {
    const src = tmp.file('src');
    const rng = new Prng(4);
    const data = Buffer.from(rng.bytes(200 * 1024));
    reports = await backupChain(src, work(), 'none', [
      async () => {
        await mkdir(src, { recursive: true });
        await writeFile(join(src, 'f.bin'), data);
      },
      async () => {
        data.set(rng.bytes(64), 5000);
        await writeFile(join(src, 'f.bin'), data);
      },
      async () => {
        data.set(rng.bytes(64), 90_000);
        await writeFile(join(src, 'f.bin'), data);
        expected = Buffer.from(data);
      },
    ]);
    expect(reports.map((r) => r.stats.storedDelta)).toEqual([0, 1, 1]);
  });

  /** Restore the last backup after `edit` changed the f.bin record of its state. */
  async function forged(edit: (steps: { size: number; hash: string }[]) => void): Promise<BackupError> {
    const copy = tmp.file(`copy-${++n}`);
    await cp(work(), copy, { recursive: true });
    await editState(copy, 'src', reports[2]!.id, (state) => {
      const f = state.entries.find((e) => e.path === 'f.bin');
      if (f?.type !== 'file' || f.steps?.length !== 2) throw new Error('fixture: f.bin should have two steps');
      edit(f.steps);
    });
    const target = tmp.file(`out-${n}`);
    const err = (await restoreBackup('src', target, { workDir: copy }).catch((e: unknown) => e)) as BackupError;
    expect(await readdir(target)).toEqual([]);
    return err;
  }

  it('control: the chain restores', async () => {
    await restoreBackup('src', tmp.file('control'), { workDir: work() });
    expect(await readFile(tmp.file('control/f.bin'))).toEqual(expected);
  });

  it('a wrong hash of version 1 is EHASH at version 1, naming the full backup files archive', async () => {
    const err = await forged((steps) => (steps[0]!.hash = '0123456789abcdef'));
    expect(err.code).toBe('EHASH');
    expect(err.message).toContain('version 1 of 3');
    expect(err.message).toContain(`${reports[0]!.id}.files.tar`);
  });

  it('a wrong hash recorded for version 2, which a composed restore never writes, still restores the right file: the last hash is checked', async () => {
    const copy = tmp.file(`copy-${++n}`);
    await cp(work(), copy, { recursive: true });
    await editState(copy, 'src', reports[2]!.id, (state) => {
      const f = state.entries.find((e) => e.path === 'f.bin');
      if (f?.type !== 'file' || f.steps?.length !== 2) throw new Error('fixture: f.bin should have two steps');
      f.steps[1]!.hash = '0123456789abcdef';
    });
    const target = tmp.file(`out-${n}`);
    await restoreBackup('src', target, { workDir: copy });
    expect(await readFile(join(target, 'f.bin'))).toEqual(expected);
  });

  it('a smaller size of version 1 is ECORRUPT naming the files archive (its header disagrees)', async () => {
    const err = await forged((steps) => (steps[0]!.size -= 1));
    expect(err.code).toBe('ECORRUPT');
    expect(err.path).toContain(`${reports[0]!.id}.files.tar`);
  });

  it('a smaller size of version 2 cuts the delta off: ECORRUPT naming the first deltas archive', async () => {
    const err = await forged((steps) => (steps[1]!.size -= 1));
    expect(err.code).toBe('ECORRUPT');
    expect(err.path).toContain(`${reports[1]!.id}.deltas.tar`);
    expect(err.message).toContain('version 2 of 3');
  });

  it('a larger size of version 2 is ECORRUPT naming the first deltas archive (the delta gives fewer bytes)', async () => {
    const err = await forged((steps) => (steps[1]!.size += 1));
    expect(err.code).toBe('ECORRUPT');
    expect(err.path).toContain(`${reports[1]!.id}.deltas.tar`);
    expect(err.message).toContain('version 2 of 3');
  });
});
