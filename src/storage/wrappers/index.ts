/** The storage wrappers: retry, concurrency limit, dry run and progress, each around any {@link Storage}. */
export * from './dry-run.js';
export * from './limit.js';
export * from './progress.js';
export * from './retry.js';
export * from './wrapper.js';
