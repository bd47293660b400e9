/** `ibt backup|restore|list`: the backup commands of the CLI. */

/** Run a backup subcommand with its arguments; resolves to the process exit code. */
export async function runBackupCommand(command: string, _args: string[]): Promise<number> {
  process.stderr.write(`ibt: ${command} is not implemented yet\n`);
  return 1;
}
