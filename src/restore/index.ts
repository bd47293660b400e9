/**
 * The restore layer, beside `backup/`: point-in-time restore planned from a backup's final
 * state, written into the target only through directories held open.
 */
export { restoreBackup } from './restore.js';
export type { RestoreOptions, RestoreReport } from './options.js';
export type { ThawPolicy } from './thaw.js';
