/**
 * `at` parity: one string ends the same way through `parseAt`, through the API's
 * `restoreBackup` and through `ibt restore --at`. The API and the CLI used to disagree (the API
 * refused an ISO date the CLI accepted; `yesterday` was ENOTFOUND in one and EPARAM in the
 * other). The CLI hands the string to the API untouched, so this holds once the API reads
 * `at` with `parseAt`.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fullBackup, restoreBackup } from '../../src/index.js';
import { isBackupError } from '../../src/errors.js';
import { parseAt } from '../../src/state/at.js';
import { onCi, withTempDir } from '../helpers/tools.js';

const CLI = join(import.meta.dirname, '../../dist/cli/main.js');
const built = existsSync(CLI);

it.runIf(onCi)('the CLI is built before the tests run on CI', () => {
  expect(built).toBe(true);
});

/** `ok`, or the code of the BackupError `fn` threw. */
async function outcome(fn: () => unknown): Promise<string> {
  try {
    await fn();
    return 'ok';
  } catch (e) {
    if (isBackupError(e)) return e.code;
    throw e;
  }
}

/** `ok`, or the code `ibt` printed as `ibt: CODE: message`, with the exit status it goes with. */
function cliOutcome(args: string[]): Promise<{ outcome: string; status: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (status) => resolve({ outcome: status === 0 ? 'ok' : (/^ibt: ([A-Z]+): /.exec(stderr)?.[1] ?? stderr), status }));
  });
}

const EXIT: Record<string, number> = { ok: 0, EPARAM: 108, ENOTFOUND: 1 };

describe.skipIf(!built)(`at: parseAt, restoreBackup and ibt restore --at agree${built ? '' : ' (skipped: run npm run build first)'}`, () => {
  it('regression: an ISO date was refused by the API and accepted by the CLI, "yesterday" was ENOTFOUND in one and EPARAM in the other', () =>
    withTempDir(async (tmp) => {
      const src = tmp.file('docs');
      const work = tmp.file('w');
      await mkdir(src);
      await writeFile(join(src, 'a.txt'), 'a');
      const { id } = await fullBackup(src, { workDir: work, compression: 'none' });

      // [at, what the API and the CLI must both end with]
      const cases: [string, string][] = [
        [id, 'ok'],
        ['2999-12-31', 'ok'],
        ['2999-01-01T00:00Z', 'ok'],
        ['2999-01-01T00:00:00.000+02:00', 'ok'],
        ['2000-01-01', 'ENOTFOUND'],
        ['20000101T000000000Z-000', 'ENOTFOUND'],
        ['yesterday', 'EPARAM'],
        ['', 'EPARAM'],
        ['2024-02-30', 'EPARAM'],
      ];
      const seen = [];
      for (const [i, [at]] of cases.entries()) {
        const parsed = await outcome(() => parseAt(at));
        const api = await outcome(() => restoreBackup('docs', tmp.file(`api-${i}`), { at, workDir: work }));
        const cli = await cliOutcome(['restore', 'docs', tmp.file(`cli-${i}`), '--work-dir', work, '--at', at]);
        seen.push({ at, parsed, api, cli: cli.outcome, status: cli.status });
      }
      expect(seen).toEqual(
        cases.map(([at, want]) => ({ at, parsed: want === 'EPARAM' ? 'EPARAM' : 'ok', api: want, cli: want, status: EXIT[want] })),
      );
    }));
});
