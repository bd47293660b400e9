/**
 * `ibt backup`, `ibt restore` and `ibt list`, run as a user runs them (the built CLI in a
 * child process): output, exit codes, and typed errors printed as `ibt: CODE: message`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withTempDir } from '../helpers/tools.js';

const CLI = resolve('dist/cli/main.js');
const built = existsSync(CLI);
const ibt = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

describe.skipIf(!built)(`ibt backup / restore / list${built ? '' : ' (skipped: run npm run build first)'}`, () => {
  it('backs up, lists and restores, at an id', () =>
    withTempDir(async (tmp) => {
      await mkdir(tmp.file('docs'));
      await writeFile(tmp.file('docs/a.txt'), 'first');
      const w = tmp.file('w');
      const full = ibt('backup', tmp.file('docs'), '--work-dir', w, '--json');
      expect(full.status, full.stderr).toBe(0);
      const fullId = JSON.parse(full.stdout).id as string;
      await writeFile(tmp.file('docs/a.txt'), 'second');
      const inc = ibt('backup', tmp.file('docs'), '--work-dir', w, '--lock-timeout', '0.5');
      expect(inc.status, inc.stderr).toBe(0);
      expect(inc.stdout).toMatch(/^incremental backup \S+ of docs: 1 entries, 0 created, 1 modified/);
      const list = ibt('list', 'docs', '--work-dir', w);
      expect(list.stdout.trim().split('\n').map((l) => l.split(/\s+/)[1])).toEqual(['full', 'incremental']);
      const r = ibt('restore', 'docs', tmp.file('out'), '--work-dir', w, '--at', fullId);
      expect(r.status, r.stderr).toBe(0);
      expect(await readFile(tmp.file('out/a.txt'), 'utf8')).toBe('first');
      const json = ibt('restore', 'docs', tmp.file('latest'), '--work-dir', w, '--json');
      expect(json.status, json.stderr).toBe(0);
      expect(JSON.parse(json.stdout)).toMatchObject({ name: 'docs', target: tmp.file('latest'), stats: { files: 1 } });
      expect(await readFile(tmp.file('latest/a.txt'), 'utf8')).toBe('second');
      const one = ibt('restore', 'docs', tmp.file('one'), '--work-dir', w, '--concurrency', '1');
      expect(one.status, one.stderr).toBe(0);
      expect(await readFile(tmp.file('one/a.txt'), 'utf8')).toBe('second');
      const bad = ibt('restore', 'docs', tmp.file('bad'), '--work-dir', w, '--concurrency', 'many');
      expect(bad.status).toBe(101);
      expect(bad.stderr).toMatch(/^ibt restore: --concurrency takes a whole number of files, not "many"/);
    }));

  it('prints typed errors without a stack trace', () =>
    withTempDir(async (tmp) => {
      const missing = ibt('restore', 'nothing', tmp.file('out'), '--work-dir', tmp.path);
      expect(missing.status).toBe(1);
      expect(missing.stderr).toMatch(/^ibt: ENOTFOUND: no backup named "nothing"/);
      expect(missing.stderr).not.toMatch(/\n\s+at /);
      const source = ibt('backup', tmp.file('nope'), '--work-dir', tmp.path);
      expect(source.stderr).toMatch(/^ibt: ESOURCE: /);
      const invalid = ibt('backup', tmp.path, '--work-dir', tmp.file('w'), '--compression', 'zip');
      expect(invalid.status).toBe(108);
      expect(invalid.stderr).toMatch(/^ibt: EPARAM: compression must be none, gzip or zstd, not "zip"\n$/);
      const usage = ibt('backup');
      expect(usage.status).toBe(101);
      expect(usage.stderr).toMatch(/Usage: ibt backup SOURCE/);
    }));

  it('regression: ibt list of an unknown name printed nothing and exited 0; now ENOTFOUND, as restore says it', () =>
    withTempDir(async (tmp) => {
      const list = ibt('list', 'nothing', '--work-dir', tmp.path);
      const restore = ibt('restore', 'nothing', tmp.file('out'), '--work-dir', tmp.path);
      expect(list.status).toBe(1);
      expect(list.stdout).toBe('');
      expect(list.stderr).toBe(`ibt: ENOTFOUND: no backup named "nothing" in ${join(tmp.path, 'nothing')}\n`);
      expect(list.stderr).toBe(restore.stderr);
    }));
});
