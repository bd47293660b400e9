/**
 * incremental-backups-tools: incremental backups built on an rdiff-compatible rsync engine.
 *
 * @packageDocumentation
 */
export * from './errors.js';
export * from './rsync/index.js';
export type { Engine, EngineChoice, EngineName } from './engine/engine.js';
export { nativeAvailable, selectEngine, type EngineOperation } from './engine/select.js';
export {
  deltaFile,
  patchFile,
  signatureFile,
  type DeltaFileOptions,
  type FileJobOptions,
  type SignatureFileOptions,
} from './engine/files.js';
export * from './backup/index.js';
export * from './restore/index.js';
