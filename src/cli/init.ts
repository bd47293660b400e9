/**
 * `ibt init --repo URI`: create a repository (its config object), as `restic init` does. A
 * bucket is not created here: its region, retention and costs are the user's choice, made
 * with the provider's tools.
 */
import { BackupError } from '../errors.js';
import { REPO, WORK_DIR, type Subcommand } from './command.js';
import { repositoryUri } from './repository.js';
import { print } from './stdio.js';

/** The definition of `ibt init`. */
export const initCommand: Subcommand = {
  name: 'init',
  operands: [],
  summary: 'create a repository',
  description: 'Create a repository at --repo (or $IBT_REPOSITORY): a local directory, or a prefix of an existing bucket.',
  options: {
    repo: REPO,
    'work-dir': WORK_DIR,
    json: { type: 'boolean', help: 'print the repository as JSON' },
  },
  example: 'ibt init --repo s3:my-bucket/hosts/web1',
  abortable: false,
  async run(line) {
    const uri = repositoryUri(line);
    if (uri === undefined) throw new BackupError('ESYNTAX', 'init needs --repo URI (or $IBT_REPOSITORY)');
    const { initRepository } = await import('../repository/index.js');
    const repo = await initRepository(uri, { cacheDir: line.string('work-dir') });
    if (line.flag('json')) {
      print(`${JSON.stringify({ repository: repo.location, id: repo.config?.id }, null, 2)}\n`);
      return;
    }
    print(`created repository ${repo.config?.id} at ${repo.location}\n`);
  },
};
