/** The storage layer: the {@link Storage} seam and its local-directory backend. */
export * from './local.js';
export * from './storage.js';
