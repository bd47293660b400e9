/**
 * Options and report of a restore.
 */
import type { EngineChoice } from '../engine/engine.js';
import type { CommonOptions, ProgressEvent } from '../catalog/index.js';
import type { ThawPolicy } from './thaw.js';

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
  /**
   * Files (and directories, symlinks, deltas) written at the same time, at most. Default 16;
   * 1 writes them one at a time. The restored tree is the same whatever it is; a failed
   * restore may have written more of the files that follow the failing one. Each file in
   * flight holds a descriptor, and one for its directory.
   */
  concurrency?: number;
  /**
   * Called after each file is restored, in the order files complete (with `concurrency`
   * above 1, not always the archive's): `entries` counts them, `bytes` their sizes.
   */
  onProgress?: (event: ProgressEvent) => void;
  /** Stops the restore with `EABORTED`; the files in flight settle first, and no temporary file is left. */
  signal?: AbortSignal;
  /**
   * Archives in a cold storage class (S3 Glacier, Deep Archive): the tier and days of their
   * thaw, and whether to wait for it; by default the thaw is requested and the restore stops
   * with `ETHAWING`, to be called again later.
   */
  thaw?: ThawPolicy;
}

/** The result of a restore. */
export interface RestoreReport {
  /** The backup name. */
  name: string;
  /** The backup restored. */
  id: string;
  /** The target, as given. */
  target: string;
  /** The repository restored from: its location, or the work directory. */
  repository: string;
  /**
   * What was restored, and how long it took: `bytesFetched` were downloaded from the
   * repository's storage (0 when everything was cached), `bytesThawed` had to be thawed
   * from a cold storage class first.
   */
  stats: { files: number; directories: number; symlinks: number; bytesWritten: number; deltasApplied: number; bytesFetched: number; bytesThawed: number; durationMs: number };
}
