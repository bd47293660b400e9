/**
 * Standard output and error of `ibt`, safe when the reader goes away.
 *
 * `ibt list NAME --json | head` closes the pipe after a few lines. Node ignores SIGPIPE, so
 * the next write fails with EPIPE, reported as an 'error' event on `process.stdout`; with no
 * listener that is an uncaught exception and a stack trace. Here the first EPIPE marks
 * standard output as closed, later writes are dropped, the command ends normally (a backup
 * or restore has finished its work before it prints), and the exit status is 141 (128 +
 * SIGPIPE), what `ls | head` reports under `set -o pipefail`: the output was cut short, and a
 * script may want to know. A command that failed keeps its own status. Any other failure to
 * write standard output (a full disk under `> file`) is reported on standard error as an
 * `EIO` or `ENOSPC` (exit 100). Write errors on standard error are dropped: there is nowhere
 * left to report them.
 */
import { type BackupError, wrapIoError } from '../errors.js';

/** Exit status when standard output was closed by its reader. */
const EXIT_BROKEN_PIPE = 141;

let closed = false;
let failure: BackupError | undefined;

/** Install the 'error' listeners; call once, before anything is printed. */
export function guardStdio(): void {
  process.stdout.on('error', outputFailed);
  process.stderr.on('error', () => undefined);
}

/** Write `text` to standard output, unless it is closed. */
export function print(text: string): void {
  if (closed) return;
  try {
    process.stdout.write(text);
  } catch (e) {
    outputFailed(e);
  }
}

/** Write `text` to standard error. */
export function printError(text: string): void {
  try {
    process.stderr.write(text);
  } catch {
    // Standard error is gone too: nothing can be reported.
  }
}

/**
 * The exit status of a command that returned `status`, once what it printed is written (pipes
 * are asynchronous on some systems) and the write errors have been delivered (they arrive on a
 * later tick than the write).
 */
export async function settle(status: number): Promise<number> {
  if (!closed) await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  await new Promise((resolve) => setImmediate(resolve));
  if (failure !== undefined) {
    printError(`ibt: ${failure.code}: ${failure.message}\n`);
    return status === 0 ? failure.exitCode : status;
  }
  return closed && status === 0 ? EXIT_BROKEN_PIPE : status;
}

function outputFailed(e: unknown): void {
  if (closed) return;
  closed = true;
  if ((e as NodeJS.ErrnoException | undefined)?.code !== 'EPIPE') failure = wrapIoError(e, 'standard output', 'writing');
}
