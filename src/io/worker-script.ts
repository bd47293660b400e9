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
import { Worker } from 'node:worker_threads';
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
 * broke every worker of a process started with `node --input-type=module -e`, and the flags
 * a worker refuses (V8's, such as `--expose-gc` or `--max-old-space-size`: they are
 * process-wide, so the workers have them anyway), which failed every backup run under them.
 * Node names the refused flags when a worker is constructed with them; that construction
 * throws before any thread starts, and is tried once per process.
 */
export function workerExecArgv(): string[] {
  refusedFlags ??= findRefused(withoutInputType(process.execArgv));
  return withoutInputType(process.execArgv).filter((a) => !refusedFlags!.has(a));
}

let refusedFlags: Set<string> | undefined;

function withoutInputType(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--input-type') i++;
    else if (!arg.startsWith('--input-type=')) out.push(arg);
  }
  return out;
}

/** The flags of `argv` a worker refuses, as Node lists them in ERR_WORKER_INVALID_EXEC_ARGV. */
function findRefused(argv: string[]): Set<string> {
  if (argv.length === 0) return new Set();
  try {
    // An empty argv list for the script itself: only execArgv is checked, then the worker is stopped at once.
    void new Worker('', { eval: true, execArgv: argv }).terminate();
    return new Set();
  } catch (e) {
    const listed = /invalid execArgv flags: (.*)$/.exec((e as Error).message)?.[1];
    return new Set(listed ? listed.split(', ') : argv);
  }
}
