/**
 * Where a worker thread's script is. Each layer that starts workers (the engine's pool, the
 * tree's system-call workers, the archive's codec workers) ships its script as a `.js`
 * module beside the one that starts it in `dist/`. Under vitest those modules run from
 * `src/` as TypeScript, which a worker thread cannot load, so the built copy in the package's
 * `dist/` stands in; with neither there is no script and the caller runs without workers.
 * Workers inherit the parent's node options but one: `--input-type` applies to the parent's
 * `-e` code and, inherited, makes the worker script itself fail to load.
 */
import { existsSync } from 'node:fs';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from './native-addon.js';

/**
 * The path of the worker script `distPath` (relative to `dist/`, such as
 * `'engine/rsync-worker.js'`) for the module at `moduleUrl` (its `import.meta.url`): the file
 * of that name beside the module, else the package's built copy, else undefined.
 */
export function workerScriptPath(moduleUrl: string, distPath: string): string | undefined {
  const beside = fileURLToPath(new URL(`./${posix.basename(distPath)}`, moduleUrl));
  if (existsSync(beside)) return beside;
  const root = packageRoot();
  const built = root && join(root, 'dist', ...distPath.split('/'));
  return built && existsSync(built) ? built : undefined;
}

/**
 * The parent's `execArgv` for a worker: all of it but `--input-type` (see the header), which
 * broke every worker of a process started with `node --input-type=module -e`.
 */
export function workerExecArgv(): string[] {
  const out: string[] = [];
  for (let i = 0; i < process.execArgv.length; i++) {
    const arg = process.execArgv[i]!;
    if (arg === '--input-type') i++;
    else if (!arg.startsWith('--input-type=')) out.push(arg);
  }
  return out;
}
