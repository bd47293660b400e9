/**
 * The state layer: backup ids, artifact names, and the versioned backup state — its schema,
 * the rules between its fields, and the sealed file it lives in. Below `backup/`: it knows
 * nothing of archives' contents, storage or restore, only what a state must be to be trusted.
 */
export * from './artifact-names.js';
export * from './at.js';
export * from './ids.js';
export * from './invariants.js';
export * from './schema.js';
export * from './state-file.js';
export type { ExpectedState } from './state-assembly.js';
export { serializeState, writeStateFile, type SerializedState, type StateWriteOptions, type WrittenState } from './state-writer.js';
export * from './validate.js';
