/**
 * The archive layer: tar archives of files and deltas, the codecs that compress them,
 * SigVaults of signatures, spools for entries whose size is known only after they are
 * computed, and the path checks that keep a restore inside its target.
 */
export * from './codec.js';
export * from './safe-path.js';
export * from './sigvault.js';
export * from './spool.js';
export * from './tar-reader.js';
export * from './tar-writer.js';
