/**
 * Ctrl-C during `ibt backup`: the CLI aborts the backup through its AbortSignal, the API
 * removes what it wrote, and the CLI exits as the signal would have killed it (130, 143).
 * Killed outright, a backup used to leave its partial archive (175 MB in the report) until the
 * next run. The source is one sparse file: hundreds of MB to read, nothing to write first.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { onCi, withTempDir } from '../helpers/tools.js';

const CLI = join(import.meta.dirname, '../../dist/cli/main.js');
const built = existsSync(CLI);

it.runIf(onCi)('the CLI is built before the tests run on CI', () => {
  expect(built).toBe(true);
});

/** Large enough that the backup runs for seconds after its first file appears. */
const SIZE = 512 << 20;

/** What a backup writes: temporary files, archives, the state. */
const WRITTEN = /\.tmp$|\.tar(\.gz)?$|\.state\.json(\.gz)?$/;

/** Every file under `dir`, relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => !e.isDirectory()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

describe.skipIf(!built)(`ibt backup interrupted${built ? '' : ' (skipped: run npm run build first)'}`, () => {
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('regression: %s left a partial archive; now the backup is aborted and cleaned up, exit %i', (signal, status) =>
    withTempDir(async (tmp) => {
      const src = tmp.file('big');
      const work = tmp.file('w');
      await mkdir(src);
      await writeFile(join(src, 'big.bin'), '');
      await truncate(join(src, 'big.bin'), SIZE);
      const child = spawn(process.execPath, [CLI, 'backup', src, '--work-dir', work], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
      child.stdout.resume();
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));

      // Signal once the backup is writing: its first archive or spool file exists.
      let started = false;
      while (!started && child.exitCode === null && child.signalCode === null) {
        started = (await filesUnder(work)).some((f) => WRITTEN.test(f));
        if (!started) await sleep(10);
      }
      expect(started, 'the backup wrote nothing before it ended').toBe(true);
      child.kill(signal);

      expect(await exited).toBe(status);
      expect(stderr).toMatch(/^ibt: EABORTED: .*aborted\n$/);
      expect((await filesUnder(work)).filter((f) => WRITTEN.test(f))).toEqual([]);
    }),
  );
});
