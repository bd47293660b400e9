/**
 * Many hosts, one bucket: `ibt` processes sharing an S3 repository (moto). Two backing up
 * different names at once never interfere; two backing up the same name cannot both run (the
 * second gets ELOCKED naming the first, and nothing is lost).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listBackups, openRepository, restoreBackup } from '../../src/index.js';
import { expectSameTree, snapshot } from '../backup/helpers.js';
import { CLI, startCli } from '../helpers/cli.js';
import { randomData } from '../helpers/data.js';
import { MOTO_CREDENTIALS, requireMoto, useMoto } from '../helpers/moto.js';
import { requireBuilt, withTempDir } from '../helpers/tools.js';

const BUCKET = 'ibt-hosts';
const moto = requireMoto();
const built = requireBuilt(CLI);

describe.skipIf(moto.skip || !built)(`processes sharing one bucket${moto.note}`, () => {
  const server = useMoto(BUCKET);

  const env = (prefix: string, work: string): NodeJS.ProcessEnv => ({
    ...process.env,
    IBT_REPOSITORY: `s3:${BUCKET}/${prefix}?endpoint=${server.endpoint}&region=us-east-1`,
    AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
    TMP: work,
  });
  const ibt = (e: NodeJS.ProcessEnv, ...args: string[]) => startCli(args, e);
  const storage = (prefix: string) => server.storage(prefix);

  it('two hosts backing up different names at once both commit, each restorable', () =>
    withTempDir(async (tmp) => {
      const e1 = env('shared', tmp.file('host1'));
      expect((await ibt(e1, 'init').done).status).toBe(0);
      const sources = ['alpha', 'beta'].map((n) => tmp.file(n));
      for (const [i, s] of sources.entries()) {
        await mkdir(join(s, 'd'), { recursive: true });
        for (let f = 0; f < 30; f++) await writeFile(join(s, `d/${f}`), randomData(i * 100 + f, 5000));
      }
      const runs = sources.map((s, i) => ibt(env('shared', tmp.file(`host${i + 1}`)), 'backup', s).done);
      for (const r of await Promise.all(runs)) expect(r.status, r.stderr).toBe(0);
      const repo = await openRepository(storage('shared'), { cacheDir: tmp.file('reader') });
      for (const s of sources) {
        const name = s.split('/').pop()!;
        expect(await listBackups(name, { repository: repo })).toHaveLength(1);
        await restoreBackup(name, tmp.file(`out-${name}`), { repository: repo });
        expectSameTree(await snapshot(tmp.file(`out-${name}`)), await snapshot(s));
      }
    }));

  it('two hosts backing up the same name at once: the second gets ELOCKED naming the first, which commits', () =>
    withTempDir(async (tmp) => {
      expect((await ibt(env('one-name', tmp.file('h1')), 'init').done).status).toBe(0);
      const src = tmp.file('docs');
      await mkdir(src);
      await writeFile(join(src, 'big.bin'), randomData(1, 48 << 20));
      const first = ibt(env('one-name', tmp.file('h1')), 'backup', src, '--compression', 'none');
      const s = storage('one-name');
      for (let i = 0; ; i++) {
        const locks: string[] = [];
        for await (const k of s.list('docs/locks/')) locks.push(k);
        if (locks.length > 0) break;
        if (i > 400) throw new Error('the first backup never took its lock');
        await new Promise((r) => setTimeout(r, 25));
      }
      const second = await ibt(env('one-name', tmp.file('h2')), 'backup', src).done;
      const one = await first.done;
      expect(one.status, one.stderr).toBe(0);
      expect(second.status).toBe(1);
      expect(second.stderr).toContain('ELOCKED');
      expect(second.stderr).toContain(`pid ${first.pid}`);
      const repo = await openRepository(s, { cacheDir: tmp.file('reader') });
      expect(await listBackups('docs', { repository: repo })).toHaveLength(1);
    }));
});
