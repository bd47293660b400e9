/**
 * The tools of the storage benchmark, each backing up into an S3 bucket behind one shape:
 * `init` (set-up, not timed), `backup` (full the first time, then incremental) and `restore`
 * (the latest point, as a new machine would: from an empty cache).
 *
 * - `ibt`: this package's CLI from the build, `--repo s3:BUCKET/ibt?endpoint=…&region=us-east-1`,
 *   default compression (zstd where zstd-napi loads). The work directory of the backups keeps
 *   ibt's cache (states and SigVaults); the restore gets a new, empty one.
 * - `restic` (Debian's 0.14, zstd `auto`), `-r s3:http://HOST:PORT/BUCKET/restic`. Its cache
 *   directory for the backups is kept (as ibt's is); the restore gets a new, empty one.
 *
 * Both read the same any-key credentials from the environment (moto does not check them), and
 * neither sees a proxy variable: their only way to the server is the counting proxy given as
 * the endpoint. Every step is one process under /usr/bin/time (bench/measure.mjs).
 */
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { timed } from './measure.mjs';

/** The tool names `--tools` accepts. */
export const S3_TOOLS = ['ibt', 'restic'];

/** The environment of every tool: any-key credentials, no HTTP proxy of the caller's. */
function toolEnv(extra) {
  const env = { ...process.env, AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench', AWS_REGION: 'us-east-1', ...extra };
  for (const k of ['AWS_SESSION_TOKEN', 'AWS_PROFILE', 'IBT_REPOSITORY', 'RESTIC_REPOSITORY']) delete env[k];
  for (const k of Object.keys(env)) if (/^(https?|all|no)_proxy$/i.test(k)) delete env[k];
  return env;
}

/** Run a set-up command, asynchronously: the counting proxy it talks to runs in this process. */
async function must(cmd, args, options) {
  const s = await timed(cmd, args, options);
  if (!s.ok) throw new Error(`${cmd} ${args.join(' ')}: ${s.error}`);
}

/**
 * @typedef {object} S3Tool
 * @property {() => Promise<void>} init create the repository (not timed)
 * @property {() => Promise<import('./measure.mjs').Step>} backup full the first time, then incremental
 * @property {(out: string) => Promise<import('./measure.mjs').Step>} restore the latest point into the new directory `out`, from an empty cache
 */

/**
 * Tool `name` set up to back up `src` into `BUCKET/NAME` at `endpoint`.
 * @param {object} o
 * @param {string} o.name one of {@link S3_TOOLS}
 * @param {string} o.cli ibt's `dist/cli/main.js`
 * @param {string} o.src the tree
 * @param {string} o.base a directory of the tool's own, for its caches
 * @param {string} o.endpoint the counting proxy's URL
 * @param {string} o.bucket
 * @param {number} o.timeoutSecs time limit of each step
 * @returns {S3Tool}
 */
export function makeS3Tool({ name, cli, src, base, endpoint, bucket, timeoutSecs }) {
  mkdirSync(base, { recursive: true });
  if (name === 'ibt') {
    let points = 0;
    const repo = `s3:${bucket}/ibt?endpoint=${endpoint}&region=us-east-1`;
    const workDir = join(base, 'work');
    const env = toolEnv();
    const ibt = (args) => timed(process.execPath, [cli, ...args, '--repo', repo], { timeoutSecs, env });
    return {
      init: () => must(process.execPath, [cli, 'init', '--repo', repo, '--work-dir', workDir], { env }),
      backup: () => ibt(['backup', src, '--work-dir', workDir, ...(points++ === 0 ? ['--full'] : [])]),
      restore: (out) => {
        const empty = join(base, `restore-cache-${basename(out)}`);
        mkdirSync(empty);
        return ibt(['restore', basename(src), out, '--work-dir', empty]);
      },
    };
  }
  if (name === 'restic') {
    const repo = `s3:${endpoint}/${bucket}/restic`;
    const env = toolEnv({ RESTIC_PASSWORD: 'bench', RESTIC_CACHE_DIR: join(base, 'cache') });
    return {
      init: () => must('restic', ['init', '-q', '-r', repo], { env }),
      backup: () => timed('restic', ['-r', repo, 'backup', '.', '--host', 'bench', '-q'], { cwd: src, env, timeoutSecs }),
      restore: (out) => {
        const empty = join(base, `restore-cache-${basename(out)}`);
        mkdirSync(empty);
        return timed('restic', ['-r', repo, 'restore', 'latest', '--target', out, '-q'], { env: { ...env, RESTIC_CACHE_DIR: empty }, timeoutSecs });
      },
    };
  }
  throw new Error(`unknown tool ${name}: choose from ${S3_TOOLS.join(', ')}`);
}
