/**
 * Options and report of a restore.
 */
import type { EngineChoice } from '../engine/engine.js';
import type { CommonOptions, ProgressEvent } from '../catalog/index.js';

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
