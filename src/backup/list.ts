/**
 * Listing the backups of a name, and uploading a backup's artifacts to a {@link Storage}:
 * the two catalog operations a storage plugin needs besides backup and restore.
 */
import { basename } from 'node:path';
import { readFileChunks } from '../io/read-chunks.js';
import type { Storage } from '../storage/index.js';
import { Catalog, checkName, resolveWorkDir, storageKey } from '../catalog/index.js';
import { isBackupError } from '../errors.js';
import type { BackupInfo, BackupReport, ListOptions } from './options.js';

/**
 * The committed backups of `name`, oldest first: those in the work directory and, with
 * `storage`, those found only there (their states are fetched into the work directory).
 * An unknown name gives an empty list. A damaged state is left out of the list and reported
 * through `onWarning` (code `ECORRUPT`, naming the file): one bad file never hides the rest.
 *
 * @throws {@link BackupError} `EIO` when the work directory or storage cannot be read.
 */
export async function listBackups(name: string, options: ListOptions = {}): Promise<BackupInfo[]> {
  const catalog = await Catalog.open(resolveWorkDir(options.workDir), checkName(name), options.storage);
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

/**
 * Upload the artifacts of a backup to `storage`, each under `NAME/FILE`, the state last so
 * a backup is visible in storage only once all its archives are there. This is the contract
 * a storage plugin follows; restore and incremental backups fetch by the same keys.
 */
export async function saveBackup(report: BackupReport, storage: Storage): Promise<void> {
  const ordered = [...report.files.filter((f) => f.role !== 'state'), ...report.files.filter((f) => f.role === 'state')];
  for (const f of ordered) await storage.save(storageKey(report.name, basename(f.path)), readFileChunks(f.path));
}
