/**
 * zstd archives as the tar writer makes them and the reader reads them: the system `zstd`
 * turns one into exactly the uncompressed archive of the same entries and GNU tar extracts
 * it, the bytes do not depend on how many blocks were in flight, and damage is reported as
 * the archive's (`ECORRUPT`, `ETRUNCATED` naming it), never as a bare zstd error.
 */
import { execFileSync } from 'node:child_process';
import { readFile, truncate, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { archiveError, readTar, TarWriter, type ArchiveSummary, type Compression, type TarEntryHeader } from '../../src/archive/index.js';
import { BackupError } from '../../src/errors.js';
import { logText, Prng } from '../helpers/data.js';
import { requireTool, useTempDir } from '../helpers/tools.js';
import { requireZstdBinding } from '../helpers/zstd.js';

const MiB = 1 << 20;

/** Entries across several 1 MiB blocks: text, random data, small files, a directory and a symlink. */
function entries(): [TarEntryHeader, Uint8Array?][] {
  const rng = new Prng(21);
  const file = (name: string, data: Uint8Array): [TarEntryHeader, Uint8Array] => [{ name, type: 'file', mode: 0o644, mtime: '1700000000000000000', size: data.length }, data];
  return [
    [{ name: 'd', type: 'directory', mode: 0o755, mtime: '1700000000000000000' }],
    file('d/log.txt', logText(22, 3 * MiB + 123)),
    file('d/photo.jpg', rng.bytes(2 * MiB)),
    ...Array.from({ length: 200 }, (_, i) => file(`d/small-${i}.txt`, logText(i, 100 + rng.int(3000)))),
    [{ name: 'd/link', type: 'symlink', mode: 0o777, mtime: '1700000000000000000', linkname: 'log.txt' }],
  ];
}

async function write(path: string, compression: Compression, inFlight?: number): Promise<ArchiveSummary> {
  const w = TarWriter.create(path, compression, { inFlight });
  for (const [header, body] of entries()) await w.add(header, body);
  return w.finish();
}

/** Every entry's body; a failure while a body is read is the archive's, as the restore reports it. */
async function readAll(path: string, compression: Compression, expect?: ArchiveSummary): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for await (const e of readTar(path, compression, expect)) {
    const parts: Uint8Array[] = [];
    try {
      for await (const p of e.body) parts.push(p);
    } catch (err) {
      throw archiveError(err, path);
    }
    out.set(e.name, Buffer.concat(parts));
  }
  return out;
}

async function failure(p: Promise<unknown>): Promise<BackupError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(BackupError);
  return e as BackupError;
}

const zstd = requireZstdBinding();
const zstdTool = requireTool('zstd');
const tar = requireTool('tar');

describe.skipIf(zstd.skip)(`zstd archives${zstd.note}`, () => {
  const tmp = useTempDir();

  it('read back entry for entry, with the size and hash recorded', async () => {
    const path = tmp.file('a.tar.zst');
    const summary = await write(path, 'zstd');
    const got = await readAll(path, 'zstd', summary);
    const want = entries();
    expect([...got.keys()]).toEqual(want.map(([h]) => h.name));
    for (const [h, body] of want) expect(got.get(h.name)!.equals(Buffer.from(body ?? [])), h.name).toBe(true);
  });

  it('are the same bytes whatever the number of blocks in flight, run after run', async () => {
    const a = await write(tmp.file('one.tar.zst'), 'zstd', 1);
    const b = await write(tmp.file('four.tar.zst'), 'zstd', 4);
    const c = await write(tmp.file('again.tar.zst'), 'zstd');
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect((await readFile(tmp.file('one.tar.zst'))).equals(await readFile(tmp.file('four.tar.zst')))).toBe(true);
  });

  it('are smaller than the gzip archive of the same entries', async () => {
    const z = await write(tmp.file('s.tar.zst'), 'zstd');
    const g = await write(tmp.file('s.tar.gz'), 'gzip');
    expect(z.size).toBeLessThan(g.size);
  });

  describe.skipIf(zstdTool.skip || tar.skip)(`with the system tools${zstdTool.note}${tar.note}`, () => {
    it('zstd -d gives exactly the uncompressed archive of the same entries (as gzip -d does for gzip), and tar --zstd extracts it', async () => {
      await write(tmp.file('t.tar'), 'none');
      await write(tmp.file('t.tar.zst'), 'zstd');
      await write(tmp.file('t.tar.gz'), 'gzip');
      const plain = await readFile(tmp.file('t.tar'));
      const unzstd = execFileSync('zstd', ['-q', '-d', '-c', tmp.file('t.tar.zst')], { maxBuffer: 64 * MiB });
      expect(unzstd.equals(plain)).toBe(true);
      expect(execFileSync('gzip', ['-d', '-c', tmp.file('t.tar.gz')], { maxBuffer: 64 * MiB }).equals(plain)).toBe(true);
      execFileSync('zstd', ['-q', '-t', tmp.file('t.tar.zst')]);
      const out = tmp.file('x');
      execFileSync('mkdir', ['-p', out]);
      execFileSync('tar', ['--zstd', '-xf', tmp.file('t.tar.zst'), '-C', out]);
      for (const [h, body] of entries()) {
        if (h.type === 'file') expect((await readFile(`${out}/${h.name}`)).equals(Buffer.from(body!)), h.name).toBe(true);
      }
    });
  });

  describe('damage', () => {
    it('a byte flipped inside a frame is ECORRUPT naming the archive, recorded hash or not', async () => {
      const good = tmp.file('good.tar.zst');
      const summary = await write(good, 'zstd');
      const bytes = await readFile(good);
      for (const at of [20, Math.floor(bytes.length / 3), Math.floor(bytes.length / 2), bytes.length - 10]) {
        const path = tmp.file(`flip-${at}.tar.zst`);
        const copy = Buffer.from(bytes);
        copy[at] ^= 0x40;
        await writeFile(path, copy);
        for (const expected of [undefined, summary]) {
          const err = await failure(readAll(path, 'zstd', expected));
          expect(err.code, `flip at ${at}: ${err.message}`).toBe('ECORRUPT');
          expect(err.path).toBe(path);
          expect(err.message).toContain(path);
        }
      }
    });

    it('a truncated archive is ETRUNCATED naming it, recorded size or not', async () => {
      const good = tmp.file('whole.tar.zst');
      const summary = await write(good, 'zstd');
      for (const size of [3, 1000, Math.floor(summary.size / 2), summary.size - 1]) {
        const path = tmp.file(`cut-${size}.tar.zst`);
        await writeFile(path, await readFile(good));
        await truncate(path, size);
        for (const expected of [undefined, summary]) {
          const err = await failure(readAll(path, 'zstd', expected));
          expect(err.code, `cut at ${size}: ${err.message}`).toBe('ETRUNCATED');
          expect(err.path).toBe(path);
          expect(err.exitCode).toBe(103);
        }
      }
    });

    it('a gzip archive read as zstd is ECORRUPT naming it', async () => {
      const path = tmp.file('really.tar.gz');
      await write(path, 'gzip');
      const err = await failure(readAll(path, 'zstd'));
      expect(err.code).toBe('ECORRUPT');
      expect(err.path).toBe(path);
    });
  });
});
