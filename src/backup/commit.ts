/**
 * The commit of a backup: its state, written last. The backup exists from the moment its
 * state file does (the archives it names are already renamed into place); then the directory
 * is fsync'd so that the renames survive a power cut — a failure there comes after the commit,
 * so the caller must not remove the archives when it does.
 *
 * The state is streamed to its file (`state/state-writer.ts`), checked on the way, never held
 * as text; `stats.bytesWritten` counts the archives and the state file itself, whose size the
 * writer knows once the entries are compressed.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { BackupError, wrapIoError } from '../errors.js';
import {
  artifactFile,
  idDate,
  STATE_FORMAT,
  STATE_VERSION,
  type ArtifactSummary,
  type BackupState,
  type BackupStats,
  type Compression,
  type ReadState,
  type StateEntry,
  writeStateFile,
} from '../state/index.js';
import type { BackupWarning } from '../catalog/index.js';
import type { ReportFile } from './options.js';

/** Everything a backup's state records. */
export interface Commit {
  /** The backup name's folder. */
  dir: string;
  name: string;
  id: string;
  /** The parent state and its digest; none for a full backup. */
  parent: ReadState | undefined;
  /** The source, as it was opened. */
  source: string;
  compression: Compression;
  checksum: boolean;
  /** This backup's finished archives. */
  artifacts: ArtifactSummary[];
  /** Its counters; `durationMs` is filled in here, `bytesWritten` (the state file included) by the state writer. */
  stats: BackupStats;
  warnings: BackupWarning[];
  /** The records of the tree, in any order (sorted here). */
  entries: StateEntry[];
  /** When the backup started (`performance.now()`). */
  started: number;
}

/** Write the state of `c`, the commit point; returns it and the report's line for it. */
export async function writeState(c: Commit): Promise<{ state: BackupState; file: ReportFile }> {
  sortByPath(c.entries);
  const kind = c.parent ? 'incremental' : 'full';
  const createdAt = idDate(c.id).toISOString();
  const draft: BackupState = {
    format: STATE_FORMAT,
    version: STATE_VERSION,
    name: c.name,
    id: c.id,
    kind,
    parent: c.parent ? { id: c.parent.state.id, digest: c.parent.digest } : null,
    createdAt,
    source: c.source,
    compression: c.compression,
    checksum: c.checksum,
    chain: [...(c.parent?.state.chain ?? []), { id: c.id, kind, createdAt, artifacts: c.artifacts }],
    warnings: c.warnings,
    entries: c.entries,
    stats: c.stats,
  };
  const artifactBytes = c.artifacts.reduce((n, a) => n + a.size, 0);
  c.stats.durationMs = Math.round(performance.now() - c.started);
  const path = `${c.dir}/${artifactFile(c.id, 'state', 'none')}`;
  const written = await writeStateFile(path, draft, { artifactBytes });
  return { state: written.state, file: { path, role: 'state', size: written.size, hash: written.hash } };
}

/**
 * Sort `entries` by path in code-unit order, as a state lists them. The walk lists each
 * directory in that order, depth first: the same order unless a name holds a character below
 * `/` (the walk gives `a/x` before `a-b`, a state the other way round). So the sort runs only
 * when a first pass finds two entries out of order; a pass that finds them sorted costs a
 * fraction of the sort (a million entries: 0.08-0.16 s against 0.11-0.47 s).
 */
function sortByPath(entries: StateEntry[]): void {
  for (let i = 1; i < entries.length; i++) {
    if (!(entries[i - 1]!.path < entries[i]!.path)) {
      entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      return;
    }
  }
}

/**
 * Make the renames in `dir` durable: without it a power cut could lose a committed state.
 * A failure is reported, not swallowed: the backup exists now but may not survive a crash,
 * and the caller must know before it deletes anything the backup was meant to replace.
 */
export async function syncDir(dir: string, id: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (e) {
    const err = wrapIoError(e, dir, 'syncing');
    throw new BackupError(err.code, `backup ${id} was written, but ${err.message}: it may not survive a power cut`, { path: dir, cause: e });
  } finally {
    await fh?.close().catch(() => undefined);
  }
}
