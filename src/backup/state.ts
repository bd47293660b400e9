/**
 * The backup state: one JSON document per backup, written last, whose existence commits the
 * backup. It is the authoritative record of the tree (tar headers are only a courtesy for
 * manual recovery) and of how to rebuild every file, so a restore plans its work from the
 * final state alone.
 *
 * Schema (version 1; `docs/backups.rst` documents it for humans):
 *
 *   { format: "incremental-backups-tools/state", version: 1,
 *     name, id, kind: "full" | "incremental", parent: id | null, createdAt: ISO-8601,
 *     source: absolute path, compression: "gzip" | "none", checksum: boolean,
 *     chain: [ { id, kind, createdAt, artifacts: [Artifact] } ]   full backup first, this one last
 *     stats: {...}, warnings: [ { code, path, message } ],
 *     entries: [ Entry ],                                           sorted by path
 *     digest }                                                      xxHash64 of everything before it
 *
 *   Artifact = { role: "sigvault" | "files" | "deltas", file, size, hash, compression, entries }
 *   Entry    = { path, type: "file" | "dir" | "symlink", mode, uid, gid, mtime (ns, string),
 *                size, target?                                      symlinks
 *                hash?, content?, sig?, unstable? }                 files
 *
 * `content` lists backup ids: the first one's files archive holds the file whole, each
 * following one's deltas archive holds a delta against the version before. `sig` names the
 * backup whose SigVault holds the signature of the current version (absent for files too
 * small to be worth deltas). `unstable` marks a file that changed while it was read: what
 * was stored is exactly what `hash` and `size` describe, and the next backup reads it again.
 *
 * `digest`, the last field, is the xxHash64 of the document's text up to it (with `}` in
 * place of `,"digest":…`), so any damaged byte, even one that leaves valid JSON such as a
 * changed mode digit, is detected before the state is used.
 */
import { readFile } from 'node:fs/promises';
import { hashChunks } from '../tree/index.js';
import { BackupError } from '../errors.js';
import type { ArtifactSummary } from './artifacts.js';
import type { EntryMeta } from '../tree/index.js';
import type { BackupStats, BackupWarning } from './options.js';

/** The `format` field of every state. */
export const STATE_FORMAT = 'incremental-backups-tools/state';
/** The schema version this library writes and reads. */
export const STATE_VERSION = 1;

/** One entry of the tree as a backup recorded it. */
export interface StateEntry extends EntryMeta {
  path: string;
  /** Content hash (xxHash64, 16 hex digits) of the stored bytes. */
  hash?: string;
  /** Backup ids to replay: whole file, then deltas in order. */
  content?: string[];
  /** Backup whose SigVault holds this version's signature. */
  sig?: string;
  /** The file changed while it was read. */
  unstable?: true;
}

/** One backup of a chain, with its artifacts. */
export interface ChainLink {
  id: string;
  kind: 'full' | 'incremental';
  createdAt: string;
  artifacts: ArtifactSummary[];
}

/** A backup state document. */
export interface BackupState {
  format: typeof STATE_FORMAT;
  version: typeof STATE_VERSION;
  name: string;
  id: string;
  kind: 'full' | 'incremental';
  parent: string | null;
  createdAt: string;
  source: string;
  compression: 'gzip' | 'none';
  checksum: boolean;
  chain: ChainLink[];
  stats: BackupStats;
  warnings: BackupWarning[];
  entries: StateEntry[];
}

/** Read and check the state file at `path`; anything malformed is `ECORRUPT` naming it. */
export async function readState(path: string): Promise<BackupState> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new BackupError('EMISSING', `backup state ${path} is missing`, { path, cause: e });
    throw new BackupError('EIO', `reading backup state ${path}: ${(e as Error).message}`, { path, cause: e });
  }
  const bad = (why: string): never => {
    throw new BackupError('ECORRUPT', `backup state ${path} is invalid: ${why}`, { path });
  };
  const m = /,"digest":"([0-9a-f]{16})"\}$/.exec(text);
  if (!m) bad('it is truncated or has no digest');
  const body = `${text.slice(0, m!.index)}}`;
  if ((await hashChunks([Buffer.from(body)])) !== m![1]) bad('its digest does not match its content (the file is damaged)');
  let state: BackupState;
  try {
    state = JSON.parse(body) as BackupState;
  } catch (e) {
    throw new BackupError('ECORRUPT', `backup state ${path} is not valid JSON (${(e as Error).message})`, { path, cause: e });
  }
  if (state === null || typeof state !== 'object' || state.format !== STATE_FORMAT) bad('not a backup state');
  if (state.version !== STATE_VERSION) bad(`schema version ${state.version} is not supported (this library reads version ${STATE_VERSION})`);
  if (typeof state.id !== 'string' || !Array.isArray(state.entries) || !Array.isArray(state.chain) || state.chain.length === 0) bad('missing fields');
  if (state.chain[state.chain.length - 1]!.id !== state.id) bad('its chain does not end with itself');
  for (const e of state.entries) {
    if (e === null || typeof e !== 'object' || typeof e.path !== 'string' || !['file', 'dir', 'symlink'].includes(e.type)) bad('malformed entry');
    if (e.type === 'file' && (typeof e.hash !== 'string' || !Array.isArray(e.content) || e.content.length === 0)) bad(`file entry ${JSON.stringify(e.path)} has no content record`);
    if (e.type === 'symlink' && typeof e.target !== 'string') bad(`symlink entry ${JSON.stringify(e.path)} has no target`);
  }
  return state;
}

/** The text of a state file: the JSON document with its digest as the last field. */
export async function serializeState(state: BackupState): Promise<Buffer> {
  const body = JSON.stringify(state);
  const digest = await hashChunks([Buffer.from(body)]);
  return Buffer.from(`${body.slice(0, -1)},"digest":"${digest}"}`);
}
