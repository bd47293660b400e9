/**
 * incremental-backups-tools: incremental backups built on an rdiff-compatible rsync engine.
 *
 * @packageDocumentation
 */
export * from './errors.js';
export * from './rsync/index.js';
