/**
 * Reading an entry's line straight from the bytes of a state's text: the entry `JSON.parse`
 * of the line gives, for a line written the way this release writes entries (`entriesText` of
 * `state-layout.ts`), and only when the fast check (`entry-check.ts`) would accept that entry.
 *
 * A state of a million entries is parsed at every backup. Parsing the bytes in place skips
 * what `JSON.parse` of a line costs around it: decoding the line into a string first, the
 * generic parser, then checking every field again. Here each field is checked as it is read
 * (its place in the line, its format and range), so what comes back needs no other check of
 * its own; the rules between entries (`invariants.ts`) still apply.
 *
 * The reader knows one layout only: the fields in schema order, no spaces, numbers in their
 * shortest form, strings without escapes. For anything else (another layout, an escape, a
 * value out of range, a backup id that is not in the chain) it answers `undefined`, and the
 * caller parses the line as JSON and asks the fast check and the schema, which word the
 * problem. So it may refuse more than they do, never accept more; property tests hold it to
 * that (`entry-parse.test.ts`, and `entry-lines.test.ts` for whole states).
 *
 * A backup id is one of the chain's, returned as the chain's own string, and a `content` of
 * one backup id is one frozen array per id, shared by every entry it is the content of: a
 * million entries share a few strings and arrays instead of holding a copy each (a state's
 * entries are records to read, never to change in place). An id is compared with the one read
 * last, then looked up in a map: searched for through the chain, it cost as many comparisons
 * as the chain has links (a year of daily backups: 365), and reading 50,000 entries took
 * 1.5 s of CPU instead of 0.35 s (bench/state.mjs --links 365), slower than `JSON.parse`.
 */
import { ID_PATTERN, UINT32_MAX, type DirEntry, type FileEntry, type FileStep, type StateEntry, type SymlinkEntry } from './schema.js';

const MAX_MODE = 0o7777;
/** Digits of a backup id (`YYYYMMDDTHHMMSSmmmZ-NNN`). */
const ID_LENGTH = 23;

const QUOTE = 0x22;
const COMMA = 0x2c;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;

const bytesOf = (text: string): Uint8Array => new TextEncoder().encode(text);
const PATH = bytesOf('{"path":"');
const DIR = bytesOf('","type":"dir","mode":');
const FILE = bytesOf('","type":"file","mode":');
const SYMLINK = bytesOf('","type":"symlink","mode":');
const UID = bytesOf(',"uid":');
const GID = bytesOf(',"gid":');
const MTIME = bytesOf(',"mtime":"');
const NO_SIZE = bytesOf('","size":0}');
const LINK_SIZE = bytesOf('","size":0,"target":"');
const SIZE = bytesOf('","size":');
const CTIME = bytesOf(',"ctime":"');
const INO = bytesOf('","ino":"');
const HASH = bytesOf('","hash":"');
const CONTENT = bytesOf('","content":["');
const NEXT_ID = bytesOf('","');
const END_IDS = bytesOf('"]');
const STEPS = bytesOf(',"steps":[');
const STEP_SIZE = bytesOf('{"size":');
const STEP_HASH = bytesOf(',"hash":"');
const STEP_END = bytesOf('"}');
const SIG = bytesOf(',"sig":"');
const UNSTABLE = bytesOf(',"unstable":true');

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Reads entry lines whose backup ids are those of one chain. */
export class EntryLineReader {
  private readonly ids: readonly string[];
  private readonly idBytes: readonly Uint8Array[];
  /** Each id's index in {@link EntryLineReader.ids}. */
  private readonly index: ReadonlyMap<string, number>;
  /** The index of the id read last: most entries name the backups the entry before named. */
  private lastId = 0;
  /** For each id, the `content` that is that id alone. */
  private readonly alone: readonly string[][];
  /** The line being read, and the place in it. */
  private b: Buffer = Buffer.alloc(0);
  private p = 0;
  private end = 0;
  /** The fields every kind of entry has, once {@link EntryLineReader.meta} read them. */
  private mode = 0;
  private uid = 0;
  private gid = 0;
  private mtime = '';

  /** A reader for the entries of a state whose chain holds the backup ids `ids`. */
  constructor(ids: readonly string[]) {
    // Only ids of the schema's format: an id read is vouched for by being one of these.
    this.ids = ids.filter((id) => ID_PATTERN.test(id));
    this.idBytes = this.ids.map(bytesOf);
    this.index = new Map(this.ids.map((id, i) => [id, i]));
    this.alone = this.ids.map((id) => Object.freeze([id]) as string[]);
  }

  /**
   * The entry of the line `bytes[start, end)` (without its newline or comma), or undefined
   * when the line is not one this reader vouches for.
   */
  read(bytes: Buffer, start: number, end: number): StateEntry | undefined {
    this.b = bytes;
    this.p = start;
    this.end = end;
    if (!this.literal(PATH)) return undefined;
    const path = this.string();
    if (path === undefined) return undefined;
    if (this.literal(FILE)) return this.file(path);
    if (this.literal(DIR)) {
      if (!this.meta() || !this.literal(NO_SIZE) || this.p !== end) return undefined;
      const entry: DirEntry = { path, type: 'dir', mode: this.mode, uid: this.uid, gid: this.gid, mtime: this.mtime, size: 0 };
      return entry;
    }
    if (this.literal(SYMLINK)) {
      if (!this.meta() || !this.literal(LINK_SIZE)) return undefined;
      const target = this.string();
      if (target === undefined || target === '' || this.b[this.p++] !== QUOTE || this.b[this.p++] !== CLOSE_BRACE || this.p !== end) return undefined;
      const entry: SymlinkEntry = { path, type: 'symlink', mode: this.mode, uid: this.uid, gid: this.gid, mtime: this.mtime, size: 0, target };
      return entry;
    }
    return undefined;
  }

  private file(path: string): FileEntry | undefined {
    if (!this.meta() || !this.literal(SIZE)) return undefined;
    const size = this.integer(Number.MAX_SAFE_INTEGER);
    if (size < 0 || !this.literal(CTIME)) return undefined;
    const ctime = this.decimal(true, 19);
    if (ctime === undefined || !this.literal(INO)) return undefined;
    const ino = this.decimal(false, 20);
    if (ino === undefined || !this.literal(HASH)) return undefined;
    const hash = this.hex16();
    if (hash === undefined || !this.literal(CONTENT)) return undefined;
    const first = this.id();
    if (first < 0) return undefined;
    let content = this.alone[first]!;
    if (!this.literal(END_IDS)) {
      content = [this.ids[first]!];
      do {
        const id = this.literal(NEXT_ID) ? this.id() : -1;
        if (id < 0) return undefined;
        content.push(this.ids[id]!);
      } while (!this.literal(END_IDS));
    }
    let steps: FileStep[] | undefined;
    if (this.literal(STEPS)) {
      steps = this.steps();
      if (steps === undefined) return undefined;
    }
    let sig: string | undefined;
    if (this.literal(SIG)) {
      const id = this.id();
      if (id < 0 || this.b[this.p++] !== QUOTE) return undefined;
      sig = this.ids[id];
    }
    const unstable = this.literal(UNSTABLE);
    if (this.b[this.p++] !== CLOSE_BRACE || this.p !== this.end) return undefined;
    // One literal per set of fields, so that every entry of a kind has the same shape.
    const { mode, uid, gid, mtime } = this;
    let entry: FileEntry;
    if (steps === undefined) {
      entry = sig === undefined ? { path, type: 'file', mode, uid, gid, mtime, size, ctime, ino, hash, content } : { path, type: 'file', mode, uid, gid, mtime, size, ctime, ino, hash, content, sig };
    } else {
      entry = sig === undefined ? { path, type: 'file', mode, uid, gid, mtime, size, ctime, ino, hash, content, steps } : { path, type: 'file', mode, uid, gid, mtime, size, ctime, ino, hash, content, steps, sig };
    }
    if (unstable) entry.unstable = true;
    return entry;
  }

  /** `mode`, `uid`, `gid` and `mtime`, up to the quote that closes `mtime`: whether they are there. */
  private meta(): boolean {
    this.mode = this.integer(MAX_MODE);
    if (this.mode < 0 || !this.literal(UID)) return false;
    this.uid = this.integer(UINT32_MAX);
    if (this.uid < 0 || !this.literal(GID)) return false;
    this.gid = this.integer(UINT32_MAX);
    if (this.gid < 0 || !this.literal(MTIME)) return false;
    const mtime = this.decimal(true, 19);
    if (mtime === undefined) return false;
    this.mtime = mtime;
    return true;
  }

  /** The steps after `"steps":[`, up to and including the `]` that closes them. */
  private steps(): FileStep[] | undefined {
    const steps: FileStep[] = [];
    if (this.b[this.p] === CLOSE_BRACKET) {
      this.p++;
      return steps;
    }
    for (;;) {
      if (!this.literal(STEP_SIZE)) return undefined;
      const size = this.integer(Number.MAX_SAFE_INTEGER);
      if (size < 0 || !this.literal(STEP_HASH)) return undefined;
      const hash = this.hex16();
      if (hash === undefined || !this.literal(STEP_END)) return undefined;
      steps.push({ size, hash });
      const next = this.b[this.p++];
      if (next === CLOSE_BRACKET) return steps;
      if (next !== COMMA) return undefined;
    }
  }

  /** Whether `bytes` come next; past them when they do. */
  private literal(bytes: Uint8Array): boolean {
    const b = this.b;
    const p = this.p;
    if (p + bytes.length > this.end) return false;
    for (let i = 0; i < bytes.length; i++) if (b[p + i] !== bytes[i]) return false;
    this.p = p + bytes.length;
    return true;
  }

  /** The characters up to the next quote (left next), none of them escaped; UTF-8 checked. */
  private string(): string | undefined {
    const b = this.b;
    const start = this.p;
    let ascii = true;
    for (let p = start; p < this.end; p++) {
      const c = b[p]!;
      if (c === QUOTE) {
        this.p = p;
        if (ascii) return b.toString('latin1', start, p);
        try {
          return utf8.decode(b.subarray(start, p));
        } catch {
          return undefined;
        }
      }
      if (c < 0x20 || c === 0x5c) return undefined;
      if (c >= 0x80) ascii = false;
    }
    return undefined;
  }

  /** A JSON number of digits only, at most `max`; -1 when there is none. */
  private integer(max: number): number {
    const b = this.b;
    const start = this.p;
    if (start >= this.end) return -1;
    let p = start;
    let c = b[p]!;
    if (c === 0x30) {
      this.p = p + 1;
      return 0;
    }
    if (!(c >= 0x31 && c <= 0x39)) return -1;
    let value = 0;
    do {
      value = value * 10 + (c - 0x30);
      c = b[++p]!;
    } while (p < this.end && c >= 0x30 && c <= 0x39);
    // Exact up to 2^53; a longer number only grows past `max`, which is at most 2^53 - 1.
    if (value > max) return -1;
    this.p = p;
    return value;
  }

  /**
   * A decimal string, `-?(0|[1-9]\d*)` (the minus when `signed`) of at most `digits` digits, up
   * to the quote that closes it (left next): the `NS` and `INODE` formats of the schema.
   */
  private decimal(signed: boolean, digits: number): string | undefined {
    const b = this.b;
    const start = this.p;
    let p = start;
    if (signed && b[p] === 0x2d) p++;
    const first = p;
    let c = b[p];
    if (c === 0x30) c = b[++p];
    else if (c !== undefined && c >= 0x31 && c <= 0x39) {
      do c = b[++p];
      while (p < this.end && c !== undefined && c >= 0x30 && c <= 0x39);
      if (p - first > digits) return undefined;
    } else return undefined;
    if (p >= this.end || c !== QUOTE) return undefined;
    this.p = p;
    return b.toString('latin1', start, p);
  }

  /** 16 lowercase hex digits, then the quote that closes them (left next). */
  private hex16(): string | undefined {
    const b = this.b;
    const start = this.p;
    if (start + 16 >= this.end) return undefined;
    for (let p = start; p < start + 16; p++) {
      const c = b[p]!;
      if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return undefined;
    }
    if (b[start + 16] !== QUOTE) return undefined;
    this.p = start + 16;
    return b.toString('latin1', start, start + 16);
  }

  /** One of the chain's ids, then the quote that closes it (left next): its index in the chain's ids, or -1. */
  private id(): number {
    const b = this.b;
    const p = this.p;
    if (p + ID_LENGTH >= this.end || b[p + ID_LENGTH] !== QUOTE) return -1;
    let k = this.lastId;
    const last = this.idBytes[k];
    let i = 0;
    if (last !== undefined) while (i < ID_LENGTH && b[p + i] === last[i]) i++;
    if (i < ID_LENGTH) {
      // latin1 maps each byte to one character: bytes that are no id give a string that is none.
      k = this.index.get(b.toString('latin1', p, p + ID_LENGTH)) ?? -1;
      if (k < 0) return -1;
      this.lastId = k;
    }
    this.p = p + ID_LENGTH;
    return k;
  }
}
