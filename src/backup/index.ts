/**
 * The backup layer: full and incremental backups, listing, uploading, and the state schema
 * and shared types they expose. With `restore/`, the library's main public surface.
 */
export { fullBackup, incrementalBackup } from './backup.js';
export { listBackups, saveBackup } from './list.js';
export {
  STATE_FORMAT,
  STATE_VERSION,
  type ArtifactRole,
  type ArtifactSummary,
  type BackupState,
  type BackupStats,
  type ChainLink,
  type Compression,
  type DirEntry,
  type FileEntry,
  type FileStep,
  type ParentLink,
  type StateEntry,
  type StateWarning,
  type SymlinkEntry,
} from '../state/index.js';
export type { EntryType } from '../tree/dir-state.js';
export type { BackupInfo, BackupOptions, BackupReport, ListOptions, ReportFile } from './options.js';
export type { BackupWarning, CommonOptions, ProgressEvent } from '../catalog/index.js';
export { LocalStorage, type LoadRange, type Storage } from '../storage/index.js';
