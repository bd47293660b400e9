/**
 * Checking a parsed JSON value as a backup state, and saying what is wrong in one line.
 *
 * The order is: is it a state at all (`format`), of which schema version, then the schema,
 * then the rules between fields. Version 1 (written by releases before the state carried its
 * parent's digest) is refused with a pointer to the fix rather than migrated: a chain must be
 * verifiable end to end, and a version-1 chain is not. Which version a file must hold follows
 * from its container: 2 in plain JSON, 3 compressed.
 *
 * A state is checked whole ({@link checkState}) or in parts as it streams ({@link checkHead},
 * then {@link EntryChecker} for each entry, then {@link checkTail}). The parts are the
 * schema's own (`omit` and `pick` of it, its entry schema), so both ways accept the same
 * states; an entry is first offered to the fast {@link isExactEntry}, and the schema is asked
 * only about what that does not vouch for. An entry a reader read from its line's bytes
 * (`entry-parse.ts`, which checks each field as it reads it) needs only the rules
 * ({@link EntryChecker.checkRules}).
 *
 * A problem reads `FIELD (CONTEXT): WHY, got VALUE`, e.g.
 * `entries[12].mtime (path "a/b"): expected a decimal string of nanoseconds, got "abc"`: the
 * field as a path from the root, the entry or backup it sits in, and the offending value when
 * it is short. Only the first problem is spelled out (with a count of the others): a hostile
 * state can have a million, and the message must stay readable and small.
 */
import type { z } from 'zod';
import { isExactEntry } from './entry-check.js';
import { EntryRules, findChainViolation, findInvariantViolation, type StateHead } from './invariants.js';
import { StateProblem } from './problem.js';
import { backupStateSchema, STATE_FORMAT, STATE_VERSION, STATE_VERSION_PLAIN, stateEntrySchema, type BackupState, type BackupStats, type StateEntry } from './schema.js';

/** A state, or the one-line description of why a value is not one. */
export type StateCheck = { ok: true; state: BackupState } | { ok: false; problem: string };

/** The fields before the entries: everything but `entries` and `stats`. */
const headSchema = backupStateSchema.omit({ entries: true, stats: true });
/** The fields after the entries. */
const tailSchema = backupStateSchema.pick({ stats: true });

/**
 * Check `value` (parsed JSON) as a whole backup state of schema `version`: format, version,
 * schema, then the rules between fields. The state returned is a fresh copy with its fields in
 * schema order. For version-2 files, and states small enough to hold twice.
 */
export function checkState(value: unknown, version: number = STATE_VERSION): StateCheck {
  try {
    checkVersion(value, version);
  } catch (e) {
    return { ok: false, problem: (e as StateProblem).message };
  }
  const parsed = backupStateSchema.safeParse(value, { error: fallbackMessage });
  if (!parsed.success) return { ok: false, problem: describeIssues(parsed.error.issues, value) };
  const broken = findInvariantViolation(parsed.data);
  if (broken) return { ok: false, problem: `${fieldName(broken.field, value)}: ${broken.message}` };
  return { ok: true, state: parsed.data };
}

/**
 * The fields before the entries (`head`, holding neither `entries` nor `stats`), checked:
 * format, version, schema and the chain's rules. Returns a copy in schema order; throws
 * {@link StateProblem}.
 */
export function checkHead(head: Record<string, unknown>, version: number = STATE_VERSION): StateHead {
  checkVersion(head, version);
  const parsed = headSchema.safeParse(head, { error: fallbackMessage });
  if (!parsed.success) throw new StateProblem(describeIssues(parsed.error.issues, head));
  const broken = findChainViolation(parsed.data);
  if (broken) throw new StateProblem(`${fieldName(broken.field, head)}: ${broken.message}`);
  return parsed.data;
}

/**
 * The fields after the entries (`tail`: `stats`, and nothing else), checked. Returns a copy;
 * throws {@link StateProblem}.
 */
export function checkTail(tail: Record<string, unknown>): { stats: BackupStats } {
  const parsed = tailSchema.safeParse(tail, { error: fallbackMessage });
  if (!parsed.success) throw new StateProblem(describeIssues(parsed.error.issues, tail));
  return parsed.data;
}

/** The entries of a state whose head passed {@link checkHead}, checked one by one in order. */
export class EntryChecker {
  private readonly rules: EntryRules;

  constructor(head: StateHead) {
    this.rules = new EntryRules(head.chain);
  }

  /**
   * Entry number `index`, checked against the schema and the rules given the entries before
   * it: `value` itself when the schema would return it unchanged, otherwise the schema's copy.
   * Throws {@link StateProblem}.
   */
  check(value: unknown, index: number): StateEntry {
    let entry: StateEntry;
    if (isExactEntry(value)) entry = value;
    else {
      const parsed = stateEntrySchema.safeParse(value, { error: fallbackMessage });
      const root = { entries: { [index]: value } };
      if (!parsed.success) throw new StateProblem(describeIssues(parsed.error.issues.map((i) => ({ ...i, path: ['entries', index, ...i.path] })), root));
      entry = parsed.data;
    }
    this.checkRules(entry, index);
    return entry;
  }

  /**
   * Make the backup ids of `entry` (which passed {@link EntryChecker.check}) the chain's own
   * strings: parsed from a file, a million entries would otherwise hold a copy of the same id each.
   */
  shareIds(entry: StateEntry): void {
    this.rules.shareIds(entry);
  }

  /**
   * Entry number `index`, known to be one the schema returns unchanged (the fast check, or a
   * reader or writer that checks as it does, vouched for it), checked against the rules given
   * the entries before it. Throws {@link StateProblem}.
   */
  checkRules(entry: StateEntry, index: number): void {
    const broken = this.rules.check(entry, index);
    if (broken) throw new StateProblem(`${fieldName(broken.field, { entries: { [index]: entry } })}: ${broken.message}`);
  }
}

/** Is `value` a state at all, of `version`? Throws {@link StateProblem}. */
function checkVersion(value: unknown, version: number): void {
  if (!isRecord(value) || value.format !== STATE_FORMAT) {
    throw new StateProblem(`it is not a backup state (its "format" is not ${JSON.stringify(STATE_FORMAT)})`);
  }
  if (value.version === 1) {
    throw new StateProblem(
      'schema version 1 is from an older release of incremental-backups-tools, which this release does not read; start a new chain with a full backup',
    );
  }
  if (value.version !== version) {
    const which = version === STATE_VERSION_PLAIN ? 'the version of a state file in plain JSON' : 'the version of a compressed state file';
    throw new StateProblem(`version: expected ${version} (${which}), got ${show(value.version)}`);
  }
}

function describeIssues(issues: readonly z.core.$ZodIssue[], root: unknown): string {
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
  return `${describeIssue(issues[0]!, root)}${more}`;
}

/** Messages for the issues no field of the schema words itself (structure, mostly). */
function fallbackMessage(issue: { code: string; expected?: unknown }): string {
  if (issue.code === 'invalid_type' && typeof issue.expected === 'string') return `expected ${article(issue.expected)}`;
  return 'invalid value';
}

function describeIssue(issue: z.core.$ZodIssue, root: unknown): string {
  if (issue.code === 'unrecognized_keys') {
    const [key] = issue.keys;
    const others = issue.keys.length > 1 ? ` (and ${issue.keys.length - 1} more)` : '';
    return `${fieldName([...issue.path, key!], root)}: unknown field${others}`;
  }
  const path = issue.path as (string | number)[];
  const { present, value } = lookUp(root, path);
  if (!present) return `${fieldName(path, root)}: missing (${issue.message})`;
  return `${fieldName(path, root)}: ${issue.message}, got ${show(value)}`;
}

/** `entries[12].mtime (path "a/b")`: the field, and the entry or backup it belongs to. */
function fieldName(path: readonly PropertyKey[], root: unknown): string {
  let name = '';
  for (const key of path) {
    if (typeof key === 'number') name += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$]*$/.test(key)) name += `${name === '' ? '' : '.'}${key}`;
    else name += `[${show(String(key))}]`;
  }
  // The field that names an entry or a backup is shown as the value itself, not as context.
  const label = path[0] === 'entries' ? 'path' : path[0] === 'chain' ? 'id' : undefined;
  if (label !== undefined && typeof path[1] === 'number' && path.length > 2 && !(path.length === 3 && path[2] === label)) {
    const owner = lookUp(root, path.slice(0, 2)).value;
    const what = isRecord(owner) ? owner[label] : undefined;
    if (typeof what === 'string') name += ` (${label === 'id' ? 'backup' : 'path'} ${show(what)})`;
  }
  return name || 'the state';
}

function lookUp(root: unknown, path: readonly PropertyKey[]): { present: boolean; value: unknown } {
  let value = root;
  for (const key of path) {
    if (!isRecord(value) || !Object.hasOwn(value, key)) return { present: false, value: undefined };
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return { present: value !== undefined, value };
}

/** A value for a message: short strings and scalars verbatim, long strings cut, structures named. */
function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
