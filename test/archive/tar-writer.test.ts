/**
 * TarWriter: the tar bytes are those tar-stream's pack writes for the same entries (archives
 * stay byte-identical to those of earlier versions), the gzip archive is a deterministic
 * sequence of independent members over fixed 1 MiB blocks whatever the timing, real `gzip`
 * and `tar` read it, and every failure path (a full disk, a failing body, a wrong size, an
 * abort) is reported and leaves nothing behind.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { readTar, TarWriter, type Compression, type TarEntryHeader } from '../../src/archive/index.js';
import { hashChunks } from '../../src/tree/index.js';
import { collect } from '../backup/helpers.js';
import { Prng } from '../helpers/data.js';
import { onCi, requireTool, withTempDir } from '../helpers/tools.js';

const MiB = 1 << 20;

interface Entry {
  header: TarEntryHeader;
  body?: Uint8Array;
}

/** Source-like text, different for every seed. */
function sourceText(seed: number, n: number): Uint8Array {
  const rng = new Prng(seed);
  const words = ['const', 'let', 'return', 'function', 'value', 'index', 'await', 'import', 'export', '{', '}', '(', ')', ';', '=', '+', 'if', 'else'];
  let s = '';
  while (s.length < n) s += Array.from({ length: 8 }, () => rng.pick(words)).join(' ') + ` // ${rng.int(100000)}\n`;
  return Buffer.from(s.slice(0, n));
}

/**
 * A tree's worth of entries: many small text files, directories, symlinks, PAX names, header
 * edge cases, and a 3 MiB random file (`random`) sitting between stretches of text.
 */
function sampleEntries(): { entries: Entry[]; random: Uint8Array } {
  const entries: Entry[] = [];
  const file = (name: string, body: Uint8Array, extra: Partial<TarEntryHeader> = {}): void => {
    entries.push({ header: { name, type: 'file', mode: 0o644, mtime: '1700000000123456789', uid: 1000, gid: 1000, size: body.length, ...extra }, body });
  };
  entries.push({ header: { name: 'src', type: 'directory', mode: 0o755, mtime: '1700000000000000000' } });
  for (let i = 0; i < 300; i++) file(`src/module-${i}.ts`, sourceText(i, 1000 + ((i * 797) % 9000)));
  const random = new Prng(77).bytes(3 * MiB);
  file('media/video.mp4', random);
  for (let i = 300; i < 600; i++) file(`src/module-${i}.ts`, sourceText(i, 1000 + ((i * 797) % 9000)));
  file(`${'ü'.repeat(70)}/${'n'.repeat(150)}`, sourceText(1, 700));
  file(`${'deep/'.repeat(30)}leaf.txt`, sourceText(2, 512));
  file('empty', new Uint8Array(0));
  file('mode-0', sourceText(3, 10), { mode: 0 });
  file('big-uid', sourceText(4, 10), { uid: 2 ** 31, gid: 0o1000000 });
  file('before-1970', sourceText(5, 10), { mtime: '-1500000000' });
  file('after-2038', sourceText(6, 10), { mtime: '4102444800000000000' });
  entries.push({ header: { name: 'link', type: 'symlink', mode: 0o777, mtime: '0', linkname: 'src/module-1.ts' } });
  entries.push({ header: { name: 'long-link', type: 'symlink', mode: 0o777, mtime: '0', linkname: 'x/'.repeat(80) } });
  entries.push({ header: { name: 'empty-dir', type: 'directory', mode: 0, mtime: '1700000000999999999' } });
  return { entries, random };
}

/** The bytes tar-stream's pack writes for `entries`, as the writer before this one passed them. */
async function tarStreamBytes(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const out = collect(pack as unknown as AsyncIterable<Uint8Array>);
  for (const { header: h, body } of entries) {
    const seconds = Number(BigInt(h.mtime) / 1_000_000_000n);
    const header = {
      name: h.name,
      type: h.type,
      mode: h.mode,
      mtime: new Date(seconds >= 0 && seconds <= 2 ** 31 - 1 ? seconds * 1000 : 0),
      uid: h.uid,
      gid: h.gid,
      size: h.type === 'file' ? h.size ?? 0 : 0,
      linkname: h.linkname,
    };
    await new Promise<void>((resolve, reject) => {
      if (h.type === 'file') pack.entry(header, Buffer.from(body ?? []), (e) => (e ? reject(e) : resolve()));
      else pack.entry(header, (e) => (e ? reject(e) : resolve()));
    });
  }
  pack.finalize();
  return out;
}

/** A body as a stream of uneven chunks, yielding to the event loop now and then (varying the timing). */
function unevenStream(body: Uint8Array, seed: number): AsyncIterable<Uint8Array> {
  return (async function* () {
    const rng = new Prng(seed);
    for (let at = 0; at < body.length; ) {
      const n = 1 + rng.int(rng.int(4) === 0 ? 300_000 : 5000);
      if (rng.int(3) === 0) await new Promise((r) => setImmediate(r));
      yield body.subarray(at, at + n);
      at += n;
    }
  })();
}

type BodyStyle = 'memory' | 'stream';

async function writeArchive(path: string, entries: Entry[], compression: Compression, style: BodyStyle, inFlight?: number): Promise<{ size: number; hash: string; bytes: Buffer }> {
  const w = TarWriter.create(path, compression, { inFlight });
  for (const [i, { header, body }] of entries.entries()) {
    await w.add(header, body && style === 'stream' ? unevenStream(body, i) : body);
  }
  const summary = await w.finish();
  expect(w.entries).toBe(entries.length);
  return { ...summary, bytes: await readFile(path) };
}

describe('TarWriter output', () => {
  it('without compression, is byte for byte what tar-stream writes for the same entries', () =>
    withTempDir(async (tmp) => {
      const { entries } = sampleEntries();
      const expected = await tarStreamBytes(entries);
      for (const style of ['memory', 'stream'] as const) {
        const got = await writeArchive(tmp.file(`${style}.tar`), entries, 'none', style);
        expect(got.bytes.length).toBe(expected.length);
        expect(got.bytes.equals(expected), style).toBe(true);
        expect(got.size).toBe(expected.length);
        expect(got.hash).toBe(await hashChunks([expected]));
      }
    }));

  it('with gzip, is one gzip member per 1 MiB of tar bytes, stored where the block is random, deflated (level 1) elsewhere', () =>
    withTempDir(async (tmp) => {
      const { entries, random } = sampleEntries();
      const plain = await tarStreamBytes(entries);
      const start = plain.indexOf(Buffer.from(random.subarray(0, 64)));
      const end = start + random.length;
      const members: Buffer[] = [];
      let stored = 0;
      for (let at = 0; at < plain.length; at += MiB) {
        const block = plain.subarray(at, Math.min(at + MiB, plain.length));
        const level = at >= start && at + block.length <= end ? 0 : 1;
        stored += level === 0 ? 1 : 0;
        members.push(gzipSync(block, { level, chunkSize: block.length + 64 * 1024 }));
      }
      expect(stored).toBeGreaterThanOrEqual(1);
      const got = await writeArchive(tmp.file('a.tar.gz'), entries, 'gzip', 'memory');
      expect(got.bytes.equals(Buffer.concat(members))).toBe(true);
    }));

  it('is the same bytes whatever the timing: blocks in flight, body chunking, pauses', () =>
    withTempDir(async (tmp) => {
      const { entries } = sampleEntries();
      const runs = [
        await writeArchive(tmp.file('a.tar.gz'), entries, 'gzip', 'memory', 1),
        await writeArchive(tmp.file('b.tar.gz'), entries, 'gzip', 'stream', 8),
        await writeArchive(tmp.file('c.tar.gz'), entries, 'gzip', 'stream', 2),
        await writeArchive(tmp.file('d.tar.gz'), entries, 'gzip', 'memory'),
      ];
      for (const r of runs.slice(1)) {
        expect(r.bytes.equals(runs[0]!.bytes)).toBe(true);
        expect([r.size, r.hash]).toEqual([runs[0]!.size, runs[0]!.hash]);
      }
      expect(runs[0]!.hash).toBe(await hashChunks([runs[0]!.bytes]));
    }));
});

const gzipTool = requireTool('gzip');
const tarTool = requireTool('tar');

describe.skipIf(gzipTool.skip || tarTool.skip)(`a multi-member archive read by real tools${gzipTool.note}${tarTool.note}`, () => {
  it('passes gzip -t, lists and extracts with tar, and reads back with readTar', () =>
    withTempDir(async (tmp) => {
      const { entries } = sampleEntries();
      const archive = tmp.file('a.tar.gz');
      const summary = await writeArchive(archive, entries, 'gzip', 'stream');
      expect(summary.bytes.length).toBeGreaterThan(3 * MiB);

      const test = spawnSync('gzip', ['-t', archive]);
      expect(test.status, String(test.stderr)).toBe(0);
      const list = spawnSync('tar', ['-tzf', archive], { maxBuffer: 64 * MiB });
      expect(list.status, String(list.stderr)).toBe(0);
      const names = String(list.stdout).split('\n').filter(Boolean).map((n) => n.replace(/\/$/, ''));
      expect(names).toEqual(entries.map((e) => e.header.name));

      const out = tmp.file('out');
      await mkdir(out);
      const extract = spawnSync('tar', ['-xzf', archive, '-C', out], { maxBuffer: 64 * MiB });
      expect(extract.status, String(extract.stderr)).toBe(0);
      for (const e of entries.filter((x) => x.header.type === 'file')) {
        expect((await readFile(join(out, e.header.name))).equals(Buffer.from(e.body!)), e.header.name).toBe(true);
      }

      const seen: string[] = [];
      for await (const e of readTar(archive, 'gzip', summary)) {
        const body = await collect(e.body);
        const want = entries[seen.length]!;
        expect([e.name, body.length]).toEqual([want.header.name, want.header.type === 'file' ? want.body!.length : 0]);
        seen.push(e.name);
      }
      expect(seen.length).toBe(entries.length);
    }));
});

describe('TarWriter failures', () => {
  it('a body of the wrong size in memory fails before anything is written, and the archive stays usable', () =>
    withTempDir(async (tmp) => {
      const w = TarWriter.create(tmp.file('a.tar'));
      await w.add({ name: 'a', type: 'file', mode: 0o644, mtime: '0', size: 3 }, Buffer.from('abc'));
      await expect(w.add({ name: 'b', type: 'file', mode: 0o644, mtime: '0', size: 10 }, Buffer.from('short'))).rejects.toMatchObject({ code: 'EIO', message: expect.stringMatching(/entry b: its body has 5 bytes, its header says 10/) });
      await w.add({ name: 'c', type: 'file', mode: 0o644, mtime: '0', size: 3 }, Buffer.from('def'));
      const summary = await w.finish();
      const names: string[] = [];
      for await (const e of readTar(tmp.file('a.tar'), 'none', summary)) names.push(e.name);
      expect(names).toEqual(['a', 'c']);
    }));

  for (const compression of ['none', 'gzip'] as const) {
    it(`a streamed body that fails, runs long or runs short leaves an archive that can only be aborted (${compression})`, () =>
      withTempDir(async (tmp) => {
        const failing = (async function* () {
          yield new Uint8Array(2 * MiB);
          throw new Error('the source file vanished');
        })();
        const cases: [AsyncIterable<Uint8Array>, RegExp][] = [
          [failing, /the source file vanished/],
          [unevenStream(new Uint8Array(5000), 1), /has more than the 4000 bytes its header says/],
          [unevenStream(new Uint8Array(3000), 2), /has 3000 bytes, its header says 4000/],
        ];
        for (const [i, [body, message]] of cases.entries()) {
          const w = TarWriter.create(tmp.file(`f${i}.tar`), compression);
          await w.add({ name: 'first', type: 'file', mode: 0o644, mtime: '0', size: MiB }, new Uint8Array(MiB));
          await expect(w.add({ name: 'bad', type: 'file', mode: 0o644, mtime: '0', size: i === 0 ? 3 * MiB : 4000 }, body)).rejects.toThrow(message);
          await expect(w.add({ name: 'next', type: 'directory', mode: 0o755, mtime: '0' })).rejects.toThrow(message);
          await expect(w.finish()).rejects.toThrow(message);
          expect(await readdir(tmp.path)).toEqual([]);
        }
      }));
  }

  it('abort removes the temporary file, whether blocks were written or not', () =>
    withTempDir(async (tmp) => {
      const idle = TarWriter.create(tmp.file('idle.tar'), 'gzip');
      await idle.abort();
      const w = TarWriter.create(tmp.file('a.tar.gz'), 'gzip');
      for (let i = 0; i < 6; i++) await w.add({ name: `r${i}`, type: 'file', mode: 0o644, mtime: '0', size: MiB }, new Prng(i).bytes(MiB));
      expect((await readdir(tmp.path)).filter((f) => f.endsWith('.tmp'))).toHaveLength(1);
      await w.abort();
      expect(await readdir(tmp.path)).toEqual([]);
      await expect(w.add({ name: 'late', type: 'directory', mode: 0o755, mtime: '0' })).rejects.toThrow(/aborted/);
    }));
});

describe('TarWriter abort during an add', () => {
  it('regression: an add still streaming when abort is called fails and does not create the temporary file again', () =>
    withTempDir(async (tmp) => {
      const w = TarWriter.create(tmp.file('a.tar'), 'none', { inFlight: 1 });
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let sent = 0;
      const body = (async function* () {
        for (; sent < 8; sent++) {
          if (sent === 4) await gate;
          yield new Uint8Array(MiB);
        }
      })();
      const adding = w.add({ name: 'big', type: 'file', mode: 0o644, mtime: '0', size: 8 * MiB }, body);
      while (sent < 4) await new Promise((r) => setImmediate(r));
      await w.abort();
      expect(await readdir(tmp.path)).toEqual([]);
      release();
      await expect(adding).rejects.toThrow(/aborted/);
      expect(await readdir(tmp.path)).toEqual([]);
    }));
});

const canMount = process.getuid?.() === 0 && spawnSync('mount', ['--version']).status === 0;
if (!canMount && onCi) {
  it('tmpfs can be mounted (required when CI=true: the full-disk tests need it)', () => {
    throw new Error('the full-disk tests need root and mount(8)');
  });
}

describe.skipIf(!canMount)(`TarWriter on a full disk${canMount ? '' : ' (skipped: mounting a tmpfs needs root)'}`, () => {
  it('reports ENOSPC naming the archive from add or finish, never hangs, leaves nothing and leaks no descriptor', () =>
    withTempDir(async (tmp) => {
      const disk = tmp.file('disk');
      await mkdir(disk);
      const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2560k', 'tmpfs', disk]);
      expect(mounted.status, String(mounted.stderr)).toBe(0);
      const openFds = async (): Promise<number> => (await readdir('/proc/self/fd')).length;
      const fdsBefore = await openFds();
      try {
        let fromAdd = 0;
        for (const compression of ['none', 'gzip'] as const) {
          for (const inFlight of [1, 4]) {
            for (const style of ['memory', 'stream'] as const) {
              const path = join(disk, `a-${compression}-${inFlight}-${style}.tar`);
              const w = TarWriter.create(path, compression, { inFlight });
              let stage = 'add';
              const err = await (async () => {
                for (let i = 0; i < 8; i++) {
                  const body = new Prng(i).bytes(MiB - 100);
                  await w.add({ name: `r${i}`, type: 'file', mode: 0o644, mtime: '0', size: body.length }, style === 'memory' ? body : unevenStream(body, i));
                }
                stage = 'finish';
                await w.finish();
              })().then(
                () => undefined,
                (e: unknown) => e,
              );
              if (stage === 'add') fromAdd++;
              expect(err, `${compression} ${inFlight} ${style}`).toMatchObject({ code: 'ENOSPC', message: expect.stringContaining(path) });
              await w.abort();
              expect(await readdir(disk), 'left behind').toEqual([]);
            }
          }
        }
        expect(fromAdd, 'some failures must come from add, while blocks are in flight').toBeGreaterThan(0);
        expect(await openFds(), 'file descriptors left open').toBe(fdsBefore);
      } finally {
        spawnSync('umount', ['-l', disk]);
      }
    }));
});
