/**
 * The backup subcommands of `ibt` and how one runs: read its command line, catch the
 * signals while an abortable operation runs, print its failure.
 *
 * Output conventions, which scripts rely on: a usage error prints `ibt CMD: message` and the
 * subcommand's help on standard error, exit 101; a failure prints `ibt: CODE: message` (no
 * stack trace) and exits with the error's `exitCode` (or 130/143 after a signal, see
 * `signals.ts`).
 */
import { isBackupError } from '../errors.js';
import { backupCommand } from './backup.js';
import { helpOf, readCommandLine, type Subcommand } from './command.js';
import { initCommand } from './init.js';
import { listCommand } from './list.js';
import { restoreCommand } from './restore.js';
import { catchSignals } from './signals.js';
import { unlockCommand } from './unlock.js';
import { print, printError } from './stdio.js';

/** Every subcommand but `rdiff`, in the order `ibt --help` lists them. */
export const SUBCOMMANDS: readonly Subcommand[] = [initCommand, backupCommand, restoreCommand, listCommand, unlockCommand];

/**
 * Run the subcommand `cmd` with its arguments; resolves to the process exit status. Errors
 * other than {@link BackupError}s (bugs) are thrown.
 */
export async function runSubcommand(cmd: Subcommand, args: string[]): Promise<number> {
  const interrupts = cmd.abortable ? catchSignals() : undefined;
  try {
    const line = readCommandLine(cmd, SUBCOMMANDS, args);
    if (line === undefined) {
      print(helpOf(cmd));
      return 0;
    }
    await cmd.run(line, interrupts?.signal);
    return 0;
  } catch (e) {
    if (!isBackupError(e)) throw e;
    if (e.code === 'ESYNTAX') printError(`ibt ${cmd.name}: ${e.message}\n\n${helpOf(cmd)}`);
    else printError(`ibt: ${e.code}: ${e.message}\n`);
    return interrupts?.exitStatus ?? e.exitCode;
  } finally {
    interrupts?.dispose();
  }
}
