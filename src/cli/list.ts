/**
 * `ibt list NAME`: the backups of a name, oldest first, a thin wrapper over `listBackups`.
 *
 * The API lists an unknown name as empty (a library caller may be asking "anything yet?");
 * at the command line an empty answer to `ibt list nosuch` hides a typo, so it is
 * `ENOTFOUND`, with the same message `ibt restore` gives for that name.
 */
import { join } from 'node:path';
import { BackupError } from '../errors.js';
import { STORAGE, WORK_DIR, type Subcommand } from './command.js';
import { print, printError } from './stdio.js';

/** The definition of `ibt list`. */
export const listCommand: Subcommand = {
  name: 'list',
  operands: ['NAME'],
  summary: 'list the backups of a name',
  description: 'List the backups of NAME, oldest first: id, kind, time, size of its artifacts, entries.',
  options: {
    'work-dir': WORK_DIR,
    storage: { ...STORAGE, help: 'also list the backups found in this storage directory' },
    json: { type: 'boolean', help: 'print the list as JSON' },
  },
  example: 'ibt list docs --work-dir /var/backups/ibt --json',
  abortable: false,
  async run(line) {
    const { LocalStorage, listBackups } = await import('../backup/index.js');
    const { resolveWorkDir } = await import('../catalog/index.js');
    const [name] = line.operands as [string];
    const storageDir = line.string('storage');
    const list = await listBackups(name, {
      workDir: line.string('work-dir'),
      storage: storageDir === undefined ? undefined : new LocalStorage(storageDir),
      onWarning: (w) => printError(`ibt: warning: ${w.code}: ${w.path}: ${w.message}\n`),
    });
    if (list.length === 0) {
      const dir = join(resolveWorkDir(line.string('work-dir')), name);
      const where = storageDir === undefined ? dir : `${dir} or in storage ${storageDir}`;
      throw new BackupError('ENOTFOUND', `no backup named ${JSON.stringify(name)} in ${where}`, { path: dir });
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
