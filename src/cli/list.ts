/**
 * `ibt list NAME`: the backups of a name, oldest first, a thin wrapper over `listBackups`.
 *
 * The API lists an unknown name as empty (a library caller may be asking "anything yet?");
 * at the command line an empty answer to `ibt list nosuch` hides a typo, so it is
 * `ENOTFOUND`, with the same message `ibt restore` gives for that name.
 */
import { BackupError } from '../errors.js';
import { REPO, WORK_DIR, type Subcommand } from './command.js';
import { openFromLine, TransferMeter } from './repository.js';
import { print, printError } from './stdio.js';

/** The definition of `ibt list`. */
export const listCommand: Subcommand = {
  name: 'list',
  operands: ['NAME'],
  summary: 'list the backups of a name',
  description: 'List the backups of NAME, oldest first: id, kind, time, size of its artifacts, entries.',
  options: {
    repo: REPO,
    'work-dir': WORK_DIR,
    json: { type: 'boolean', help: 'print the list as JSON' },
  },
  example: 'ibt list docs --repo s3:my-bucket/hosts/web1 --json',
  abortable: false,
  async run(line) {
    const { listBackups } = await import('../backup/index.js');
    const { repositoryOf } = await import('../catalog/index.js');
    const [name] = line.operands as [string];
    const meter = new TransferMeter();
    const repository = await repositoryOf({ workDir: line.string('work-dir'), repository: await openFromLine(line, meter) });
    const list = await listBackups(name, {
      repository,
      onWarning: (w) => printError(`ibt: warning: ${w.code}: ${w.path}: ${w.message}\n`),
    }).finally(() => meter.done());
    if (list.length === 0) {
      const dir = repository.direct ? repository.dirOf(name) : `repository ${repository.location}`;
      throw new BackupError('ENOTFOUND', `no backup named ${JSON.stringify(name)} in ${dir}`, { path: repository.dirOf(name) });
    }
    if (line.flag('json')) {
      print(`${JSON.stringify(list, null, 2)}\n`);
      return;
    }
    for (const b of list) {
      const size = b.artifacts.reduce((n, a) => n + a.size, 0);
      print(`${b.id}  ${b.kind.padEnd(11)} ${b.createdAt.toISOString()}  ${String(size).padStart(12)} bytes  ${b.stats.scanned} entries\n`);
    }
  },
};
