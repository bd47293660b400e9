/**
 * The catalog layer: the committed backups of a name, its lock, and fetching artifacts.
 * Above state, lock and storage; backup and restore both stand on it.
 */
export * from './catalog.js';
