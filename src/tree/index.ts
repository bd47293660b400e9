/**
 * The tree layer: walking a source directory, choosing what to take, reading files safely
 * and recording their state. Knows nothing of archives or backups.
 */
export * from './content-hash.js';
export * from './dir-state.js';
export * from './selection.js';
export { openStable, RACY_MARGIN_MS, type OpenOutcome, type Refusal, type StableRead, type StableReadOptions } from './stable-read.js';
export { BatchReader, type BatchOutcome, type WholeRead } from './batch-reads.js';
export { TreeWorkers } from './tree-workers.js';
export type { WriteFile } from './worker-protocol.js';
export { walkTree, type DirIdentity, type TreeWarning, type WalkEntry, type WalkOptions } from './walk.js';
