/**
 * `ibt restore NAME TARGET`: restore a backup, at any point of its chain, a thin wrapper over
 * `restoreBackup`. `--at` goes to the API as typed: the API reads it (`src/state/at.ts`), so
 * the CLI and the API accept and refuse the same strings.
 */
import type { EngineChoice } from '../engine/engine.js';
import { BackupError } from '../errors.js';
import { REPO, WORK_DIR, type Subcommand } from './command.js';
import { openFromLine, TransferMeter } from './repository.js';
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
    repo: REPO,
    'work-dir': WORK_DIR,
    overwrite: { type: 'boolean', help: 'restore into a non-empty TARGET, replacing the entries the backup has' },
    engine: { type: 'string', value: 'auto|js|native', help: 'engine applying the deltas (default: $IBT_ENGINE, else auto)' },
    concurrency: { type: 'string', value: 'N', help: 'files written at the same time (default: 16; 1 writes one at a time)' },
    'thaw-tier': { type: 'string', value: 'TIER', help: 'archives in Glacier/Deep Archive: Expedited, Standard (default) or Bulk' },
    'wait-thaw': { type: 'boolean', help: 'wait for archives being thawed instead of stopping (run again later)' },
    json: { type: 'boolean', help: 'print the report as JSON' },
  },
  example: 'ibt restore docs ./docs-restored --work-dir /var/backups/ibt --at 2024-05-01T18:00',
  abortable: true,
  async run(line, signal) {
    const { restoreBackup } = await import('../restore/index.js');
    const meter = new TransferMeter();
    const repository = await openFromLine(line, meter);
    const report = await restoreBackup(line.operands[0]!, line.operands[1]!, {
      at: line.string('at'),
      workDir: line.string('work-dir'),
      repository,
      thaw: { tier: thawTier(line.string('thaw-tier')), wait: line.flag('wait-thaw') },
      overwrite: line.flag('overwrite'),
      // The API validates the value and names the field; the CLI passes it on as typed.
      engine: line.string('engine') as EngineChoice | undefined,
      concurrency: concurrencyOf(line.string('concurrency')),
      signal,
    }).finally(() => meter.done());
    if (line.flag('json')) {
      print(`${JSON.stringify(report, null, 2)}\n`);
      return;
    }
    const s = report.stats;
    print(
      `restored ${report.name} ${report.id} into ${report.target}: ${s.files} files, ${s.directories} directories, ${s.symlinks} symlinks, ` +
        `${s.deltasApplied} deltas applied, ${s.bytesWritten} bytes in ${s.durationMs} ms` +
        (s.bytesFetched > 0 ? `; ${s.bytesFetched} bytes fetched from ${report.repository}` : '') +
        (s.bytesThawed > 0 ? `, ${s.bytesThawed} thawed` : '') +
        '\n',
    );
  },
};

/** `--thaw-tier` as the API takes it. */
function thawTier(text: string | undefined): 'Expedited' | 'Standard' | 'Bulk' | undefined {
  if (text === undefined || text === 'Expedited' || text === 'Standard' || text === 'Bulk') return text;
  throw new BackupError('ESYNTAX', `--thaw-tier takes Expedited, Standard or Bulk, not ${JSON.stringify(text)}`);
}

/** `--concurrency N` as a number: a positive integer, which the API checks and names. */
function concurrencyOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new BackupError('ESYNTAX', `--concurrency takes a whole number of files, not ${JSON.stringify(text)}`);
  return Number(text);
}
