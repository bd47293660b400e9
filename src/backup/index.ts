/**
 * The backup layer: full and incremental backups, point-in-time restore, listing, and the
 * state schema they share. This is the library's main public surface.
 */
export { fullBackup, incrementalBackup } from './backup.js';
export { restoreBackup } from './restore.js';
export { listBackups, saveBackup } from './list.js';
export { STATE_FORMAT, STATE_VERSION, type BackupState, type ChainLink, type StateEntry } from './state.js';
export type { ArtifactRole, ArtifactSummary } from './artifacts.js';
export type { Compression } from '../archive/tar-writer.js';
export type { EntryType } from '../tree/dir-state.js';
export type {
  BackupInfo,
  BackupOptions,
  BackupReport,
  BackupStats,
  BackupWarning,
  CommonOptions,
  ListOptions,
  ProgressEvent,
  ReportFile,
  RestoreOptions,
  RestoreReport,
} from './options.js';
export { LocalStorage, type LoadRange, type Storage } from '../storage/index.js';
