#!/usr/bin/env node
/**
 * `ibt`: the command line. `ibt rdiff …` is a drop-in for librsync's rdiff; `ibt backup`,
 * `ibt restore` and `ibt list` drive the backup API (`subcommands.ts`).
 *
 * Exit statuses: 0 done; rdiff's codes for the failures it shares (100 I/O, 101 usage, 108
 * bad parameter, …); 1 for the other failures; 107 for a bug; 130/143 after SIGINT/SIGTERM;
 * 141 when the reader of standard output closed it early (`ibt list NAME | head`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../io/native-addon.js';
import { guardStdio, print, printError, settle } from './stdio.js';
import type { Subcommand } from './command.js';

// Every command is imported when it runs, `rdiff` before anything else is even read: a
// whole `ibt rdiff` process is compared with rdiff's, and node's start-up is already most of
// the time of a small job. The backup subcommands' definitions (small, but they bring the
// error and option machinery along) load only for them and for the help; the backup API and
// rdiff's engine load when a command runs, so `ibt rdiff` loads neither tar nor the backup
// layers.

function usage(subcommands: readonly Subcommand[]): string {
  return [
    'Usage: ibt <command> [options]',
    '',
    'Commands:',
    `  ${'rdiff signature|delta|patch …'.padEnd(32)} librsync's rdiff, same arguments and exit codes`,
    ...subcommands.map((c) => `  ${`${[c.name, ...c.operands].join(' ')} [options]`.padEnd(32)} ${c.summary}`),
    '',
    "Run 'ibt <command> --help' for a command's options, 'ibt --version' for the version.",
    '',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'rdiff') return (await import('./rdiff.js')).runRdiff(rest);
  const { runSubcommand, SUBCOMMANDS } = await import('./subcommands.js');
  const sub = SUBCOMMANDS.find((c) => c.name === command);
  if (sub !== undefined) return runSubcommand(sub, rest);
  const text = usage(SUBCOMMANDS);
  switch (command) {
    case '-V':
    case '--version':
      print(`ibt ${version()}\n`);
      return 0;
    case '-h':
    case '--help':
    case 'help':
      print(text);
      return 0;
    case undefined:
      printError(text);
      return 101;
    default:
      printError(`ibt: unknown command ${JSON.stringify(command)}\n\n${text}`);
      return 101;
  }
}

/** The version in our package.json, found from wherever this file runs (`dist/` or `src/`). */
function version(): string {
  const root = packageRoot();
  if (root === undefined) throw new Error('package.json of incremental-backups-tools not found');
  return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
}

guardStdio();
// The AWS SDK warns on every run under Node 20 that its support will end; `ibt`'s output is
// for its user, and the engines field of package.json says which Node versions we support.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
main(process.argv.slice(2))
  .catch((e: unknown) => {
    printError(`ibt: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    return 107;
  })
  .then(settle)
  .then((status) => {
    process.exitCode = status;
  });
