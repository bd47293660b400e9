/**
 * Finding a worker thread's script: beside the module that starts it (running from `dist/`),
 * else the package's built copy (running from `src/` under vitest), else none.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/io/native-addon.js';
import { workerScriptPath } from '../../src/io/worker-script.js';
import { withTempDir } from '../helpers/tools.js';

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
