/** Reading a file that changes under the read: exactly the declared size, and a flag. */
import { open, stat, truncate, writeFile, appendFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { openStable } from '../../src/tree/index.js';
import { collect } from '../backup/helpers.js';
import { withTempDir } from '../helpers/tools.js';

const mtimeOf = async (p: string): Promise<string> => (await stat(p, { bigint: true })).mtimeNs.toString();

describe('openStable', () => {
  it('reads an unchanged file as is', () =>
    withTempDir(async (tmp) => {
      await writeFile(tmp.file('f'), 'hello');
      const r = await openStable(tmp.file('f'), 5, await mtimeOf(tmp.file('f')));
      expect((await collect(r.chunks)).toString()).toBe('hello');
      expect(r.changed).toBe(false);
    }));

  it('pads a file that shrank with zeros to the declared size and flags it', () =>
    withTempDir(async (tmp) => {
      await writeFile(tmp.file('f'), Buffer.alloc(3 << 20, 7));
      const r = await openStable(tmp.file('f'), 3 << 20, await mtimeOf(tmp.file('f')));
      const it = r.chunks[Symbol.asyncIterator]();
      const first = await it.next();
      await truncate(tmp.file('f'), 1 << 20);
      const rest: Uint8Array[] = [];
      for (let n = await it.next(); !n.done; n = await it.next()) rest.push(n.value);
      const all = Buffer.concat([first.value as Uint8Array, ...rest]);
      expect(all.length).toBe(3 << 20);
      expect(all[(1 << 20) - 1]).toBe(7);
      expect(all[(2 << 20) + 5]).toBe(0);
      expect(r.changed).toBe(true);
    }));

  it('stops at the declared size when the file grew, and flags it', () =>
    withTempDir(async (tmp) => {
      await writeFile(tmp.file('f'), 'abc');
      const m = await mtimeOf(tmp.file('f'));
      await appendFile(tmp.file('f'), 'def');
      const r = await openStable(tmp.file('f'), 3, m);
      expect((await collect(r.chunks)).toString()).toBe('abc');
      expect(r.changed).toBe(true);
    }));

  it('fails with EIO naming a file that cannot be opened', () =>
    withTempDir(async (tmp) => {
      await expect(openStable(tmp.file('nope'), 1, '0')).rejects.toMatchObject({ code: 'EIO', path: tmp.file('nope') });
      const fh = await open(tmp.file('x'), 'w');
      await fh.close();
    }));
});
