/**
 * The work directory: where a repository's cache lives, and, without a repository, the
 * repository itself. `$TMP` chooses it, as it always has, so a user can move every byte a
 * run writes locally with one variable.
 */
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';

/** The work directory: the option, else `$TMP`, else the OS temporary directory. */
export function resolveWorkDir(workDir?: string): string {
  return resolve(workDir ?? (process.env.TMP || tmpdir()));
}
