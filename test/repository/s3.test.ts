/**
 * The repository layer on S3 (moto on loopback): the chain suite with GLACIER archives, and
 * the command line against an `s3:` URI taken from `IBT_REPOSITORY`, credentials from the
 * environment only (as a user runs it).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectSameTree, snapshot } from '../backup/helpers.js';
import { CLI, runCli } from '../helpers/cli.js';
import { MOTO_CREDENTIALS, requireMoto, useMoto } from '../helpers/moto.js';
import { requireBuilt, withTempDir } from '../helpers/tools.js';
import { repositoryChainSuite } from './chain-suite.js';

const BUCKET = 'ibt-repo-test';
const moto = requireMoto();
const built = requireBuilt(CLI);

describe.skipIf(moto.skip)(`repositories on S3${moto.note}`, () => {
  const server = useMoto(BUCKET);
  let n = 0;

  repositoryChainSuite('s3 (moto)', async () => server.storage(`chain-${++n}`), { cold: true });

  it.skipIf(!built)('ibt init, backup, list and restore against IBT_REPOSITORY=s3:..., credentials from the environment', () =>
    withTempDir(async (tmp) => {
      const src = tmp.file('docs');
      await mkdir(join(src, 'd'), { recursive: true });
      await writeFile(join(src, 'd/x.txt'), 'hello s3');
      const env = {
        ...process.env,
        IBT_REPOSITORY: `s3:${BUCKET}/cli?endpoint=${server.endpoint}&region=us-east-1`,
        AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
        TMP: tmp.file('work'),
      };
      const ibt = (...args: string[]) => runCli(args, env);
      expect((await ibt('backup', src)).stderr).toContain('ENOREPO');
      expect((await ibt('init')).status).toBe(0);
      const first = await ibt('init');
      expect(first.status).toBe(100);
      expect(first.stderr).toContain('already exists');
      const backup = await ibt('backup', src, '--json');
      expect(backup.status, backup.stderr).toBe(0);
      const report = JSON.parse(backup.stdout) as { id: string; repository: string };
      expect(report.repository).toContain(`s3:${BUCKET}/cli`);
      const list = await ibt('list', 'docs', '--json');
      expect((JSON.parse(list.stdout) as { id: string }[]).map((b) => b.id)).toEqual([report.id]);
      const restored = await ibt('restore', 'docs', tmp.file('out'), '--work-dir', tmp.file('other-cache'));
      expect(restored.status, restored.stderr).toBe(0);
      expect(restored.stdout).toContain('fetched from');
      expectSameTree(await snapshot(tmp.file('out')), await snapshot(src));
    }));
});

