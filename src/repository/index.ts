/**
 * The repository layer: a storage backend plus a local cache, opened by URI; its config and
 * format version; the work directory. Above storage and lock; the catalog of each backup name
 * stands on it.
 */
export * from './config.js';
export * from './repository.js';
export * from './uri.js';
export * from './work-dir.js';
