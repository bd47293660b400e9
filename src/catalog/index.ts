/**
 * The catalog layer: the committed backups of a name, its lock, fetching artifacts, and what
 * backups and restores share (work directory, names, progress, warnings). Above state, lock
 * and storage; backup and restore both stand on it.
 */
export * from './catalog.js';
export * from './options.js';
