/**
 * Listing the backups of a name: what a scheduler or a retention tool needs besides backup
 * and restore.
 */
import { Catalog, checkName, repositoryOf } from '../catalog/index.js';
import { isBackupError } from '../errors.js';
import type { BackupInfo, ListOptions } from './options.js';

/**
 * The committed backups of `name` in the repository, oldest first (their states are fetched
 * into the cache when not there).
 * An unknown name gives an empty list. A damaged state is left out of the list and reported
 * through `onWarning` (code `ECORRUPT`, naming the file): one bad file never hides the rest.
 *
 * @throws {@link BackupError} `EIO` when the repository cannot be read, and
 *   as {@link openRepository} for a repository given as a URI.
 */
export async function listBackups(name: string, options: ListOptions = {}): Promise<BackupInfo[]> {
  const catalog = await Catalog.open(await repositoryOf(options), checkName(name));
  const out: BackupInfo[] = [];
  for (const id of catalog.backupIds) {
    const s = await catalog.state(id).catch((e: unknown) => {
      if (!isBackupError(e) || !['ECORRUPT', 'ETRUNCATED', 'EMISSING'].includes(e.code)) throw e;
      options.onWarning?.({ code: 'ECORRUPT', path: e.path ?? id, message: e.message });
      return undefined;
    });
    if (s === undefined) continue;
    out.push({
      name: s.name,
      id: s.id,
      kind: s.kind,
      ...(s.parent ? { parent: s.parent.id } : {}),
      createdAt: new Date(s.createdAt),
      artifacts: s.chain[s.chain.length - 1]!.artifacts.map(({ file, role, size, hash }) => ({ file, role, size, hash })),
      stats: s.stats,
      warnings: s.warnings.length,
    });
  }
  return out;
}

