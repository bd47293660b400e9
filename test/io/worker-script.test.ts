/**
 * Finding a worker thread's script: beside the module that starts it (running from `dist/`),
 * else the package's built copy (running from `src/` under vitest), else none.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/io/native-addon.js';
import { workerScriptPath } from '../../src/io/worker-script.js';
import { requireBuilt, withTempDir } from '../helpers/tools.js';

const built = join(packageRoot()!, 'dist', 'engine', 'rsync-worker.js');

describe('workerScriptPath', () => {
  it('takes the script beside the module first', async () => {
    await withTempDir(async (dir) => {
      await writeFile(dir.file('rsync-worker.js'), '');
      const moduleUrl = pathToFileURL(dir.file('worker-pool.js')).href;
      expect(workerScriptPath(moduleUrl, 'engine/rsync-worker.js')).toBe(dir.file('rsync-worker.js'));
    });
  });

  it.skipIf(!existsSync(built))('falls back on the package\'s built copy under dist/', async () => {
    await withTempDir(async (dir) => {
      const moduleUrl = pathToFileURL(dir.file('worker-pool.ts')).href;
      expect(workerScriptPath(moduleUrl, 'engine/rsync-worker.js')).toBe(built);
    });
  });

  it('is undefined where neither exists', async () => {
    await withTempDir(async (dir) => {
      const moduleUrl = pathToFileURL(dir.file('worker-pool.ts')).href;
      expect(workerScriptPath(moduleUrl, 'engine/no-such-worker.js')).toBeUndefined();
    });
  });
});

const distScript = join(packageRoot()!, 'dist/io/worker-script.js');
const distBuilt = requireBuilt(distScript);

describe.skipIf(!distBuilt)(`workerExecArgv${distBuilt ? '' : ' (skipped: run npm run build first)'}`, () => {
  it('regression: a process run with V8 flags (node --expose-gc) failed every backup with ERR_WORKER_INVALID_EXEC_ARGV; they are left out, other flags kept', () => {
    const code = `
      import { Worker } from 'node:worker_threads';
      import { workerExecArgv } from ${JSON.stringify(pathToFileURL(distScript).href)};
      const argv = workerExecArgv();
      new Worker('process.exit(0)', { eval: true, execArgv: argv }).on('exit', (c) => console.log(JSON.stringify({ argv, c })));`;
    const run = spawnSync(process.execPath, ['--expose-gc', '--max-old-space-size=900', '--trace-warnings', '--input-type=module', '-e', code], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    const { argv, c } = JSON.parse(run.stdout) as { argv: string[]; c: number };
    expect(c).toBe(0);
    expect(argv).toContain('--trace-warnings');
    expect(argv.filter((a) => a.startsWith('--expose-gc') || a.startsWith('--max-old-space-size') || a.startsWith('--input-type'))).toEqual([]);
  });
});
