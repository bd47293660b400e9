/**
 * Atomic writes: the file appears complete under its name or not at all, whichever way the
 * writer fills it, and a failure leaves no temporary file behind.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { BackupError } from '../../src/errors.js';
import { writeAtomically, writeFileAtomic } from '../../src/io/atomic-write.js';
import { withTempDir } from '../helpers/tools.js';

describe('writeAtomically', () => {
  it('takes positioned writes in any order and resolves to what the writer gives', () =>
    withTempDir(async (tmp) => {
      const got = await writeAtomically(tmp.file('out'), async (out) => {
        await out.write(Buffer.from('world'), 0, 5, 6);
        await out.write(Buffer.from('hello '), 0, 6, 0);
        return 'done';
      });
      expect(got).toBe('done');
      expect(await readFile(tmp.file('out'), 'utf8')).toBe('hello world');
      expect(await readdir(tmp.path)).toEqual(['out']);
    }));

  it('leaves neither the file nor a temporary one when the writer fails, and names the file given', () =>
    withTempDir(async (tmp) => {
      const failing = writeAtomically(
        tmp.file('out'),
        async (out) => {
          await out.write(Buffer.from('half'));
          throw new BackupError('ECORRUPT', 'the delta is broken');
        },
        { errorPath: 'the-delta' },
      );
      await expect(failing).rejects.toMatchObject({ code: 'ECORRUPT', path: 'the-delta' });
      expect(await readdir(tmp.path)).toEqual([]);
    }));

  it('refuses an existing file unless told to overwrite it', () =>
    withTempDir(async (tmp) => {
      await writeFile(tmp.file('out'), 'old');
      const write = (overwrite: boolean) => writeFileAtomic(tmp.file('out'), (async function* () { yield Buffer.from('new'); })(), { overwrite });
      await expect(write(false)).rejects.toMatchObject({ code: 'EEXIST', path: tmp.file('out') });
      expect(await readFile(tmp.file('out'), 'utf8')).toBe('old');
      expect(await write(true)).toBe(3);
      expect(await readFile(tmp.file('out'), 'utf8')).toBe('new');
      expect(await readdir(tmp.path)).toEqual(['out']);
    }));
});
