/**
 * `ibt backup|restore|list`: the backup commands of the CLI, thin wrappers over the API.
 * Typed errors print as `ibt: CODE: message` (no stack trace) and exit with the error's code;
 * warnings go to stderr as `ibt: warning: CODE: path: message`.
 */
import { parseArgs } from 'node:util';
import { fullBackup, incrementalBackup, listBackups, restoreBackup } from '../backup/index.js';
import type { EngineChoice } from '../engine/engine.js';
import { LocalStorage } from '../storage/index.js';
import { isBackupError } from '../errors.js';

const HELP: Record<string, string> = {
  backup: `Usage: ibt backup SOURCE [options]
  --name NAME            backup name (default: SOURCE's base name)
  --work-dir DIR         where artifacts and states live (default: $TMP or the OS temp dir)
  --full                 start a new chain (default: incremental, full when none exists)
  --exclude PATTERN      gitignore pattern to leave out (repeatable)
  --exclude-file NAME    ignore file at the source root (default: .exclude)
  --include GLOB         only back up matching entries (repeatable)
  --checksum             compare content hashes instead of size and mtime
  --compression gzip|none
  --strict               warnings are errors
  --json                 print the report as JSON
`,
  restore: `Usage: ibt restore NAME TARGET [options]
  --at ID|DATE           restore the backup with this id, or the last one at or before DATE
  --work-dir DIR         where artifacts and states live
  --storage DIR          a local storage directory to fetch missing artifacts from
  --overwrite            restore into a non-empty TARGET
  --engine auto|js|native
`,
  list: `Usage: ibt list NAME [options]
  --work-dir DIR         where artifacts and states live
  --storage DIR          also list backups found in this storage directory
  --json                 print JSON
`,
};

const OPTIONS = {
  name: { type: 'string' },
  'work-dir': { type: 'string' },
  full: { type: 'boolean' },
  exclude: { type: 'string', multiple: true },
  'exclude-file': { type: 'string' },
  include: { type: 'string', multiple: true },
  checksum: { type: 'boolean' },
  compression: { type: 'string' },
  strict: { type: 'boolean' },
  json: { type: 'boolean' },
  at: { type: 'string' },
  storage: { type: 'string' },
  overwrite: { type: 'boolean' },
  engine: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const POSITIONALS: Record<string, number> = { backup: 1, restore: 2, list: 1 };

/** Run a backup subcommand with its arguments; resolves to the process exit code. */
export async function runBackupCommand(command: string, args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    process.stderr.write(`ibt: ${(e as Error).message}\n\n${HELP[command]}`);
    return 101;
  }
  const { values: v, positionals: p } = parsed;
  if (v.help) {
    process.stdout.write(HELP[command]!);
    return 0;
  }
  if (p.length !== POSITIONALS[command]) {
    process.stderr.write(HELP[command]!);
    return 101;
  }
  const storage = v.storage ? new LocalStorage(v.storage) : undefined;
  try {
    if (command === 'backup') {
      const run = v.full ? fullBackup : incrementalBackup;
      const report = await run(p[0]!, {
        name: v.name,
        workDir: v['work-dir'],
        exclude: v.exclude,
        excludeFile: v['exclude-file'],
        include: v.include,
        checksum: v.checksum,
        compression: v.compression as 'gzip' | 'none' | undefined,
        strict: v.strict,
        engine: v.engine as EngineChoice | undefined,
      });
      for (const w of report.warnings) process.stderr.write(`ibt: warning: ${w.code}: ${w.path}: ${w.message}\n`);
      if (v.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else {
        const s = report.stats;
        process.stdout.write(
          `${report.kind} backup ${report.id} of ${report.name}: ${s.scanned} entries, ${s.created} created, ${s.modified} modified, ` +
            `${s.deleted} deleted, ${s.unchanged} unchanged; ${s.bytesWritten} bytes written in ${s.durationMs} ms\n`,
        );
        for (const f of report.files) process.stdout.write(`  ${f.role.padEnd(8)} ${String(f.size).padStart(12)}  ${f.path}\n`);
      }
    } else if (command === 'restore') {
      const at = v.at === undefined ? undefined : /^\d{8}T\d{9}Z-\d{3}$/.test(v.at) ? v.at : new Date(v.at);
      const report = await restoreBackup(p[0]!, p[1]!, {
        at,
        workDir: v['work-dir'],
        storage,
        overwrite: v.overwrite,
        engine: v.engine as EngineChoice | undefined,
      });
      const s = report.stats;
      process.stdout.write(
        `restored ${report.name} ${report.id} into ${report.target}: ${s.files} files, ${s.directories} directories, ${s.symlinks} symlinks, ` +
          `${s.deltasApplied} deltas applied, ${s.bytesWritten} bytes in ${s.durationMs} ms\n`,
      );
    } else {
      const list = await listBackups(p[0]!, { workDir: v['work-dir'], storage });
      if (v.json) process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
      else {
        for (const b of list) {
          const size = b.artifacts.reduce((n, a) => n + a.size, 0);
          process.stdout.write(`${b.id}  ${b.kind.padEnd(11)} ${b.createdAt.toISOString()}  ${String(size).padStart(12)} bytes  ${b.stats.scanned} entries\n`);
        }
      }
    }
    return 0;
  } catch (e) {
    if (!isBackupError(e)) throw e;
    process.stderr.write(`ibt: ${e.code}: ${e.message}\n`);
    return e.exitCode;
  }
}
