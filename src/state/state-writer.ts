/**
 * Writing a state file: the text laid out by `state-layout.ts`, checked and serialized one
 * entry at a time into a gzip stream (deflated on the thread pool while the next entries are
 * serialized), then the stored tail and the seal (`state-container.ts`).
 *
 * Every part is checked as a read would check it, on the way out: a state that no read
 * accepts would commit a backup nobody can restore, so it is `EINTERNAL` (a bug in the backup
 * that built it), and the file is never completed — the atomic write leaves nothing under its
 * name. The head and the stats are checked before the first byte; an entry as it is written.
 *
 * Memory: the caller's state, plus about 1 MiB of text and compressed bytes in flight. Nothing
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
import { entryText, headText, tailText } from './state-layout.js';
import { checkHead, checkTail, EntryChecker } from './validate.js';

/** How much text is serialized before it is handed to the compressor, in UTF-16 units. */
const TEXT_CHUNK = 64 * 1024;
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

  /** The text up to the last entry, in chunks, hashed as it goes. */
  private *body(head: StateHead, entries: readonly StateEntry[], hasher: ContentHasher): Generator<Buffer> {
    const checker = new EntryChecker(head);
    let parts: string[] = [];
    let length = 0;
    for (let i = -1; i < entries.length; i++) {
      const line = this.checked(() => (i < 0 ? headText(head) : entryText(checker.check(entries[i], i), i === entries.length - 1)));
      parts.push(line);
      length += line.length;
      if (length >= TEXT_CHUNK) {
        yield hashed(parts, hasher);
        parts = [];
        length = 0;
      }
    }
    yield hashed(parts, hasher);
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

function hashed(parts: string[], hasher: ContentHasher): Buffer {
  const bytes = Buffer.from(parts.join(''));
  hasher.update(bytes);
  return bytes;
}
