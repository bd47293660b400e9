/**
 * The backup layer: full and incremental backups, point-in-time restore, listing, and the
 * state schema they share. This is the library's main public surface.
 */
export { fullBackup, incrementalBackup } from './backup.js';
export { restoreBackup } from '../restore/index.js';
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
export type {
  BackupInfo,
  BackupOptions,
  BackupReport,
  BackupWarning,
  CommonOptions,
  ListOptions,
  ProgressEvent,
  ReportFile,
  RestoreOptions,
  RestoreReport,
} from './options.js';
export { LocalStorage, type LoadRange, type Storage } from '../storage/index.js';
