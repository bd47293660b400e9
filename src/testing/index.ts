/**
 * `incremental-backups-tools/testing`: what the author of a storage backend needs to prove it
 * works — the conformance suite, run from their own vitest file. This entry point imports
 * vitest (an optional peer dependency) and is never loaded by the library itself.
 */
export { storageConformance, type ConformanceOptions } from './storage-conformance.js';
