/**
 * The backup layer: full and incremental backups, listing, and the repository, storage and
 * state types they expose. With `restore/`, the library's main public surface.
 */
export { fullBackup, incrementalBackup } from './backup.js';
export { listBackups } from './list.js';
export { unlockBackups, type UnlockBackupsOptions } from './unlock.js';
export type { UnlockedLock, UnlockResult } from '../lock/index.js';
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
export {
  createS3Storage,
  initRepository,
  openRepository,
  parseRepositoryUri,
  Repository,
  type RepositoryLocation,
  type RepositoryOptions,
  type RepositoryTarget,
  type S3Location,
  type S3Settings,
} from '../repository/index.js';
export {
  checkKey,
  DryRunStorage,
  LimitedStorage,
  LocalStorage,
  MemoryStorage,
  ProgressStorage,
  RetryingStorage,
  StorageWrapper,
  type Availability,
  type DryRunOptions,
  type LimitOptions,
  type MemoryStorageOptions,
  type ProgressOptions,
  type RetryEvent,
  type RetryOptions,
  type SkipEvent,
  type TransferEvent,
  type S3StorageOptions,
  type LoadOptions,
  type LoadRange,
  type SaveOptions,
  type SaveSource,
  type Storage,
  type StoredObject,
  type ThawOptions,
} from '../storage/index.js';
