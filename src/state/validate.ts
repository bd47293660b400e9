/**
 * Checking a parsed JSON value as a backup state, and saying what is wrong in one line.
 *
 * The order is: is it a state at all (`format`), of which schema version, then the version-2
 * schema, then the rules between fields. Version 1 (written by releases before the state
 * carried its parent's digest) is refused with a pointer to the fix rather than migrated: a
 * chain must be verifiable end to end, and a version-1 chain is not.
 *
 * A problem reads `FIELD (CONTEXT): WHY, got VALUE`, e.g.
 * `entries[12].mtime (path "a/b"): expected a decimal string of nanoseconds, got "abc"`: the
 * field as a path from the root, the entry or backup it sits in, and the offending value when
 * it is short. Only the first problem is spelled out (with a count of the others): a hostile
 * state can have a million, and the message must stay readable and small.
 */
import type { z } from 'zod';
import { findInvariantViolation } from './invariants.js';
import { backupStateSchema, STATE_FORMAT, STATE_VERSION, type BackupState } from './schema.js';

/** A state, or the one-line description of why a value is not one. */
export type StateCheck = { ok: true; state: BackupState } | { ok: false; problem: string };

/**
 * Check `value` (parsed JSON) as a backup state: format, version, schema, then the rules
 * between fields. The state returned is a fresh copy with its fields in schema order.
 */
export function checkState(value: unknown): StateCheck {
  if (!isRecord(value) || value.format !== STATE_FORMAT) {
    return { ok: false, problem: `it is not a backup state (its "format" is not ${JSON.stringify(STATE_FORMAT)})` };
  }
  if (value.version === 1) {
    return {
      ok: false,
      problem:
        'schema version 1 is from an older release of incremental-backups-tools, which this release does not read; start a new chain with a full backup',
    };
  }
  if (value.version !== STATE_VERSION) {
    return { ok: false, problem: `version: expected ${STATE_VERSION} (the only schema version this release reads), got ${show(value.version)}` };
  }
  const parsed = backupStateSchema.safeParse(value, { error: fallbackMessage });
  if (!parsed.success) {
    const issues = parsed.error.issues;
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
    return { ok: false, problem: `${describeIssue(issues[0]!, value)}${more}` };
  }
  const broken = findInvariantViolation(parsed.data);
  if (broken) return { ok: false, problem: `${fieldName(broken.field, value)}: ${broken.message}` };
  return { ok: true, state: parsed.data };
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
