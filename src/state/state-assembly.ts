/**
 * A state put together from the pieces of its text as they stream in, each checked on
 * arrival: the fields before the entries as soon as the entries open (then the file is known
 * to be the expected backup's, and its chain is known to check entries against), each entry
 * as it comes, the fields after them at the end. Nothing is checked twice and the entries
 * are built once, as the array the state returns: an entry line this release wrote is read
 * from its bytes and checked as it is read (`entry-parse.ts`), any other is parsed as JSON
 * and checked by the fast check or the schema.
 *
 * A version-3 state lists its fields in schema order (`entries` after everything but
 * `stats`); a field out of that order is refused by name. A document whose entries are not a
 * list of lines (hostile, or no state at all) is checked whole at the end, as one value.
 */
import { EntryLineReader } from './entry-parse.js';
import { StateProblem } from './problem.js';
import type { LayoutSink } from './state-layout.js';
import type { StateHead } from './invariants.js';
import { backupStateSchema, STATE_VERSION, type BackupState, type StateEntry } from './schema.js';
import { checkHead, checkState, checkTail, EntryChecker } from './validate.js';

/** What a reader knows about a state file from where it found it. */
export interface ExpectedState {
  /** The backup id in the file's name. */
  id: string;
  /** The backup name whose folder it is in. */
  name: string;
}

const ORDER = Object.keys(backupStateSchema.shape);

/** The checked state a version-3 text holds, as a {@link LayoutSink}. Throws {@link StateProblem}. */
export class StateAssembly implements LayoutSink {
  private readonly head: Record<string, unknown> = {};
  private readonly tail: Record<string, unknown> = {};
  private last = -1;
  private list: { key: string; items: unknown[] } | undefined;
  private checked: { head: StateHead; checker: EntryChecker; reader: EntryLineReader; entries: StateEntry[] } | undefined;

  constructor(private readonly expect: ExpectedState) {}

  field(key: string, value: unknown): void {
    this.inOrder(key);
    define(this.checked ? this.tail : this.head, key, value);
  }

  open(key: string): void {
    this.inOrder(key);
    if (key !== 'entries') {
      this.list = { key, items: [] };
      return;
    }
    const head = checkHead(this.head, STATE_VERSION);
    checkExpected(head, this.expect);
    const ids = head.chain.map((link) => link.id);
    this.checked = { head, checker: new EntryChecker(head), reader: new EntryLineReader(ids), entries: [] };
  }

  elementBytes(bytes: Buffer, start: number, end: number): boolean {
    if (this.list || !this.checked) return false;
    const entry = this.checked.reader.read(bytes, start, end);
    if (entry === undefined) return false;
    this.checked.checker.checkRules(entry, this.checked.entries.length);
    this.checked.entries.push(entry);
    return true;
  }

  element(value: unknown): void {
    if (this.list) this.list.items.push(value);
    else {
      const { checker, entries } = this.checked!;
      const entry = checker.check(value, entries.length);
      checker.shareIds(entry);
      entries.push(entry);
    }
  }

  close(): void {
    if (this.list) define(this.checked ? this.tail : this.head, this.list.key, this.list.items);
    this.list = undefined;
  }

  /** The state, once the whole text was read. */
  finish(): BackupState {
    if (!this.checked) {
      const whole = checkState(this.head, STATE_VERSION);
      if (!whole.ok) throw new StateProblem(whole.problem);
      checkExpected(whole.state, this.expect);
      return whole.state;
    }
    const { stats } = checkTail(this.tail);
    return { ...this.checked.head, entries: this.checked.entries, stats };
  }

  private inOrder(key: string): void {
    const at = ORDER.indexOf(key);
    if (at === -1) return;
    if (at < this.last) throw new StateProblem(`${key}: expected before ${ORDER[this.last]} (a version-3 state lists its fields in schema order)`);
    this.last = at;
  }
}

/**
 * `state` says it is backup `expect.id` of name `expect.name`, as the place of its file does.
 * A file renamed, swapped or copied from another backup is refused rather than restored as
 * the point its place names. Throws {@link StateProblem}.
 */
export function checkExpected(state: Pick<BackupState, 'id' | 'name'>, expect: ExpectedState): void {
  if (state.id !== expect.id) {
    throw new StateProblem(`id: it is the state of backup ${JSON.stringify(state.id)}, not of ${JSON.stringify(expect.id)} as its file name says (renamed or swapped)`);
  }
  if (state.name !== expect.name) {
    throw new StateProblem(`name: it is a state of backup name ${JSON.stringify(state.name)}, not ${JSON.stringify(expect.name)} (copied from another backup)`);
  }
}

/** Set `key` even when it is `__proto__`: a hostile field must reach the schema, which refuses it. */
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
