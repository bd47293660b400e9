/**
 * The plan of a restore, made from the final state alone.
 *
 * The state says, for every file, which backup's files archive holds it whole (`content[0]`)
 * and which later backups' deltas archives hold the deltas to replay (`content[1…]`). The
 * plan groups the files by the archive each version comes from, so that every archive of the
 * chain is read once, in chain order, for exactly the entries it must give: a file unchanged
 * since the full backup is extracted once and never rewritten.
 *
 * It also says what each version must be: the state records the size and hash of every
 * version before the current one (`steps`) and of the current one (`size`, `hash`). A
 * restore enforces the sizes at every step and the hashes of the versions it writes (of a
 * file whose deltas are composed, the first and the last: see `restore.ts`), so a hostile
 * or damaged artifact is stopped, naming it, and never writes more than the state allows
 * (a decompression bomb is cut off at the recorded size, not written in full).
 */
import type { ArtifactSummary, BackupState, DirEntry, FileEntry, SymlinkEntry } from '../state/index.js';

/** What one version of a file must be. */
export interface Version {
  /** Its index in the file's `content`: 0 is the whole file, each later one a delta's output. */
  index: number;
  /** Its size in bytes. */
  size: number;
  /** Its xxHash64, 16 lowercase hex digits. */
  hash: string;
  /** True for the current version: the one renamed into place. */
  final: boolean;
}

/** Files by the path they restore to, for one archive. */
export type Wanted = Map<string, FileEntry>;

/** The version of `e` that the archive of backup `id` produces (`id` is one of `e.content`). */
export function versionFrom(e: FileEntry, id: string): Version {
  return versionAt(e, e.content.indexOf(id));
}

/** Version `index` of `e`. The state was validated when read: `steps` has one entry per version but the last. */
export function versionAt(e: FileEntry, index: number): Version {
  const final = index === e.content.length - 1;
  const step = final ? e : e.steps![index]!;
  return { index, size: step.size, hash: step.hash, final };
}

/**
 * Whether the deltas of `e` are composed (two deltas or more): spooled as their archives are
 * read, and its last version written once from the first (see `restore.ts`).
 */
export function composes(e: FileEntry): boolean {
  return e.content.length > 2;
}

/** What a restore of one state does, grouped by archive. */
export class RestorePlan {
  /** Directories, parents before children (the state's order). */
  readonly dirs: DirEntry[] = [];
  /**
   * Directories by depth, deepest first: the order their attributes are set in (a directory
   * after everything in it; those of one depth in any order, or at once).
   */
  readonly levels: DirEntry[][];
  /** Symbolic links. */
  readonly symlinks: SymlinkEntry[] = [];
  /** By backup id: the files its files archive holds whole for this restore. */
  readonly whole = new Map<string, Wanted>();
  /** By backup id: the files its deltas archive patches for this restore. */
  readonly patched = new Map<string, Wanted>();

  constructor(readonly state: BackupState) {
    for (const e of state.entries) {
      if (e.type === 'dir') this.dirs.push(e);
      else if (e.type === 'symlink') this.symlinks.push(e);
      else {
        e.content.forEach((id, i) => {
          const byId = i === 0 ? this.whole : this.patched;
          let wanted = byId.get(id);
          if (!wanted) byId.set(id, (wanted = new Map()));
          wanted.set(e.path, e);
        });
      }
    }
    const byDepth: DirEntry[][] = [];
    for (const d of this.dirs) (byDepth[d.path.split('/').length - 1] ??= []).push(d);
    this.levels = byDepth.filter((level) => level !== undefined).reverse();
  }

  /** The archives this restore reads, and no others: what must be fetched (and thawed). */
  archives(): ArtifactSummary[] {
    const out: ArtifactSummary[] = [];
    for (const link of this.state.chain) {
      for (const a of link.artifacts) {
        if ((a.role === 'files' && this.whole.has(link.id)) || (a.role === 'deltas' && this.patched.has(link.id))) out.push(a);
      }
    }
    return out;
  }
}
