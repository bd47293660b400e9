/**
 * `ibt backup SOURCE`: a full or incremental backup of a directory, a thin wrapper over
 * `incrementalBackup` and `fullBackup`. Warnings print as `ibt: warning: CODE: path: message`
 * on standard error; the report goes to standard output, as text or JSON.
 */
import type { Compression } from '../backup/index.js';
import { BackupError } from '../errors.js';
import { REPO, WORK_DIR, type CommandLine, type Subcommand } from './command.js';
import { openFromLine, TransferMeter } from './repository.js';
import { print, printError } from './stdio.js';

/** The definition of `ibt backup`. */
export const backupCommand: Subcommand = {
  name: 'backup',
  operands: ['SOURCE'],
  summary: 'full or incremental backup of a directory',
  description: 'Back up the directory SOURCE: incremental when a backup of its name exists, else full.',
  options: {
    name: { type: 'string', value: 'NAME', help: "backup name (default: SOURCE's base name)" },
    repo: REPO,
    'work-dir': WORK_DIR,
    full: { type: 'boolean', help: 'start a new chain even when a backup of this name exists' },
    exclude: { type: 'string', multiple: true, value: 'PATTERN', help: 'gitignore pattern to leave out' },
    'exclude-file': { type: 'string', value: 'FILE', help: 'ignore file at the source root (default: .exclude)' },
    include: { type: 'string', multiple: true, value: 'GLOB', help: 'only back up matching entries' },
    checksum: { type: 'boolean', help: 'compare content hashes instead of size and mtime' },
    compression: { type: 'string', value: 'zstd|gzip|none', help: 'compression of the archives (default: zstd where zstd-napi loads, else gzip)' },
    strict: { type: 'boolean', help: 'turn warnings into errors' },
    'lock-timeout': { type: 'string', value: 'SECONDS', help: 'wait this long for another run of this name (default: 0)' },
    json: { type: 'boolean', help: 'print the report as JSON' },
  },
  example: "ibt backup ~/docs --repo s3:my-bucket/hosts/web1 --exclude '*.log' --lock-timeout 60",
  abortable: true,
  async run(line, signal) {
    const { fullBackup, incrementalBackup } = await import('../backup/index.js');
    const run = line.flag('full') ? fullBackup : incrementalBackup;
    const meter = new TransferMeter();
    const repository = await openFromLine(line, meter);
    const report = await run(line.operands[0]!, {
      name: line.string('name'),
      workDir: line.string('work-dir'),
      repository,
      exclude: line.strings('exclude'),
      excludeFile: line.string('exclude-file'),
      include: line.strings('include'),
      checksum: line.flag('checksum'),
      // The API validates the value and names the field; the CLI passes it on as typed.
      compression: line.string('compression') as Compression | undefined,
      strict: line.flag('strict'),
      lockTimeout: lockTimeout(line),
      signal,
    }).finally(() => meter.done());
    for (const w of report.warnings) printError(`ibt: warning: ${w.code}: ${w.path}: ${w.message}\n`);
    if (line.flag('json')) {
      print(`${JSON.stringify(report, null, 2)}\n`);
      return;
    }
    const s = report.stats;
    print(
      `${report.kind} backup ${report.id} of ${report.name}: ${s.scanned} entries, ${s.created} created, ${s.modified} modified, ` +
        `${s.deleted} deleted, ${s.unchanged} unchanged; ${s.bytesWritten} bytes written in ${s.durationMs} ms\n`,
    );
    if (report.resumed) print(`  committed ${report.resumed.join(', ')}, left uncommitted by a run that stopped\n`);
    for (const f of report.files) print(`  ${f.role.padEnd(8)} ${String(f.size).padStart(12)}  ${f.path}\n`);
  },
};

/** `--lock-timeout SECONDS` in milliseconds, as `BackupOptions.lockTimeout` takes it. */
function lockTimeout(line: CommandLine): number | undefined {
  const text = line.string('lock-timeout');
  if (text === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(text)) throw new BackupError('ESYNTAX', `--lock-timeout takes a number of seconds, not ${JSON.stringify(text)}`);
  return Math.round(Number(text) * 1000);
}
