/**
 * `ibt list NAME --json | head -c 16`: the reader leaves after a few bytes, the CLI's next
 * write fails with EPIPE. That used to be an uncaught 'error' event and a stack trace; now the
 * CLI ends quietly with exit status 141 (128 + SIGPIPE, what `ls | head` reports under
 * `set -o pipefail`). 141 is also the proof that EPIPE was hit: a listing short enough to fit
 * in the pipe would end 0.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fullBackup, listBackups } from '../../src/backup/index.js';
import { onCi, requireTool, withTempDir } from '../helpers/tools.js';

const CLI = join(import.meta.dirname, '../../dist/cli/main.js');
const built = existsSync(CLI);
const head = requireTool('head');

it.runIf(onCi)('the CLI is built before the tests run on CI', () => {
  expect(built).toBe(true);
});

/** More than a Linux pipe holds (64 KiB with 4 KiB pages), so the writer blocks and then meets the closed pipe. */
const LISTING_BYTES = 96 * 1024;

describe.skipIf(!built || head.skip)(`ibt with its output piped to head${built ? head.note : ' (skipped: run npm run build first)'}`, () => {
  it('regression: EPIPE crashed with a stack trace; now the CLI ends quietly, exit 141', () =>
    withTempDir(async (tmp) => {
      const src = tmp.file('docs');
      const work = tmp.file('w');
      await mkdir(src);
      await writeFile(join(src, 'a.txt'), 'a');
      await fullBackup(src, { workDir: work, compression: 'none' });
      const perBackup = JSON.stringify(await listBackups('docs', { workDir: work }), null, 2).length;
      const count = Math.ceil(LISTING_BYTES / perBackup);
      for (let i = 1; i < count; i++) await fullBackup(src, { workDir: work, compression: 'none' });

      // The status of ibt, not of head, is what matters: the group reports it on stderr.
      const script = '{ "$@"; echo "ibt exit status $?" >&2; } | head -c 16';
      const r = spawnSync('sh', ['-c', script, 'sh', process.execPath, CLI, 'list', 'docs', '--work-dir', work, '--json'], { encoding: 'utf8' });
      expect(r.stdout).toBe('[\n  {\n    "name"');
      expect(r.stderr).toBe('ibt exit status 141\n');
    }));
});
