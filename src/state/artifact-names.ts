/**
 * The file names of a backup's artifacts, derived from its id.
 *
 * A backup `ID` of name `NAME` lives in `WORKDIR/NAME/`:
 *   ID.sigvault.tar        signatures of the files whose content this backup stored
 *   ID.files.tar[.zst|.gz] files stored whole, plus directories and symlinks for manual recovery
 *   ID.deltas.tar[.zst|.gz] librsync deltas of changed files against their previous version
 *   ID.state.json.gz       the state, written last: the commit point
 *   ID.state.json          the state as releases before state version 3 wrote it (read, never written)
 *
 * A name is always computed from an id, a role and a compression, never taken from a state
 * or a listing as it stands: a state that names `../../elsewhere/x.tar.gz` could otherwise
 * make a restore read, or a storage fetch write, outside the work directory. The state
 * records each artifact's name too (for people and plugins), and a reader checks that it is
 * the derived one. The suffix of a compressed archive is its codec's (`archive/codec.ts`).
 */
import { codecOf, COMPRESSIONS, type Compression } from '../archive/codec.js';
import { BackupError } from '../errors.js';
import { isBackupId } from './ids.js';

export type { Compression } from '../archive/codec.js';

/** What an archive artifact holds. */
export type ArtifactRole = 'sigvault' | 'files' | 'deltas';

/** Every artifact a backup can have: its archives and its state. */
export type ArtifactFileRole = ArtifactRole | 'state';

/** The codecs' suffixes, as alternatives of a regular expression. */
const SUFFIXES = COMPRESSIONS.map((c) => codecOf(c).suffix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
const ARTIFACT_FILE = new RegExp(`^(.+?)\\.(?:state\\.json(?:\\.gz)?|sigvault\\.tar|(?:files|deltas)\\.tar(?:${SUFFIXES}))$`);
const STATE_FILE = /\.state\.json(?:\.gz)?$/;

/**
 * The base name of artifact `role` of backup `id`. `compression` only matters for the files
 * and deltas archives: a state is always `ID.state.json.gz` (see {@link plainStateFile}).
 * `EPARAM` when `id` is not a backup id, so no name built here can hold a path separator.
 */
export function artifactFile(id: string, role: ArtifactFileRole, compression: Compression): string {
  if (!isBackupId(id)) throw new BackupError('EPARAM', `not a backup id: ${JSON.stringify(id)}`);
  if (role === 'state') return `${id}.state.json.gz`;
  if (role === 'sigvault') return `${id}.sigvault.tar`;
  return `${id}.${role}.tar${codecOf(compression).suffix}`;
}

/**
 * The name the state file of backup `id` has when an older release wrote it (plain JSON,
 * state version 2): still read, never written. `EPARAM` when `id` is not a backup id.
 */
export function plainStateFile(id: string): string {
  return artifactFile(id, 'state', 'none').slice(0, -'.gz'.length);
}

/** True when `file` is the name of a backup's state file, of either form. */
export function isStateFile(file: string): boolean {
  return STATE_FILE.test(file) && idOfFile(file) !== undefined;
}

/** The backup id an artifact or state file name belongs to, if it is one. */
export function idOfFile(file: string): string | undefined {
  const id = ARTIFACT_FILE.exec(file)?.[1];
  return isBackupId(id) ? id : undefined;
}
