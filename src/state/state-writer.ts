/**
 * Writing a state file: the text laid out by `state-layout.ts`, the entries checked one at a
 * time and serialized about 1 MiB at a time, into a gzip stream (each batch deflated on the
 * thread pool while the next is checked and serialized), then the stored tail and the seal
 * (`state-container.ts`).
 *
 * Every part is checked as a read would check it, on the way out: a state that no read
 * accepts would commit a backup nobody can restore, so it is `EINTERNAL` (a bug in the backup
 * that built it), and the file is never completed — the atomic write leaves nothing under its
 * name. The head and the stats are checked before the first byte; an entry before its batch.
 *
 * Entries are serialized some 32 KiB at a time, by one `JSON.stringify` of them (`entriesText`),
 * and deflated 1 MiB at a time: a state of 50,000 entries takes some 400 calls to one and 15 to
 * the other, not 50,000 and 230, and gives the same bytes, which a test pins.
 *
 * Memory: the caller's state, plus a few MiB of text and compressed bytes in flight. Nothing
 * is encoded twice: the file's own size, which `stats.bytesWritten` includes, is known once the
 * body is compressed, because the tail after it is stored with a size known from its text.
 */
import { Readable, pipeline } from 'node:stream';
import { createGzip } from 'node:zlib';
import { BackupError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { createContentHasher, type ContentHasher } from '../tree/content-hash.js';
import type { StateHead } from './invariants.js';
import { StateProblem } from './problem.js';
import { STATE_VERSION, type BackupState, type BackupStats, type StateEntry } from './schema.js';
import { BODY_LEVEL, SEAL_SIZE, sealMember, storedMember, storedSize } from './state-container.js';
import { checkEntryLine, entriesText, headText, tailText } from './state-layout.js';
import { checkHead, checkTail, EntryChecker } from './validate.js';

/**
 * How much text goes to the compressor at a time, in bytes: few, large calls to zlib on the
 * thread pool, each deflating while the next batch is checked and serialized.
 */
const TEXT_BATCH = 1024 * 1024;
/** Room beyond a batch for the piece that completes it. */
const BATCH_SLACK = 3 * 64 * 1024;
/** How much text one `JSON.stringify` serializes, about, in bytes. */
const TEXT_PIECE = 32 * 1024;
/** About the bytes of an entry's line besides its path, to size a piece. */
const ENTRY_SIZE = 190;
/** The most bytes of UTF-8 one UTF-16 unit takes. */
const UTF8_PER_UNIT = 3;
/** zlib's output chunks: few, large writes. */
const OUTPUT_CHUNK = 256 * 1024;
const CLOSE = Buffer.from('}');

/** Options of {@link writeStateFile} and {@link serializeState}. */
export interface StateWriteOptions {
  /**
   * The bytes of the backup's other artifacts. When given, `stats.bytesWritten` is set to it
   * plus the size of the state file itself, which only the writer knows.
   */
  artifactBytes?: number;
}

/** A state file as written. */
export interface WrittenState {
  /** The state as written: its fields checked, in schema order; its entries are the caller's. */
  state: BackupState;
  /** Its digest: what a child records as `parent.digest`. */
  digest: string;
  /** The file's size in bytes. */
  size: number;
  /** xxHash64 of the file's bytes. */
  hash: string;
}

/** A serialized state. */
export interface SerializedState {
  /** The file's bytes. */
  bytes: Buffer;
  /** Its digest: what a child records as `parent.digest`. */
  digest: string;
}

/**
 * Write the state file of `state` at `path`, atomically: a temporary file renamed when
 * complete. `EINTERNAL` when `state` is not one a read accepts (nothing is left at `path`).
 * `state.entries` must be sorted by path; they are not copied.
 */
export async function writeStateFile(path: string, state: BackupState, options: StateWriteOptions = {}): Promise<WrittenState> {
  const encoding = new StateEncoding(state, options);
  await writeFileAtomic(path, encoding.chunks());
  return encoding.result!;
}

/** The bytes of the state file of `state`, and its digest: {@link writeStateFile} into memory, for small states. */
export async function serializeState(state: BackupState, options: StateWriteOptions = {}): Promise<SerializedState> {
  const encoding = new StateEncoding(state, options);
  const chunks: Buffer[] = [];
  for await (const chunk of encoding.chunks()) chunks.push(chunk);
  return { bytes: Buffer.concat(chunks), digest: encoding.result!.digest };
}

/** One state being encoded: its chunks, then its result. */
class StateEncoding {
  result: WrittenState | undefined;

  constructor(
    private readonly state: BackupState,
    private readonly options: StateWriteOptions,
  ) {}

  async *chunks(): AsyncGenerator<Buffer> {
    const { entries, stats: givenStats, ...fields } = this.state;
    const head = this.checked(() => checkHead(fields, STATE_VERSION));
    if (!Array.isArray(entries)) throw this.invalid('entries: expected an array of entries');
    const stats = this.checked(() => checkTail({ stats: givenStats }).stats);
    const text = await createContentHasher();
    const file = await createContentHasher();
    const gzip = createGzip({ level: BODY_LEVEL, chunkSize: OUTPUT_CHUNK });
    pipeline(Readable.from(this.body(head, entries, text)), gzip, () => undefined);
    let size = 0;
    for await (const chunk of gzip as AsyncIterable<Buffer>) {
      file.update(chunk);
      size += chunk.length;
      yield chunk;
    }
    const tailString = this.tail(stats, size);
    text.update(Buffer.from(tailString));
    text.update(CLOSE);
    const tail = storedMember(tailString);
    const digest = text.digest();
    for (const member of [tail, sealMember(digest)]) {
      file.update(member);
      size += member.length;
      yield member;
    }
    this.result = { state: { ...head, entries, stats }, digest, size, hash: file.digest() };
  }

  /**
   * The text up to the last entry, in batches of about {@link TEXT_BATCH} bytes, hashed as it
   * goes: each entry checked, then a batch serialized at once (`entriesText`).
   */
  private *body(head: StateHead, entries: readonly StateEntry[], hasher: ContentHasher): Generator<Buffer> {
    const checker = new EntryChecker(head);
    const out = new TextBatches(hasher);
    let text = this.checked(() => headText(head));
    for (let next = 0; next < entries.length; ) {
      const first = next === 0;
      const piece = this.checked(() => {
        const checked: StateEntry[] = [];
        for (let size = 0; next < entries.length && size < TEXT_PIECE; next++) {
          const entry = checker.check(entries[next], next);
          checkEntryLine(entry);
          checked.push(entry);
          size += ENTRY_SIZE + entry.path.length;
        }
        return checked;
      });
      text += `${first ? '' : ',\n'}${entriesText(piece)}${next === entries.length ? '\n' : ''}`;
      if (!out.fits(text)) yield out.take();
      out.add(text);
      text = '';
      if (out.full()) yield out.take();
    }
    if (text !== '') out.add(text);
    if (!out.empty()) yield out.take();
  }

  /**
   * The tail's text, once the body is `bodySize` bytes: with `bytesWritten` counting the
   * whole file when asked, which takes the length of its own digits into account.
   */
  private tail(stats: BackupStats, bodySize: number): string {
    const { artifactBytes } = this.options;
    let text = tailText(stats);
    if (artifactBytes === undefined) return text;
    let fileSize = 0;
    for (;;) {
      stats.bytesWritten = artifactBytes + fileSize;
      text = tailText(this.checked(() => checkTail({ stats }).stats));
      const next = bodySize + storedSize(Buffer.byteLength(text)) + SEAL_SIZE;
      if (next === fileSize) return text;
      fileSize = next;
    }
  }

  /** `step`'s value; a {@link StateProblem} it throws is the bug of an invalid state, `EINTERNAL`. */
  private checked<T>(step: () => T): T {
    try {
      return step();
    } catch (e) {
      if (e instanceof StateProblem) throw this.invalid(e.message);
      throw e;
    }
  }

  private invalid(problem: string): BackupError {
    const id = typeof this.state?.id === 'string' ? ` ${JSON.stringify(this.state.id)}` : '';
    return new BackupError('EINTERNAL', `refusing to write backup state${id}, which is invalid: ${problem}`);
  }
}

/** Some character of a string that is not ASCII. */
const NOT_ASCII = /[^\x00-\x7f]/;

/**
 * Text gathered as UTF-8 into buffers of about {@link TEXT_BATCH} bytes, each hashed when it
 * is taken. The text comes in pieces small enough to stay in V8's young generation, where the
 * next scavenge frees them; a string of a whole batch would sit in the large-object space
 * until a full collection (15 of them for 50,000 entries: 26 MiB more at the peak).
 */
class TextBatches {
  private bytes: Buffer | undefined;
  private length = 0;

  constructor(private readonly hasher: ContentHasher) {}

  /** Whether `text` fits in the batch being filled. */
  fits(text: string): boolean {
    return this.bytes === undefined || this.length + UTF8_PER_UNIT * text.length <= this.bytes.length;
  }

  /** Append `text`; a batch it does not fit in must be taken first. */
  add(text: string): void {
    this.bytes ??= Buffer.allocUnsafe(Math.max(TEXT_BATCH + BATCH_SLACK, UTF8_PER_UNIT * text.length));
    // Most states are ASCII, which is its own UTF-8: copied, not encoded.
    this.length += this.bytes.write(text, this.length, NOT_ASCII.test(text) ? 'utf8' : 'latin1');
  }

  full(): boolean {
    return this.length >= TEXT_BATCH;
  }

  empty(): boolean {
    return this.length === 0;
  }

  /** The batch, hashed; the next text starts a new one. */
  take(): Buffer {
    const batch = this.bytes!.subarray(0, this.length);
    this.hasher.update(batch);
    this.bytes = undefined;
    this.length = 0;
    return batch;
  }
}
