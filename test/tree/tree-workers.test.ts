/**
 * The tree workers' writes: a file gets exactly its bytes, mode, owner (as root) and times,
 * under its final name only once complete; a write that fails at any step leaves nothing
 * behind (no temporary file, nothing at the final name) and says which step failed, so the
 * restore can take the file over.
 */
import { lstat, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DirTree } from '../../src/io/dir-tree.js';
import { TreeWorkers } from '../../src/tree/index.js';
import { distBuilt } from '../helpers/unprivileged.js';
import { onCi, withTempDir } from '../helpers/tools.js';

const skip = !distBuilt && !onCi;
const note = skip ? ' (skipped: run npm run build first: the worker script comes from dist/)' : '';
const isRoot = process.getuid?.() === 0;

describe.skipIf(skip)(`tree worker writes${note}`, () => {
  it('write bytes, mode, owner and times to the nanosecond, and rename into place; a failed step leaves nothing', () =>
    withTempDir(async (tmp) => {
      await mkdir(join(tmp.path, 'd/blocked/inside'), { recursive: true });
      const tree = await DirTree.open(tmp.path);
      const workers = TreeWorkers.start()!;
      try {
        const mtimeNs = 1_234_567_890_123_456_789n;
        const reply = await tree.use('d', (dir) =>
          workers.write({
            files: [
              { temp: dir.entry('.a.tmp'), final: dir.entry('a'), bytes: new Uint8Array(Buffer.from('hello')), mode: 0o640, uid: 65534, gid: 65534, chown: isRoot, mtimeNs },
              { temp: dir.entry('.b.tmp'), final: dir.entry('blocked'), bytes: new Uint8Array(3), mode: 0o600, uid: 0, gid: 0, chown: false, mtimeNs },
              { temp: dir.entry('.a.tmp'), final: dir.entry('a2'), bytes: new Uint8Array(1), mode: 0o600, uid: 0, gid: 0, chown: false, mtimeNs },
            ],
          }),
        );
        expect(reply.written[0]).toEqual({ ok: true });
        expect(reply.written[1]).toMatchObject({ ok: false, step: 'rename' });
        expect(reply.written[2], 'the first file took its temporary name, renamed away since: a fresh create').toEqual({ ok: true });
        expect(await readFile(join(tmp.path, 'd/a'), 'utf8')).toBe('hello');
        const st = await lstat(join(tmp.path, 'd/a'), { bigint: true });
        expect(Number(st.mode & 0o7777n)).toBe(0o640);
        expect(st.mtimeNs).toBe(mtimeNs);
        if (isRoot) expect([st.uid, st.gid]).toEqual([65534n, 65534n]);
        expect((await readdir(join(tmp.path, 'd'))).sort()).toEqual(['a', 'a2', 'blocked']);
        expect(await readdir(join(tmp.path, 'd/blocked'))).toEqual(['inside']);
      } finally {
        workers.close();
        await tree.close();
      }
    }));

  it('a create in a directory removed meanwhile fails at the create step, and later requests still work', () =>
    withTempDir(async (tmp) => {
      await mkdir(join(tmp.path, 'gone'));
      await writeFile(join(tmp.path, 'x'), 'x');
      const tree = await DirTree.open(tmp.path);
      const workers = TreeWorkers.start()!;
      try {
        const reply = await tree.use('gone', async (dir) => {
          await import('node:fs/promises').then((fs) => fs.rmdir(join(tmp.path, 'gone')));
          return workers.write({ files: [{ temp: dir.entry('.t'), final: dir.entry('f'), bytes: new Uint8Array(1), mode: 0o600, uid: 0, gid: 0, chown: false, mtimeNs: 0n }] });
        });
        expect(reply.written[0]).toMatchObject({ ok: false, step: 'create', code: 'ENOENT' });
        const again = await tree.use('', (dir) => workers.write({ files: [{ temp: dir.entry('.t'), final: dir.entry('f'), bytes: new Uint8Array(2), mode: 0o600, uid: 0, gid: 0, chown: false, mtimeNs: 0n }] }));
        expect(again.written[0]).toEqual({ ok: true });
      } finally {
        workers.close();
        await tree.close();
      }
    }));
});
