/**
 * The attacker of the anchored-directory race tests: another process that keeps swapping a
 * directory for a symlink to an outside directory and back, as another local user could while
 * a restore or a removal runs.
 */
import { spawn } from 'node:child_process';

/** A running swapper: `started` settles once it swaps; `stop` ends it and waits for its exit. */
export interface Swapper {
  /** Resolves when the child is about to swap (starting node takes longer than a small test). */
  readonly started: Promise<void>;
  /** Kill the child (by its handle) and wait until it has exited. */
  stop(): Promise<void>;
}

/**
 * Start a child that renames each of `dirs` to `<dir>.real` and puts a symlink to `outside` in
 * its place, then undoes both for each, in a loop (at most 2 minutes, in case the test dies
 * without stopping it). Each directory is thus a symlink for half of a cycle and a directory
 * for the other half.
 */
export function startSwapper(dirs: string[], outside: string): Swapper {
  const script = `
    const fs = require('node:fs');
    const [outside, ...dirs] = process.argv.slice(1);
    process.stdout.write('started\\n');
    const deadline = Date.now() + 120000;
    while (Date.now() < deadline) {
      for (const d of dirs) try { fs.renameSync(d, d + '.real'); fs.symlinkSync(outside, d); } catch {}
      for (const d of dirs) try { fs.unlinkSync(d); fs.renameSync(d + '.real', d); } catch {}
    }`;
  const child = spawn(process.execPath, ['-e', script, outside, ...dirs], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const started = new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('error', reject);
    child.once('exit', () => reject(new Error('the swapper exited before it started')));
  });
  // A test that fails before awaiting `started` must not also raise an unhandled rejection.
  started.catch(() => undefined);
  return {
    started,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill();
      await exited;
    },
  };
}
