/**
 * `ibt init`, `ibt unlock` and `--repo` on a local-directory repository, run as a user runs
 * them (the built CLI in a child process): a stale lock of another host blocks a backup with a
 * message that says what to do, `ibt unlock` removes it, and the backup then goes through.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectSameTree, snapshot } from '../backup/helpers.js';
import { CLI, runCli } from '../helpers/cli.js';
import { requireBuilt, withTempDir } from '../helpers/tools.js';

const built = requireBuilt(CLI);
const ibt = (env: NodeJS.ProcessEnv, ...args: string[]) => runCli(args, env);

describe.skipIf(!built)(`ibt with --repo${built ? '' : ' (skipped: run npm run build first)'}`, () => {
  it('a stale lock of another host: backup says ELOCKED, stale and `ibt unlock`; unlock removes it; the backup then commits', () =>
    withTempDir(async (tmp) => {
      const repo = tmp.file('repo');
      const env = { ...process.env, TMP: tmp.file('work'), IBT_REPOSITORY: '' };
      const src = tmp.file('docs');
      await mkdir(src);
      await writeFile(join(src, 'a.txt'), 'a');
      expect((await ibt(env, 'backup', src, '--repo', repo)).stderr).toContain('ENOREPO');
      const init = await ibt(env, 'init', '--repo', repo);
      expect(init.status, init.stderr).toBe(0);
      expect(init.stdout).toContain(`at ${repo}`);
      const id = randomBytes(16).toString('hex');
      const at = new Date(Date.now() - 3_600_000).toISOString();
      await mkdir(join(repo, 'docs/locks'), { recursive: true });
      const lock = { format: 'ibt-lock', version: 1, id, operation: 'backup of /elsewhere', exclusive: true, hostname: 'other.example', pid: 4242, user: 'bob', createdAt: at };
      await writeFile(join(repo, `docs/locks/${at.replace(/[-:.]/g, '')}-${id}.json`), JSON.stringify(lock));
      const blocked = await ibt(env, 'backup', src, '--repo', repo);
      expect(blocked.status).toBe(1);
      expect(blocked.stderr).toMatch(/ELOCKED.*stale/s);
      expect(blocked.stderr).toContain('ibt unlock');
      const unlocked = await ibt(env, 'unlock', 'docs', '--repo', repo);
      expect(unlocked.status, unlocked.stderr).toBe(0);
      expect(unlocked.stdout).toContain('removed');
      expect(unlocked.stdout).toContain('other.example');
      const done = await ibt({ ...env, IBT_REPOSITORY: repo }, 'backup', src);
      expect(done.status, done.stderr).toBe(0);
      const restored = await ibt({ ...env, IBT_REPOSITORY: repo }, 'restore', 'docs', tmp.file('out'));
      expect(restored.status, restored.stderr).toBe(0);
      expectSameTree(await snapshot(tmp.file('out')), await snapshot(src));
      expect((await ibt(env, 'unlock', 'docs', '--repo', repo)).stdout).toBe('no locks\n');
    }));
});
