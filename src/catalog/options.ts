/**
 * What backups and restores share: where a name's backups live (the work directory, the
 * name), progress events and warnings.
 */
import { BackupError, type WarningCode } from '../errors.js';
import { openRepository, Repository, resolveWorkDir } from '../repository/index.js';

/** Options every backup function takes. */
export interface CommonOptions {
  /**
   * The work directory: default `$TMP` when set, else `os.tmpdir()`. Without `repository`, it
   * is the repository (artifacts and states in `WORKDIR/NAME/`, as before repositories); with
   * a repository given as a URI, its cache lives in `WORKDIR/ibt-cache/`.
   */
  workDir?: string;
  /** Backup name; default the source folder's base name. */
  name?: string;
  /**
   * Where backups are stored: a repository opened with {@link openRepository}, or its URI
   * (`s3:bucket/prefix`, `b2:bucket/prefix`, `/path`, `memory:name`), opened with default
   * options and its cache in the work directory. Default: the work directory itself.
   */
  repository?: Repository | string;
}

/** The repository `options` name: the one given, the one its URI names, or the work directory. */
export async function repositoryOf(options: CommonOptions): Promise<Repository> {
  if (options.repository instanceof Repository) return options.repository;
  if (typeof options.repository === 'string') return openRepository(options.repository, { cacheDir: options.workDir });
  return Repository.inWorkDir(resolveWorkDir(options.workDir));
}

/** A recoverable problem; `strict` turns it into an `ESTRICT` error. */
export interface BackupWarning {
  /** What happened; see {@link WarningCode}. */
  code: WarningCode;
  /** Path relative to the source root. */
  path: string;
  /** What happened, naming the file or artifact. */
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

export { resolveWorkDir };

/** Throw `EPARAM` unless `name` can be a directory name (any single POSIX path component). */
export function checkName(name: string): string {
  // `.ibt` holds the repository's own objects (its config).
  if (!name || name === '.' || name === '..' || name === '.ibt' || /[/\0]/.test(name)) {
    throw new BackupError('EPARAM', `invalid backup name ${JSON.stringify(name)}`);
  }
  return name;
}
