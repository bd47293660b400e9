/**
 * The artifacts of one backup and their names in the work directory.
 *
 * A backup `ID` of name `NAME` lives in `WORKDIR/NAME/`:
 *   ID.sigvault.tar        signatures of the files whose content this backup stored
 *   ID.files.tar[.gz]      files stored whole (all of them in a full backup), plus the
 *                          directories and symlinks created or changed, for manual recovery
 *   ID.deltas.tar[.gz]     librsync deltas of changed files against their previous version
 *   ID.state.json          the state, written last: the commit point
 * Any archive that would hold no entry is not written. The storage key of an artifact is
 * `NAME/FILE`, so a plugin uploading the report's files and a restore fetching them agree.
 */
import type { Compression } from '../archive/index.js';

/** What an artifact holds. */
export type ArtifactRole = 'sigvault' | 'files' | 'deltas';

/** A written artifact, as the state records it. */
export interface ArtifactSummary {
  role: ArtifactRole;
  /** Base name in the backup's work directory (and the last part of its storage key). */
  file: string;
  size: number;
  /** xxHash64 of the artifact's bytes. */
  hash: string;
  compression: Compression;
  /** Number of archive entries. */
  entries: number;
}

/** The base name of an artifact of backup `id`. */
export function artifactFile(id: string, role: ArtifactRole | 'state', compression: Compression): string {
  if (role === 'state') return `${id}.state.json`;
  if (role === 'sigvault') return `${id}.sigvault.tar`;
  return `${id}.${role}.tar${compression === 'gzip' ? '.gz' : ''}`;
}

/** The id an artifact or state file name belongs to, if it is one. */
export function idOfFile(file: string): string | undefined {
  const m = /^(\d{8}T\d{9}Z-\d{3})\.(?:state\.json|sigvault\.tar|files\.tar(?:\.gz)?|deltas\.tar(?:\.gz)?)$/.exec(file);
  return m?.[1];
}

/** The storage key of an artifact file of backup name `name`. */
export function storageKey(name: string, file: string): string {
  return `${name}/${file}`;
}
