/** Tar writing and reading: long and unicode names, compression, integrity checks, atomicity. */
import { readdir, stat } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { looksIncompressible, readTar, TarWriter } from '../../src/archive/index.js';
import { Prng } from '../helpers/data.js';
import { collect } from '../backup/helpers.js';
import { withTempDir } from '../helpers/tools.js';

const LONG = `${'ü'.repeat(70)}/${'n'.repeat(150)}`;
const chunks = (...parts: string[]): AsyncIterable<Uint8Array> =>
  (async function* () {
    for (const p of parts) yield Buffer.from(p, 'latin1');
  })();

describe('TarWriter and readTar', () => {
  for (const compression of ['gzip', 'none'] as const) {
    it(`round-trips entries (${compression}) and checks size and hash`, () =>
      withTempDir(async (tmp) => {
        const w = TarWriter.create(tmp.file('a.tar'), compression);
        await w.add({ name: LONG, type: 'file', mode: 0o644, mtime: '1700000000123456789', size: 6 }, chunks('abc', 'def'));
        await w.add({ name: 'in-memory', type: 'file', mode: 0o644, mtime: '0', size: 5 }, Buffer.from('ghijk'));
        await w.add({ name: 'd', type: 'directory', mode: 0o755, mtime: '0' });
        await w.add({ name: 'l', type: 'symlink', mode: 0o777, mtime: '4102444800000000000', linkname: 'target' });
        const summary = await w.finish();
        expect((await stat(tmp.file('a.tar'))).size).toBe(summary.size);
        const seen: [string, string, string][] = [];
        for await (const e of readTar(tmp.file('a.tar'), compression, summary)) seen.push([e.name, e.type, (await collect(e.body)).toString()]);
        expect(seen).toEqual([
          [LONG, 'file', 'abcdef'],
          ['in-memory', 'file', 'ghijk'],
          ['d', 'directory', ''],
          ['l', 'symlink', ''],
        ]);
        const wrong = { ...summary, hash: '0000000000000000' };
        await expect(collect((async function* () {
          for await (const e of readTar(tmp.file('a.tar'), compression, wrong)) yield Buffer.from(e.name);
        })())).rejects.toMatchObject({ code: 'ECORRUPT' });
      }));
  }

  it('an entry whose body has the wrong size fails, and no archive appears', () =>
    withTempDir(async (tmp) => {
      const w = TarWriter.create(tmp.file('b.tar'));
      await expect(w.add({ name: 'f', type: 'file', mode: 0o644, mtime: '0', size: 10 }, chunks('short'))).rejects.toBeDefined();
      await w.abort();
      expect(await readdir(tmp.path)).toEqual([]);
    }));

  it('a missing archive is EMISSING', async () => {
    await expect(collect((async function* () {
      for await (const e of readTar('/nonexistent/x.tar', 'none')) yield Buffer.from(e.name);
    })())).rejects.toMatchObject({ code: 'EMISSING' });
  });
});

describe('looksIncompressible', () => {
  it('tells random bytes from text, and never judges a tiny sample', () => {
    expect(looksIncompressible(new Prng(1).bytes(64 * 1024))).toBe(true);
    expect(looksIncompressible(Buffer.from('const x = 1; // a line of code\n'.repeat(2000)))).toBe(false);
    expect(looksIncompressible(new Prng(2).bytes(500))).toBe(false);
  });

  it('a gzip archive mixing stored and deflated members reads back as one stream', () =>
    withTempDir(async (tmp) => {
      const random = Buffer.from(new Prng(3).bytes(200_000));
      const text = Buffer.from('line of text\n'.repeat(20_000));
      const w = TarWriter.create(tmp.file('m.tar.gz'), 'gzip');
      for (const [i, body] of [text, random, text, random].entries()) {
        await w.add({ name: `e${i}`, type: 'file', mode: 0o644, mtime: '0', size: body.length }, chunks(body.toString('latin1')));
      }
      const summary = await w.finish();
      expect(summary.size).toBeLessThan(2 * random.length + 10_000);
      const got: number[] = [];
      for await (const e of readTar(tmp.file('m.tar.gz'), 'gzip', summary)) got.push((await collect(e.body)).length);
      expect(got).toEqual([text.length, random.length, text.length, random.length]);
    }));
});
