/**
 * What backups and restores share: where a name's backups live (the work directory, the
 * name), progress events and warnings.
 */
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { BackupError, type WarningCode } from '../errors.js';
import type { Storage } from '../storage/index.js';

/** Options every backup function takes. */
export interface CommonOptions {
  /** Where artifacts, states and caches live: default `$TMP` when set, else `os.tmpdir()`. */
  workDir?: string;
  /** Backup name; default the source folder's base name. */
  name?: string;
  /** Where artifacts missing from the work directory are fetched from. */
  storage?: Storage;
}

/** A recoverable problem; `strict` turns it into an `ESTRICT` error. */
export interface BackupWarning {
  /** What happened; see {@link WarningCode}. */
  code: WarningCode;
  /** Path relative to the source root. */
  path: string;
  message: string;
}

/** Progress of a backup or restore. */
export interface ProgressEvent {
  phase: 'scan' | 'store' | 'delta' | 'commit' | 'restore';
  /** The entry just handled. */
  path?: string;
  /** Entries handled so far. */
  entries: number;
  /** Bytes read from the source (backup) or written to the target (restore) so far. */
  bytes: number;
}

/** The work directory: the option, else `$TMP`, else the OS temporary directory. */
export function resolveWorkDir(workDir?: string): string {
  return resolve(workDir ?? (process.env.TMP || tmpdir()));
}

/** Throw `EPARAM` unless `name` can be a directory name (any single POSIX path component). */
export function checkName(name: string): string {
  if (!name || name === '.' || name === '..' || /[/\0]/.test(name)) {
    throw new BackupError('EPARAM', `invalid backup name ${JSON.stringify(name)}`);
  }
  return name;
}
