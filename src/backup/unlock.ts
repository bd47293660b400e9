/**
 * Removing the locks of a backup name that nobody holds any more (`ibt unlock`): those not
 * refreshed for the stale time, whatever host wrote them, and those of provably dead runs on
 * this host; with `all`, every one. A run whose lock was removed while it went on finds out
 * before its commit and does not commit (`lock/`).
 */
import { checkName, repositoryOf, type CommonOptions } from '../catalog/index.js';
import { unlock, type UnlockResult } from '../lock/index.js';

/** Options of {@link unlockBackups}. */
export interface UnlockBackupsOptions extends Pick<CommonOptions, 'workDir' | 'repository'> {
  /** Remove every lock of the name, held or not: only when no run of it can be active. Default false. */
  all?: boolean;
}

/**
 * Remove the stale locks of backup name `name` (see the module header).
 *
 * @returns The locks removed and those kept, each with its holder and why.
 * @throws {@link BackupError} as {@link openRepository} for a repository given as a URI, and
 *   `EIO`/`EAUTH` when the storage fails.
 */
export async function unlockBackups(name: string, options: UnlockBackupsOptions = {}): Promise<UnlockResult> {
  const repo = await repositoryOf(options);
  return unlock(repo.storage, `${checkName(name)}/locks`, { all: options.all ?? false, where: repo.location });
}
