#!/usr/bin/env node
/**
 * `ibt`: the command line. `ibt rdiff …` is a drop-in for librsync's rdiff; `ibt backup`,
 * `ibt restore` and `ibt list` drive the backup API.
 */

// Commands are imported when run: `ibt rdiff` then loads neither tar nor the backup layers,
// which keeps its start-up time and memory close to the engine's own.

const USAGE = `Usage: ibt <command> [options]

Commands:
  rdiff signature|delta|patch ...   librsync's rdiff, same arguments and exit codes
  backup SOURCE [options]           full or incremental backup of a directory
  restore NAME TARGET [options]     restore a backup, at any point of its chain
  list NAME [options]               list the backups of a name

Run 'ibt <command> --help' for a command's options.
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'rdiff':
      return (await import('./rdiff.js')).runRdiff(rest);
    case 'backup':
    case 'restore':
    case 'list':
      return (await import('./backup.js')).runBackupCommand(command, rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return command === undefined ? 101 : 0;
    default:
      process.stderr.write(`ibt: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
      return 101;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`ibt: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 107;
  },
);
