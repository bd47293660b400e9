/**
 * Options, reports and warnings of the backup API, and the defaults they share.
 */
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import type { EngineChoice } from '../engine/engine.js';
import { BackupError, type WarningCode } from '../errors.js';
import type { Storage } from '../storage/index.js';
import type { ArtifactRole, BackupStats } from '../state/index.js';

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

/** Options of {@link fullBackup} and {@link incrementalBackup}. */
export interface BackupOptions extends CommonOptions {
  /** gitignore patterns to leave out. */
  exclude?: string[];
  /** Ignore file at the source root, gitignore syntax; default `.exclude`. */
  excludeFile?: string;
  /** fast-glob patterns: when given, only matching entries (and their parents) are backed up. */
  include?: string[];
  /** Compare content hashes instead of size and mtime. */
  checksum?: boolean;
  /** Called as entries are handled. */
  onProgress?: (event: ProgressEvent) => void;
  /** Abort the backup; artifacts written so far are removed, earlier backups are untouched. */
  signal?: AbortSignal;
  /** Turn every warning into an `ESTRICT` error. */
  strict?: boolean;
  /** Compression of the files and deltas archives; default `gzip`. SigVaults are never compressed. */
  compression?: 'gzip' | 'none';
  /** Engine for restore-time patching. Backups always compute signatures and deltas with the TypeScript push encoders, in one read pass. */
  engine?: EngineChoice;
  /**
   * How long to wait, in milliseconds, when another run holds the lock of this backup name;
   * default 0: fail at once with `ELOCKED` naming the holder.
   */
  lockTimeout?: number;
}

/** One artifact of a report: what a storage plugin uploads. */
export interface ReportFile {
  /** Absolute path in the work directory. */
  path: string;
  role: ArtifactRole | 'state';
  size: number;
  /** xxHash64 of the file. */
  hash: string;
}

/** The result of a backup. */
export interface BackupReport {
  name: string;
  id: string;
  kind: 'full' | 'incremental';
  parent?: string;
  createdAt: Date;
  workDir: string;
  /** Exactly the artifacts to upload, the state last. */
  files: ReportFile[];
  stats: BackupStats;
  warnings: BackupWarning[];
}

/** Options of {@link restoreBackup}. */
export interface RestoreOptions extends CommonOptions {
  /** A backup id, or a time: the last backup at or before it. Default the latest. */
  at?: string | Date;
  /** Restore into a non-empty target, replacing entries the backup has. Default false. */
  overwrite?: boolean;
  /**
   * Engine for applying deltas and setting times; default `auto` (or `IBT_ENGINE`). The native
   * engine sets times exact to the nanosecond (utimensat); `js` runs no native code and sets
   * them exact to the microsecond.
   */
  engine?: EngineChoice;
  onProgress?: (event: ProgressEvent) => void;
  signal?: AbortSignal;
}

/** The result of a restore. */
export interface RestoreReport {
  name: string;
  /** The backup restored. */
  id: string;
  target: string;
  stats: { files: number; directories: number; symlinks: number; bytesWritten: number; deltasApplied: number; durationMs: number };
}

/** Options of {@link listBackups}. */
export interface ListOptions {
  /** Where artifacts and states live: default `$TMP` when set, else `os.tmpdir()`. */
  workDir?: string;
  /** Also list backups found only in storage. */
  storage?: Storage;
  /** Called for each damaged state left out of the list. */
  onWarning?: (warning: BackupWarning) => void;
}

/** One backup, as {@link listBackups} describes it. */
export interface BackupInfo {
  name: string;
  id: string;
  kind: 'full' | 'incremental';
  parent?: string;
  createdAt: Date;
  artifacts: { file: string; role: ArtifactRole; size: number; hash: string }[];
  stats: BackupStats;
  warnings: number;
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

/** An AbortSignal's DOMException as `EABORTED`; anything else unchanged. */
export function asAbort(e: unknown, path: string): unknown {
  return (e as Error | undefined)?.name === 'AbortError' ? new BackupError('EABORTED', `${path}: aborted`, { path, cause: e }) : e;
}
