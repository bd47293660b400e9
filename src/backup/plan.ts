/**
 * What a backup does with one walked entry, decided from its metadata and its record in the
 * parent state alone: no file system, so every rule is testable on its own.
 *
 * - A directory or symlink is recorded; it goes into the files archive (as a header, for
 *   manual recovery) when it is new or changed.
 * - A file whose type, size, mtime, ctime and inode are those recorded, whose last read was
 *   trusted and without `checksum`, is carried over unread: one lstat is all it costs.
 * - A changed file with a signature, large enough and with a chain not yet too long, is
 *   delta-encoded against the SigVault its record names (grouped by vault, after the walk).
 * - A file with the same metadata that must be read anyway (its last read was `unstable`, or
 *   `checksum` is on) is read and carried over when its bytes are the same; only when they
 *   differ is it delta-encoded (or stored). Its bytes are nearly always the same, and hashing
 *   them costs a fraction of a delta: a backup started right after a large copy found 520
 *   such files and spent 1.5 s of its main thread delta-encoding them against themselves.
 * - Anything else is stored whole.
 */
import type { FileEntry, StateEntry } from '../state/index.js';
import { contentMayDiffer, metaDiffers, type EntryMeta } from '../tree/index.js';
import { MAX_DELTAS, SMALL_FILE } from './policy.js';

/** How an entry counts in the backup's stats. */
export type Tally = 'created' | 'modified' | 'unchanged';

/** What to do with one walked entry. */
export type Step =
  | { action: 'record'; tally: Tally; archived: boolean }
  | { action: 'carry'; prev: FileEntry; tally: Tally }
  | { action: 'delta'; prev: FileEntry; vault: string }
  | { action: 'recheck'; prev: FileEntry; vault: string | undefined }
  | { action: 'store'; prev: FileEntry | undefined };

/** The tally of an entry: new, or changed in an attribute a restore reproduces, or not. */
export function tallyOf(prev: StateEntry | undefined, unchanged: boolean): Tally {
  return prev === undefined ? 'created' : unchanged ? 'unchanged' : 'modified';
}

/** Decide what to do with the entry `meta`, recorded as `prev` in the parent state. */
export function planStep(meta: EntryMeta, prev: StateEntry | undefined, options: { checksum: boolean }): Step {
  if (meta.type !== 'file') {
    const same = prev !== undefined && prev.type === meta.type && !metaDiffers(prev, meta);
    return { action: 'record', tally: tallyOf(prev, same), archived: !same };
  }
  const prevFile = prev?.type === 'file' ? prev : undefined;
  const metaSame = prevFile !== undefined && !contentMayDiffer(prevFile, meta);
  if (metaSame && !prevFile.unstable && !options.checksum) return { action: 'carry', prev: prevFile, tally: tallyOf(prev, !metaDiffers(prevFile, meta)) };
  const vault = prevFile?.sig !== undefined && meta.size >= SMALL_FILE && prevFile.content.length <= MAX_DELTAS ? prevFile.sig : undefined;
  if (metaSame) return { action: 'recheck', prev: prevFile, vault };
  if (vault !== undefined) return { action: 'delta', prev: prevFile!, vault };
  return { action: 'store', prev: prevFile };
}
