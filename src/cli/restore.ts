/**
 * `ibt restore NAME TARGET`: restore a backup, at any point of its chain, a thin wrapper over
 * `restoreBackup`. `--at` goes to the API as typed: the API reads it (`src/state/at.ts`), so
 * the CLI and the API accept and refuse the same strings.
 */
import type { EngineChoice } from '../engine/engine.js';
import { BackupError } from '../errors.js';
import { STORAGE, WORK_DIR, type Subcommand } from './command.js';
import { print } from './stdio.js';

/** The definition of `ibt restore`. */
export const restoreCommand: Subcommand = {
  name: 'restore',
  operands: ['NAME', 'TARGET'],
  summary: 'restore a backup, at any point of its chain',
  description:
    'Restore the backup NAME into the directory TARGET: the latest, or the one --at names.\n' +
    '--at takes an id (YYYYMMDDTHHMMSSmmmZ-NNN), a date (YYYY-MM-DD: the end of that day) or a\n' +
    'date-time (YYYY-MM-DDTHH:MM[:SS[.fff]][Z|±HH:MM]); without a zone the time is local time.',
  options: {
    at: { type: 'string', value: 'ID|TIME', help: 'a backup id, or the last backup at or before an ISO 8601 time' },
    'work-dir': WORK_DIR,
    storage: STORAGE,
    overwrite: { type: 'boolean', help: 'restore into a non-empty TARGET, replacing the entries the backup has' },
    engine: { type: 'string', value: 'auto|js|native', help: 'engine applying the deltas (default: $IBT_ENGINE, else auto)' },
    concurrency: { type: 'string', value: 'N', help: 'files written at the same time (default: 16; 1 writes one at a time)' },
    json: { type: 'boolean', help: 'print the report as JSON' },
  },
  example: 'ibt restore docs ./docs-restored --work-dir /var/backups/ibt --at 2024-05-01T18:00',
  abortable: true,
  async run(line, signal) {
    const { LocalStorage } = await import('../storage/index.js');
    const { restoreBackup } = await import('../restore/index.js');
    const storage = line.string('storage');
    const report = await restoreBackup(line.operands[0]!, line.operands[1]!, {
      at: line.string('at'),
      workDir: line.string('work-dir'),
      storage: storage === undefined ? undefined : new LocalStorage(storage),
      overwrite: line.flag('overwrite'),
      // The API validates the value and names the field; the CLI passes it on as typed.
      engine: line.string('engine') as EngineChoice | undefined,
      concurrency: concurrencyOf(line.string('concurrency')),
      signal,
    });
    if (line.flag('json')) {
      print(`${JSON.stringify(report, null, 2)}\n`);
      return;
    }
    const s = report.stats;
    print(
      `restored ${report.name} ${report.id} into ${report.target}: ${s.files} files, ${s.directories} directories, ${s.symlinks} symlinks, ` +
        `${s.deltasApplied} deltas applied, ${s.bytesWritten} bytes in ${s.durationMs} ms\n`,
    );
  },
};

/** `--concurrency N` as a number: a positive integer, which the API checks and names. */
function concurrencyOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new BackupError('ESYNTAX', `--concurrency takes a whole number of files, not ${JSON.stringify(text)}`);
  return Number(text);
}
