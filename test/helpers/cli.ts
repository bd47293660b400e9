/**
 * Running `ibt` as a user runs it: the built CLI in a child process, its output collected.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

/** The built CLI (`npm run build`). */
export const CLI = join(import.meta.dirname, '../../dist/cli/main.js');

/** How a run of `ibt` ended. */
export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Start `ibt ARGS` with `env` (default this process's): its pid, and its end. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = process.env): { pid: number; done: Promise<CliRun> } {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const done = new Promise<CliRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
  return { pid: child.pid!, done };
}

/** Run `ibt ARGS` with `env` to its end. */
export function runCli(args: string[], env?: NodeJS.ProcessEnv): Promise<CliRun> {
  return startCli(args, env).done;
}
