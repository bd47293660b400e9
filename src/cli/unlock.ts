/**
 * `ibt unlock NAME`: remove the locks of a backup name that nobody holds (stale, or left by a
 * dead run on this host), as `restic unlock` does; `--all` removes every one.
 */
import { REPO, WORK_DIR, type Subcommand } from './command.js';
import { openFromLine, TransferMeter } from './repository.js';
import { print } from './stdio.js';

/** The definition of `ibt unlock`. */
export const unlockCommand: Subcommand = {
  name: 'unlock',
  operands: ['NAME'],
  summary: 'remove stale locks of a backup name',
  description:
    'Remove the locks of NAME that no run holds: those not refreshed for 30 minutes, from any host, and those of\n' +
    'runs on this host that are no longer running. Fresh locks of other hosts are kept and listed; --all removes them too.',
  options: {
    repo: REPO,
    'work-dir': WORK_DIR,
    all: { type: 'boolean', help: 'remove every lock, held or not (only when no run of NAME can be active)' },
    json: { type: 'boolean', help: 'print what was removed and kept as JSON' },
  },
  example: 'ibt unlock docs --repo s3:my-bucket/hosts/web1',
  abortable: false,
  async run(line) {
    const { unlockBackups } = await import('../backup/index.js');
    const meter = new TransferMeter();
    const repository = await openFromLine(line, meter);
    const result = await unlockBackups(line.operands[0]!, { workDir: line.string('work-dir'), repository, all: line.flag('all') });
    meter.done();
    if (line.flag('json')) {
      print(`${JSON.stringify(result, null, 2)}\n`);
      return;
    }
    for (const l of result.removed) print(`removed ${l.shown}: ${l.holder} (${l.reason})\n`);
    for (const l of result.kept) print(`kept ${l.shown}: ${l.holder} (${l.reason})\n`);
    if (result.removed.length === 0 && result.kept.length === 0) print('no locks\n');
  },
};
