/**
 * One error family for the whole library.
 *
 * Every failure a user can act on is a {@link BackupError} with a stable `code`, a message
 * that names the file or artifact involved, and (for engine errors) the exit code `rdiff`
 * would use for the same condition, so the CLI can be swapped for `rdiff` in scripts.
 * Errors from dependencies (tar-stream, node:fs, hash-wasm) are wrapped at the layer that
 * knows which file they concern; a stack trace from deep inside a dependency never reaches
 * a user as the only explanation.
 */

/** Stable error codes. New codes may be added; existing ones never change meaning. */
export type ErrorCode =
  /** Reading or writing a file failed (rdiff exit 100). */
  | 'EIO'
  /** An output file exists and overwriting was not allowed (rdiff exit 100). */
  | 'EEXIST'
  /** Bad command-line usage (rdiff exit 101). */
  | 'ESYNTAX'
  /** Input ended in the middle of a record or command (rdiff exit 103, RS_INPUT_ENDED). */
  | 'ETRUNCATED'
  /** The magic number is not one this format knows (rdiff exit 104). */
  | 'EBADMAGIC'
  /** A feature the format reserves but does not implement (rdiff exit 105). */
  | 'EUNIMPLEMENTED'
  /** The data is structurally invalid (rdiff exit 106, RS_CORRUPT). */
  | 'ECORRUPT'
  /** A bug in this library (rdiff exit 107). */
  | 'EINTERNAL'
  /** An option or parameter is out of range (rdiff exit 108). */
  | 'EPARAM'
  /** The backup source is missing, not a directory, or unreadable. */
  | 'ESOURCE'
  /** No backup of that name exists, or the requested point does not. */
  | 'ENOTFOUND'
  /** An artifact is missing from the work directory or storage. */
  | 'EMISSING'
  /** A restored file's content hash does not match the recorded state. */
  | 'EHASH'
  /** An archive entry would write outside the restore target. */
  | 'EUNSAFEPATH'
  /** The restore target is not empty and `overwrite` was not set. */
  | 'ENOTEMPTY'
  /** The operation was aborted through its AbortSignal. */
  | 'EABORTED'
  /** A native component (the librsync engine, the zstd-napi codec) is needed but not built or cannot load. */
  | 'ENATIVE'
  /** A warning raised to an error by `strict` mode. */
  | 'ESTRICT'
  /** Another run holds the lock of this backup name (the message names the holder). */
  | 'ELOCKED'
  /** The device or quota is full (ENOSPC, EDQUOT) while writing the named file. */
  | 'ENOSPC'
  /** A repository's storage refused the credentials (missing, wrong, or not allowed); the message names the repository. */
  | 'EAUTH'
  /** There is no repository at the given location, or what is there is not one (the message says which). */
  | 'ENOREPO'
  /** The repository was written by a newer release in a format this one does not know. */
  | 'EFORMAT'
  /** Another run committed a backup on the same parent first; this run's backup was not committed and nothing was lost. */
  | 'ECONFLICT'
  /** Artifacts a restore needs are in a cold storage class; their thaw was requested and has not finished. */
  | 'ETHAWING';

/**
 * Codes of warnings: recoverable problems a backup reports and goes on (`strict` turns each
 * into an `ESTRICT` error). They share the error code list's spelling so a log reader needs
 * one table.
 */
export type WarningCode =
  /** A file changed while it was read; what was read is stored and the next backup reads it again. */
  | 'ECHANGED'
  /** A file or directory could not be read (permissions, I/O error, not what the walk saw). */
  | 'EUNREADABLE'
  /** An entry disappeared between the listing and the read. */
  | 'EVANISHED'
  /** A file with several hard links; each link is stored as its own file. */
  | 'EHARDLINK'
  /** A socket, FIFO or device, which backups do not store. */
  | 'ESPECIAL'
  /** A name that is not valid UTF-8, which the state cannot record. */
  | 'EBADNAME'
  /** An artifact the backup wanted (a SigVault) is missing; the files it served are stored whole. */
  | 'EMISSING'
  /** An artifact or state the backup wanted is damaged; it was worked around (files stored whole, an older parent used). */
  | 'ECORRUPT'
  /** A lock left by a run that is provably dead was taken over. */
  | 'ESTALELOCK'
  /** The run's own lock object could not be removed when it ended; it goes stale, or `ibt unlock` removes it. */
  | 'EUNLOCK';

const RDIFF_EXIT: Partial<Record<ErrorCode, number>> = {
  EIO: 100,
  ENOSPC: 100,
  EEXIST: 100,
  ESYNTAX: 101,
  ETRUNCATED: 103,
  EBADMAGIC: 104,
  EUNIMPLEMENTED: 105,
  ECORRUPT: 106,
  EINTERNAL: 107,
  EPARAM: 108,
};

/** Options accepted by the {@link BackupError} constructor. */
export interface BackupErrorOptions {
  /** The file, artifact or archive entry the error concerns. */
  path?: string;
  /** The underlying error, when this one wraps another. */
  cause?: unknown;
}

/** The error type every public function of this library throws. */
export class BackupError extends Error {
  /** A stable, machine-readable code. */
  readonly code: ErrorCode;
  /** The file, artifact or archive entry concerned, when there is one. */
  readonly path?: string;

  constructor(code: ErrorCode, message: string, options: BackupErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BackupError';
    this.code = code;
    if (options.path !== undefined) this.path = options.path;
  }

  /** The exit status `rdiff` uses for the same condition (1 for codes rdiff has no equivalent of). */
  get exitCode(): number {
    return RDIFF_EXIT[this.code] ?? 1;
  }

  /** A copy of this error that names `path`, for layers that know which file was being read. */
  withPath(path: string): BackupError {
    if (this.path !== undefined) return this;
    const e = new BackupError(this.code, `${path}: ${this.message}`, { path, cause: this.cause });
    return e;
  }
}

/** True when `e` is a {@link BackupError}, optionally with the given code. */
export function isBackupError(e: unknown, code?: ErrorCode): e is BackupError {
  return e instanceof BackupError && (code === undefined || e.code === code);
}

/**
 * Turn an error from node:fs (or anything else) into a {@link BackupError} naming `path`.
 * BackupErrors pass through, gaining the path if they had none.
 */
export function wrapIoError(e: unknown, path: string, doing: string): BackupError {
  if (e instanceof BackupError) return e.withPath(path);
  const sys = e as NodeJS.ErrnoException;
  if (sys && sys.name === 'AbortError') {
    return new BackupError('EABORTED', `${doing} ${path}: aborted`, { path, cause: e });
  }
  const why = sys && typeof sys.code === 'string' ? `${sys.code} ${sys.message ?? ''}`.trim() : String(e);
  const code: ErrorCode = sys?.code === 'ENOSPC' || sys?.code === 'EDQUOT' ? 'ENOSPC' : 'EIO';
  return new BackupError(code, `${doing} ${path}: ${why}`, { path, cause: e });
}

/** An AbortSignal's DOMException as `EABORTED`; anything else unchanged. */
export function asAbort(e: unknown, path: string): unknown {
  return (e as Error | undefined)?.name === 'AbortError' ? new BackupError('EABORTED', `${path}: aborted`, { path, cause: e }) : e;
}
