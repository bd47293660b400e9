/**
 * What a state must satisfy beyond the type of each field: the rules that tie fields together.
 *
 * The schema says an entry's `content` is a list of backup ids; only here is it checked that
 * those are backups of this chain, in order, and that each has the archive the restore will
 * open. Likewise the chain must start with a full backup and end with this one, the parent
 * must be the link before, every artifact name must be the one derived from its link's id
 * (so a state cannot smuggle a path into a fetch or a read), and the entries must be sorted,
 * unique, safe relative paths whose parent directories are listed. A state that passes can be
 * restored by a planner that never re-checks any of it.
 *
 * The chain's rules need only the fields before the entries, and the entries' rules one entry
 * at a time ({@link EntryRules}), so a state is checked as it streams in: the only memory kept
 * is the set of directory paths and the last path.
 */
import { checkRelativePath, parentOf } from '../archive/safe-path.js';
import { artifactFile } from './artifact-names.js';
import { idDate, isBackupId } from './ids.js';
import type { BackupState, ChainLink, FileEntry, StateEntry } from './schema.js';

/** A field of a state that breaks a rule, and why. */
export interface StateViolation {
  /** Where: object keys and array indexes from the state's root. */
  field: readonly (string | number)[];
  /** What is wrong, for people. */
  message: string;
}

/** The fields of a state that come before its entries: all the chain's rules need. */
export type StateHead = Omit<BackupState, 'entries' | 'stats'>;

/** The first rule `state` (which passed the schema) breaks, or undefined when it breaks none. */
export function findInvariantViolation(state: BackupState): StateViolation | undefined {
  const bad = findChainViolation(state);
  if (bad) return bad;
  const rules = new EntryRules(state.chain);
  for (let i = 0; i < state.entries.length; i++) {
    const broken = rules.check(state.entries[i]!, i);
    if (broken) return broken;
  }
  return undefined;
}

function violation(field: readonly (string | number)[], message: string): StateViolation {
  return { field, message };
}

function instantOf(id: string): string | undefined {
  return isBackupId(id) ? idDate(id).toISOString() : undefined;
}

/** The first rule of the chain (ids, times, kinds, parent, artifact names) `head` breaks. */
export function findChainViolation(state: StateHead): StateViolation | undefined {
  if (instantOf(state.id) === undefined) return violation(['id'], `${JSON.stringify(state.id)} names no real instant`);
  if (state.createdAt !== instantOf(state.id)) return violation(['createdAt'], `expected ${JSON.stringify(instantOf(state.id))}, the time in the id`);
  const chain = state.chain;
  if (chain.length === 0) return violation(['chain'], 'expected at least one backup (the full backup the chain starts with)');
  for (let i = 0; i < chain.length; i++) {
    const bad = linkViolation(chain[i]!, i, chain[i - 1]);
    if (bad) return bad;
  }
  const last = chain.length - 1;
  if (chain[last]!.id !== state.id) return violation(['chain', last, 'id'], `expected ${JSON.stringify(state.id)}: the chain ends with the backup itself`);
  if (chain[last]!.kind !== state.kind) return violation(['chain', last, 'kind'], `expected ${JSON.stringify(state.kind)}, the kind of the backup`);
  if (state.kind === 'full') {
    if (state.parent !== null) return violation(['parent'], 'expected null: a full backup has no parent');
    if (chain.length !== 1) return violation(['chain'], 'expected one backup: a full backup is a chain by itself');
  } else {
    if (state.parent === null) return violation(['parent'], 'expected { id, digest }: an incremental backup names its parent');
    if (state.parent.id !== chain[last - 1]!.id) return violation(['parent', 'id'], `expected ${JSON.stringify(chain[last - 1]!.id)}, the chain's link before this backup`);
  }
  return undefined;
}

function linkViolation(link: ChainLink, i: number, previous: ChainLink | undefined): StateViolation | undefined {
  const at = ['chain', i];
  const instant = instantOf(link.id);
  if (instant === undefined) return violation([...at, 'id'], `${JSON.stringify(link.id)} names no real instant`);
  if (previous && link.id <= previous.id) return violation([...at, 'id'], `expected an id after ${JSON.stringify(previous.id)} (the chain is ordered by id)`);
  const kind = i === 0 ? 'full' : 'incremental';
  if (link.kind !== kind) return violation([...at, 'kind'], i === 0 ? 'expected "full": a chain starts with a full backup' : 'expected "incremental": only the first backup of a chain is full');
  if (link.createdAt !== instant) return violation([...at, 'createdAt'], `expected ${JSON.stringify(instant)}, the time in the id`);
  const roles = new Set<string>();
  for (let j = 0; j < link.artifacts.length; j++) {
    const a = link.artifacts[j]!;
    if (roles.has(a.role)) return violation([...at, 'artifacts', j, 'role'], `a second ${a.role} archive for one backup`);
    roles.add(a.role);
    if (a.role === 'sigvault' && a.compression !== 'none') return violation([...at, 'artifacts', j, 'compression'], 'expected "none": a SigVault is never compressed');
    const file = artifactFile(link.id, a.role, a.compression);
    if (a.file !== file) return violation([...at, 'artifacts', j, 'file'], `expected ${JSON.stringify(file)}, the name derived from the backup id, role and compression`);
  }
  return undefined;
}

/** The rules between entries and with the chain, checked one entry at a time in order. */
export class EntryRules {
  private readonly linkOf: Map<string, { id: string; index: number; roles: Set<string> }>;
  private readonly dirs = new Set<string>();
  private previous: string | undefined;
  /** The parent of the last entry whose parent was looked up ('' for none): a directory of {@link dirs}. */
  private lastParent = '';

  /** Rules for the entries of a state whose chain (which passed its own rules) is `chain`. */
  constructor(chain: readonly ChainLink[]) {
    this.linkOf = new Map(chain.map((link, index) => [link.id, { id: link.id, index, roles: new Set(link.artifacts.map((a) => a.role)) }]));
  }

  /**
   * The first rule entry `e` (which passed the schema), the state's entry number `i`, breaks
   * given the entries before it, or undefined.
   */
  check(e: StateEntry, i: number): StateViolation | undefined {
    const path = e.path;
    try {
      checkRelativePath(path, 'path');
    } catch (err) {
      return violation(['entries', i, 'path'], (err as Error).message);
    }
    const previous = this.previous;
    if (previous !== undefined && !(previous < path)) {
      return violation(['entries', i, 'path'], previous === path ? 'listed twice' : `expected a path after ${JSON.stringify(previous)} (entries are sorted by path in code-unit order)`);
    }
    this.previous = path;
    if (!this.inLastParent(path)) {
      const parent = parentOf(path);
      if (parent !== '' && !this.dirs.has(parent)) return violation(['entries', i, 'path'], `its parent ${JSON.stringify(parent)} is not a directory entry of the state`);
      this.lastParent = parent;
    }
    if (e.type === 'dir') this.dirs.add(path);
    else if (e.type === 'file') return fileViolation(e, i, this.linkOf);
    return undefined;
  }

  /**
   * Whether `path`'s parent is {@link lastParent}, found in dirs for the entry before: a
   * sibling's parent needs no copy and no lookup (most entries are a sibling of the one before).
   */
  private inLastParent(path: string): boolean {
    const parent = this.lastParent;
    const n = parent.length;
    return n > 0 && path.charCodeAt(n) === 0x2f && path.startsWith(parent) && path.indexOf('/', n + 1) === -1;
  }

  /**
   * Make the backup ids of `e` (which {@link EntryRules.check} passed) the chain's own strings:
   * parsed from a file, a million entries would otherwise hold a copy of the same id each.
   */
  shareIds(e: StateEntry): void {
    if (e.type !== 'file') return;
    for (let j = 0; j < e.content.length; j++) e.content[j] = this.linkOf.get(e.content[j]!)!.id;
    if (e.sig !== undefined) e.sig = this.linkOf.get(e.sig)!.id;
  }
}

function fileViolation(e: FileEntry, i: number, linkOf: Map<string, { index: number; roles: Set<string> }>): StateViolation | undefined {
  let previous = -1;
  for (let j = 0; j < e.content.length; j++) {
    const id = e.content[j]!;
    const link = linkOf.get(id);
    if (!link) return violation(['entries', i, 'content', j], `backup ${JSON.stringify(id)} is not in the chain`);
    if (link.index <= previous) return violation(['entries', i, 'content', j], `expected a backup after ${JSON.stringify(e.content[j - 1])} (content is in chain order, each backup once)`);
    previous = link.index;
    const role = j === 0 ? 'files' : 'deltas';
    if (!link.roles.has(role)) return violation(['entries', i, 'content', j], `backup ${JSON.stringify(id)} has no ${role} archive`);
  }
  if (e.sig !== undefined) {
    const link = linkOf.get(e.sig);
    if (!link) return violation(['entries', i, 'sig'], `backup ${JSON.stringify(e.sig)} is not in the chain`);
    if (!link.roles.has('sigvault')) return violation(['entries', i, 'sig'], `backup ${JSON.stringify(e.sig)} has no SigVault`);
  }
  const wanted = e.content.length - 1;
  if (wanted === 0 && e.steps !== undefined) return violation(['entries', i, 'steps'], 'expected no steps: content names one backup');
  if (wanted > 0 && e.steps === undefined) return violation(['entries', i, 'steps'], `missing: content names ${e.content.length} backups, so ${wanted} intermediate versions are recorded`);
  if (e.steps !== undefined && e.steps.length !== wanted) return violation(['entries', i, 'steps'], `expected ${wanted} steps (one per backup of content but the last), found ${e.steps.length}`);
  return undefined;
}
