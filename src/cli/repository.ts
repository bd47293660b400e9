/**
 * The repository a command works on: `--repo URI`, else `$IBT_REPOSITORY`, else none (the
 * work directory is then the repository, as before repositories). Credentials never come from
 * the command line: the AWS SDK's chain (environment, `~/.aws` profiles) or B2's variables.
 *
 * On a terminal, bytes uploaded and fetched are shown on one line of standard error,
 * rewritten at most a few times a second and ended when the command ends; off a terminal
 * nothing is printed, so logs and pipes stay clean.
 */
import type { Repository } from '../repository/index.js';
import type { TransferEvent } from '../storage/index.js';
import type { CommandLine } from './command.js';
import { printError } from './stdio.js';

/** How often the transfer line is rewritten, at most. */
const REDRAW_MS = 250;

/** The repository URI of a command line, if any. */
export function repositoryUri(line: CommandLine): string | undefined {
  return line.string('repo') ?? (process.env.IBT_REPOSITORY || undefined);
}

/** A transfer line on standard error when it is a terminal. */
export class TransferMeter {
  private last = 0;
  private drawn = false;
  private readonly tty = process.stderr.isTTY === true;

  /** Receives the repository's transfer events. */
  readonly onTransfer = (e: TransferEvent): void => {
    if (!this.tty) return;
    const now = Date.now();
    if (now - this.last < REDRAW_MS) return;
    this.last = now;
    this.drawn = true;
    printError(`\r\x1b[Kuploaded ${mib(e.uploaded)}, fetched ${mib(e.fetched)}, ${e.requests} requests`);
  };

  /** End the line, if one was drawn. */
  done(): void {
    if (this.drawn) printError('\n');
    this.drawn = false;
  }
}

function mib(bytes: number): string {
  return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}

/** Open the repository of `line` (none: undefined), its cache in `--work-dir`, its transfers shown on `meter`. */
export async function openFromLine(line: CommandLine, meter: TransferMeter): Promise<Repository | undefined> {
  const uri = repositoryUri(line);
  if (uri === undefined) return undefined;
  const { openRepository } = await import('../repository/index.js');
  return openRepository(uri, { cacheDir: line.string('work-dir'), onTransfer: meter.onTransfer });
}
