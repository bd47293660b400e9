/**
 * Options and reports of the backup API: full and incremental backups, and listing.
 */
import type { EngineChoice } from '../engine/engine.js';
import type { BackupWarning, CommonOptions, ProgressEvent } from '../catalog/index.js';
import type { Repository } from '../repository/index.js';
import type { ArtifactRole, BackupStats, Compression } from '../state/index.js';

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
  /**
   * Compression of the files and deltas archives: `zstd` (level 3), `gzip` (level 1) or
   * `none`. Default: `zstd` where the optional dependency zstd-napi loads, else `gzip`.
   * `zstd` where it does not load is `ENATIVE` at the start of the backup, saying why.
   * Blocks that look random are stored raw either way. SigVaults are never compressed.
   */
  compression?: Compression;
  /**
   * Engine of the deltas of changed files of 16 MiB and up, whose scan is spread over the
   * cores: `native` by librsync jobs on the libuv pool (`ENATIVE` when the addon does not
   * load), `js` by the TypeScript engine's worker threads, `auto` (default) by librsync when
   * the addon loads, else the threads. Smaller files, and every signature, are encoded by the
   * TypeScript encoders; the archives are the same bytes whichever engine runs.
   */
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
  /** The repository the backup is stored in: its location, or the work directory. */
  repository: string;
  /**
   * Backups of this name that earlier runs wrote completely but were stopped before
   * committing (killed while uploading): this run uploaded what they lacked and committed
   * them, oldest first, before its own.
   */
  resumed?: string[];
  /**
   * The artifacts, the state last: in the work directory without a repository (nothing left
   * to upload), or in the cache (already stored; the data archives are then no longer there).
   */
  files: ReportFile[];
  stats: BackupStats;
  warnings: BackupWarning[];
}

/** Options of {@link listBackups}. */
export interface ListOptions {
  /** The work directory: the repository without `repository`, else where its cache lives (see {@link CommonOptions}). */
  workDir?: string;
  /** The repository, or its URI; default the work directory. */
  repository?: Repository | string;
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
