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
 * A reader works on the bytes: it finds the lines in them, checks that they are UTF-8 a
 * chunk at a time, and offers each element line to its sink as bytes first (`entry-parse.ts`
 * reads an entry from them without a string of the line); only lines the sink does not take
 * are decoded and parsed as JSON.
 *
 * Memory: a reader holds one line at a time, and a line is at most {@link MAX_LINE} bytes (a
 * longer one is refused: a state never needs one, and a hostile file would otherwise make one
 * string of any size). A writer refuses to write a longer line for the same reason.
 */
import { isUtf8 } from 'node:buffer';
import { StateProblem } from './problem.js';
import type { BackupStats, StateEntry, StateWarning } from './schema.js';
import type { StateHead } from './invariants.js';

/** The longest line a state file may have, in bytes of UTF-8 (without its newline): 64 MiB. */
export const MAX_LINE = 64 * 1024 * 1024;
/**
 * At most how many bytes an entry's line takes beyond its strings and lists (every number at
 * its longest), for each UTF-16 unit of its strings (`\u001f`), and for each backup id or step.
 */
const ENTRY_FIXED = 512;
const PER_UNIT = 6;
const PER_ITEM = 64;

/** The text of the fields before the entries, up to and including the line that opens them. */
export function headText(head: StateHead): string {
  const { warnings, ...fields } = head;
  const lines = [`${JSON.stringify(fields).slice(0, -1)},"warnings":[`, ...listLines(warnings), '],"entries":['];
  return `${lines.map(checkedLine).join('\n')}\n`;
}

/**
 * The lines of `entries` (each one the schema accepts), joined by `,` and a newline: the
 * first without the newline before it, the last without the comma after it.
 *
 * One `JSON.stringify` of the whole array, then a newline after each comma between two
 * entries: an entry's first field is `path`, and inside a JSON string a quote is always
 * escaped, so `},{"path":` occurs in the array's text exactly where one entry ends and the
 * next begins. A million entries are serialized in a few hundred calls, not a million.
 */
export function entriesText(entries: readonly StateEntry[]): string {
  return JSON.stringify(entries).slice(1, -1).replaceAll('},{"path":', '},\n{"path":');
}

/** Refuse an entry (one the schema accepts) whose line would be longer than {@link MAX_LINE}. Throws {@link StateProblem}. */
export function checkEntryLine(entry: StateEntry): void {
  const strings = entry.path.length + (entry.type === 'symlink' ? entry.target.length : 0);
  const lists = entry.type === 'file' ? entry.content.length + (entry.steps?.length ?? 0) : 0;
  if (ENTRY_FIXED + PER_UNIT * strings + PER_ITEM * lists > MAX_LINE) checkedLine(JSON.stringify(entry));
}

/** The text after the last entry, up to the end of the document, without its closing `}`. */
export function tailText(stats: BackupStats): string {
  return `],"stats":${JSON.stringify(stats)}`;
}

function listLines(items: readonly StateWarning[]): string[] {
  return items.map((item, i) => `${JSON.stringify(item)}${i < items.length - 1 ? ',' : ''}`);
}

function checkedLine(line: string): string {
  // A UTF-16 unit is at most 3 bytes of UTF-8: most lines need no count.
  const bytes = line.length > MAX_LINE / 3 ? Buffer.byteLength(line) : 0;
  if (bytes > MAX_LINE) throw new StateProblem(`a line of ${bytes} bytes, longer than a state file may have (${MAX_LINE})`);
  return line;
}

/** What a {@link LineDocument} finds, in document order. */
export interface LayoutSink {
  /** A field of the document outside the lists. */
  field(key: string, value: unknown): void;
  /** A list field opens: its elements follow, one a line. */
  open(key: string): void;
  /**
   * The next element of the open list, as the bytes `bytes[start, end)` of its line (UTF-8,
   * without its comma): true when the sink took the element from them, false to have the line
   * parsed as JSON and given to {@link LayoutSink.element} instead.
   */
  elementBytes(bytes: Buffer, start: number, end: number): boolean;
  /** The next element of the open list. */
  element(value: unknown): void;
  /** The open list closes. */
  close(): void;
}

const NEWLINE = 0x0a;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;

/**
 * Reads the text of a state, given as UTF-8 in chunks of any size, and reports its fields and
 * list elements to a {@link LayoutSink}. Throws {@link StateProblem}, naming the line, when
 * the text is not laid out as a state is, and when it is not UTF-8.
 */
export class LineDocument {
  private mode: 'start' | 'elements' | 'done' = 'start';
  private line = 0;
  /** The start of the line the last chunk ended in, copied. */
  private rest: Buffer[] = [];
  private restLength = 0;
  /** Elements of the open list so far, and whether the last one ended with a comma. */
  private elements = 0;
  private comma = false;
  private readonly seen = new Set<string>();

  constructor(private readonly sink: LayoutSink) {}

  /** The next chunk of the text. */
  write(chunk: Buffer): void {
    let start = 0;
    let nl = chunk.indexOf(NEWLINE);
    if (nl === -1) return this.hold(chunk, 0);
    if (this.restLength > 0) {
      const line = Buffer.concat([...this.rest, chunk.subarray(0, nl)]);
      this.rest = [];
      this.restLength = 0;
      this.takeChecked(line, 0, line.length);
      start = nl + 1;
      nl = chunk.indexOf(NEWLINE, start);
    }
    // Lines end at a newline, which no character of UTF-8 contains: whole lines check alone.
    const last = chunk.lastIndexOf(NEWLINE);
    if (last > start) checkUtf8(chunk, start, last);
    for (; nl !== -1; nl = chunk.indexOf(NEWLINE, start)) {
      this.checkLength(nl - start);
      this.take(chunk, start, nl);
      start = nl + 1;
    }
    this.hold(chunk, start);
  }

  /** The text is complete: what follows the last newline is the last line. */
  end(): void {
    const last = Buffer.concat(this.rest);
    this.rest = [];
    this.restLength = 0;
    this.takeChecked(last, 0, last.length);
    if (this.mode !== 'done') throw new StateProblem('the document ends early (truncated)');
  }

  /** Keep `chunk[start…]`, the start of a line the next chunk goes on with. */
  private hold(chunk: Buffer, start: number): void {
    if (start === chunk.length) return;
    this.restLength += chunk.length - start;
    this.checkLength(this.restLength);
    this.rest.push(Buffer.from(chunk.subarray(start)));
  }

  private checkLength(bytes: number): void {
    if (bytes > MAX_LINE) throw new StateProblem(`line ${this.line + 1} is longer than a state file may have (${MAX_LINE} bytes)`);
  }

  /** {@link take} for a line whose length and UTF-8 are not checked yet. */
  private takeChecked(b: Buffer, start: number, end: number): void {
    this.checkLength(end - start);
    checkUtf8(b, start, end);
    this.take(b, start, end);
  }

  /** The line `b[start, end)`, without its newline. */
  private take(b: Buffer, start: number, end: number): void {
    this.line++;
    if (this.mode === 'done') throw new StateProblem(`line ${this.line}: text after the end of the document`);
    if (this.mode === 'start') {
      if (start === end || b[start] !== OPEN_BRACE) throw new StateProblem(`line 1: expected "{", the start of a state`);
      return this.fields(b.toString('utf8', start, end));
    }
    if (start < end && b[start] === CLOSE_BRACKET) {
      if (this.comma) throw new StateProblem(`line ${this.line}: "]" after a comma (the list's last element has none)`);
      this.sink.close();
      if (end - start === 2 && b[start + 1] === CLOSE_BRACE) return void (this.mode = 'done');
      if (end - start < 2 || b[start + 1] !== COMMA) throw new StateProblem(`line ${this.line}: expected "}" or "," after the end of a list`);
      return this.fields(`{${b.toString('utf8', start + 2, end)}`);
    }
    if (this.elements > 0 && !this.comma) throw new StateProblem(`line ${this.line}: expected "]" after the list's last element`);
    this.comma = start < end && b[end - 1] === COMMA;
    this.elements++;
    const last = this.comma ? end - 1 : end;
    if (!this.sink.elementBytes(b, start, last)) this.sink.element(this.parse(b.toString('utf8', start, last)));
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

/** Throws {@link StateProblem} unless `b[start, end)` is UTF-8. */
function checkUtf8(b: Buffer, start: number, end: number): void {
  if (!isUtf8(b.subarray(start, end))) throw new StateProblem('it is not valid UTF-8');
}
