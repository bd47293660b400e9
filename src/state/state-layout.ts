/**
 * The text of a version-3 state: one JSON document, laid out in lines so that it can be
 * written and read one entry at a time.
 *
 *   {"format":…,"chain":[…],"warnings":[       the fields before the lists, in schema order
 *   {"code":…,"path":…,"message":…},           one warning per line
 *   {"code":…,"path":…,"message":…}
 *   ],"entries":[
 *   {"path":"a","type":"dir",…},                one entry per line
 *   {"path":"a/b","type":"file",…}
 *   ],"stats":{…}}                              the fields after them
 *
 * `JSON.stringify` never puts a raw newline in a string, so the only newlines are the ones
 * the layout adds: after a list's `[` and after each of its elements. The text stays one JSON
 * document (`jq` reads it), and a reader parses it a line at a time: a line of fields is
 * parsed as an object (closed by `]}` when it ends by opening a list), an element line as
 * the element. What the reader assembles is what `JSON.parse` of the whole text gives; a
 * text it cannot read that way (another layout, a list ending with a comma, a field given
 * twice, text after the end) is refused, even where it would be valid JSON.
 *
 * Memory: a reader holds one line at a time, and a line is at most {@link MAX_LINE} UTF-16
 * units (a longer one is refused: a state never needs one, and a hostile file would otherwise
 * make one string of any size). A writer refuses to write a longer line for the same reason.
 */
import { StateProblem } from './problem.js';
import type { BackupStats, StateEntry, StateWarning } from './schema.js';
import type { StateHead } from './invariants.js';

/** The longest line a state file may have, in UTF-16 units: 64 Mi. */
export const MAX_LINE = 64 * 1024 * 1024;

/** The text of the fields before the entries, up to and including the line that opens them. */
export function headText(head: StateHead): string {
  const { warnings, ...fields } = head;
  const lines = [`${JSON.stringify(fields).slice(0, -1)},"warnings":[`, ...listLines(warnings), '],"entries":['];
  return `${lines.map(checkedLine).join('\n')}\n`;
}

/** The line of an entry, with its newline: `last` when no entry follows. */
export function entryText(entry: StateEntry, last: boolean): string {
  return `${checkedLine(JSON.stringify(entry))}${last ? '\n' : ',\n'}`;
}

/** The text after the last entry, up to the end of the document, without its closing `}`. */
export function tailText(stats: BackupStats): string {
  return `],"stats":${JSON.stringify(stats)}`;
}

function listLines(items: readonly StateWarning[]): string[] {
  return items.map((item, i) => `${JSON.stringify(item)}${i < items.length - 1 ? ',' : ''}`);
}

function checkedLine(line: string): string {
  if (line.length > MAX_LINE) throw new StateProblem(`a line of ${line.length} characters, longer than a state file may have (${MAX_LINE})`);
  return line;
}

/** What a {@link LineDocument} finds, in document order. */
export interface LayoutSink {
  /** A field of the document outside the lists. */
  field(key: string, value: unknown): void;
  /** A list field opens: its elements follow, one a line. */
  open(key: string): void;
  /** The next element of the open list. */
  element(value: unknown): void;
  /** The open list closes. */
  close(): void;
}

/**
 * Reads the text of a state, given in chunks of any size, and reports its fields and list
 * elements to a {@link LayoutSink}. Throws {@link StateProblem}, naming the line, when the
 * text is not laid out as a state is.
 */
export class LineDocument {
  private mode: 'start' | 'elements' | 'done' = 'start';
  private line = 0;
  private rest = '';
  /** Elements of the open list so far, and whether the last one ended with a comma. */
  private elements = 0;
  private comma = false;
  private readonly seen = new Set<string>();

  constructor(private readonly sink: LayoutSink) {}

  /** The next chunk of the text. */
  write(text: string): void {
    let start = 0;
    let nl = text.indexOf('\n');
    if (nl === -1) {
      this.rest += text;
      if (this.rest.length > MAX_LINE) throw new StateProblem(`line ${this.line + 1} is longer than a state file may have (${MAX_LINE} characters)`);
      return;
    }
    do {
      const piece = text.slice(start, nl);
      const line = this.rest === '' ? piece : this.rest + piece;
      this.rest = '';
      if (line.length > MAX_LINE) throw new StateProblem(`line ${this.line + 1} is longer than a state file may have (${MAX_LINE} characters)`);
      this.take(line);
      start = nl + 1;
      nl = text.indexOf('\n', start);
    } while (nl !== -1);
    this.rest = text.slice(start);
  }

  /** The text is complete: what follows the last newline is the last line. */
  end(): void {
    const last = this.rest;
    this.rest = '';
    this.take(last);
    if (this.mode !== 'done') throw new StateProblem('the document ends early (truncated)');
  }

  private take(text: string): void {
    this.line++;
    if (this.mode === 'done') throw new StateProblem(`line ${this.line}: text after the end of the document`);
    if (this.mode === 'start') {
      if (!text.startsWith('{')) throw new StateProblem(`line 1: expected "{", the start of a state`);
      return this.fields(text);
    }
    if (text.startsWith(']')) {
      if (this.comma) throw new StateProblem(`line ${this.line}: "]" after a comma (the list's last element has none)`);
      this.sink.close();
      const after = text.slice(1);
      if (after === '}') return void (this.mode = 'done');
      if (!after.startsWith(',')) throw new StateProblem(`line ${this.line}: expected "}" or "," after the end of a list`);
      return this.fields(`{${after.slice(1)}`);
    }
    if (this.elements > 0 && !this.comma) throw new StateProblem(`line ${this.line}: expected "]" after the list's last element`);
    this.comma = text.endsWith(',');
    this.elements++;
    this.sink.element(this.parse(this.comma ? text.slice(0, -1) : text));
  }

  /** `text` is `{` and fields, then the document's `}` or a list's `"key":[`. */
  private fields(text: string): void {
    const opens = text.endsWith('[');
    const fields = this.parse(opens ? `${text}]}` : text) as Record<string, unknown>;
    const keys = Object.keys(fields);
    const list = opens ? keys.pop() : undefined;
    if (list !== undefined && !(Array.isArray(fields[list]) && (fields[list] as unknown[]).length === 0)) {
      throw new StateProblem(`line ${this.line}: expected a list to open at its end`);
    }
    for (const key of keys) {
      this.once(key);
      this.sink.field(key, fields[key]);
    }
    if (list === undefined) return void (this.mode = 'done');
    this.once(list);
    this.mode = 'elements';
    this.elements = 0;
    this.comma = false;
    this.sink.open(list);
  }

  private once(key: string): void {
    if (this.seen.has(key)) throw new StateProblem(`line ${this.line}: field ${JSON.stringify(key)} is given twice`);
    this.seen.add(key);
  }

  private parse(text: string): unknown {
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new StateProblem(`line ${this.line} is not valid JSON (${(e as Error).message})`);
    }
  }
}
