/**
 * The tree layer: walking a source directory, choosing what to take, reading files safely
 * and recording their state. Knows nothing of archives or backups.
 */
export * from './content-hash.js';
export * from './dir-state.js';
export * from './selection.js';
export * from './stable-read.js';
export * from './walk.js';
