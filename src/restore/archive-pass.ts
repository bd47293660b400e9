/**
 * One pass over one archive of the chain, handing each entry the restore wants to its user,
 * several at a time.
 *
 * Entries the plan does not name are skipped unread, whatever their name (an archive can
 * never place a file the state does not list), and an entry the plan names that the archive
 * lacks is `ECORRUPT` naming the archive.
 *
 * A tar is read in order, once; what is done with its entries need not be. An entry the
 * caller says is small enough (`inMemory`) is read whole into a buffer of its exact size (a
 * copy: a slice would keep the decompressor's 1 MiB chunk alive) and handed to a writer of
 * the pool (`writer-pool.ts`), which bounds the entries in flight and the bytes they hold;
 * the reader goes on to the next entry meanwhile. A larger entry is streamed through by the
 * reader itself, one at a time, while the small ones before it finish. Every entry has its
 * place in the archive, and failures are ordered by it: the outcome is the one a pass taking
 * the entries one at a time would give.
 *
 * When a wanted entry fails in a way a damaged archive would explain (the restored content
 * does not match its hash, a delta does not decode), the cause is more likely the archive
 * than the state, and the archive's own check only runs at its end: so the rest of the
 * archive is read (bodies skipped) to finish its size and hash check, and the archive's
 * corruption, when found, is reported instead of the symptom. A file archive damaged in the
 * middle is then `ECORRUPT` naming the archive, not `EHASH` naming a file (at the cost of
 * reading the rest of the archive on that failure). Failures that already name the archive
 * (an entry of another size than the state records) and failures no archive explains (a
 * write to the target, an unsafe path, an abort) stop the pass: once the entries in flight
 * have settled, and unless one of them, earlier in the archive, failed in a way the archive
 * explains (then the archive is finished as above).
 *
 * What may vary with timing: which entries after a failing one were written before it was
 * seen (each complete and correct, or not there at all), and, when two writes into the
 * target fail (two files on a full disk), which one is named. What does not: the tree a
 * successful pass writes, and the error for damage in the archive or the state.
 *
 * Streamed bodies are handed out without their `return()`: leaving one early must not
 * destroy it, because tar-stream destroys the whole extraction with the entry (the "stream
 * was destroyed" that used to hide the real error). The reader drains what is left of a body.
 */
import { archiveError, readTar, type ArchiveSummary, type Compression } from '../archive/index.js';
import { BackupError, type ErrorCode } from '../errors.js';
import type { FileEntry } from '../state/index.js';
import type { Wanted } from './plan.js';
import { WriterPool, type PoolFailure } from './writer-pool.js';

/** An archive of the chain, as the state records it, at its local path or streamed from storage. */
export interface ArchiveToRead extends ArchiveSummary {
  /** Local path of the archive (fetched into the work directory), or its name in the repository when it is streamed. */
  path: string;
  /** Opens the archive's bytes from storage, read as they arrive instead of from `path`. */
  stream?: () => AsyncIterable<Uint8Array>;
  /** How it is compressed. */
  compression: Compression;
}

/** An entry's body: whole in memory (`bytes`), or a stream to consume before returning (`stream`). */
export type EntryBody = { bytes: Uint8Array; stream?: undefined } | { bytes?: undefined; stream: AsyncIterable<Uint8Array> };

/** Options of {@link readWanted}. */
export interface ReadWantedOptions {
  /**
   * The size an entry's tar header must give (a files archive: the version's recorded size).
   * Another size is `ECORRUPT` naming the archive before a byte of the entry is used, so a
   * forged header (a 1 TiB size) is refused rather than read.
   */
  headerSize?: (e: FileEntry) => number;
  /**
   * The bytes that using entry `e`, whose body has `size` bytes, holds when its body is read
   * into memory and it runs beside others; undefined to stream it through alone. Default:
   * every entry streams.
   */
  inMemory?: (e: FileEntry, size: number) => number | undefined;
  /** Entries used at the same time at most (default 1); together they hold at most 64 MiB. */
  concurrency?: number;
  /** Checked before each entry. */
  signal?: AbortSignal;
}

/** Bytes the entries in flight hold at most (their bodies, and what `inMemory` adds). */
const MAX_BYTES_HELD = 64 << 20;

/** Codes of failures a damaged archive can cause. */
const ARCHIVE_EXPLAINS = new Set<ErrorCode>(['EHASH', 'ECORRUPT', 'ETRUNCATED', 'EBADMAGIC', 'EUNIMPLEMENTED']);

/**
 * Whether a failure of `use` may be a symptom of the archive's damage, so that the archive is
 * worth finishing: a restored version that does not match its hash, an error of the entry's
 * body (its cause is the extraction's, which the reader reports), or a delta that does not
 * decode (the engine's errors name no file). An error that already names a file or the
 * archive (an I/O error in the target, a size the archive gives that the state does not
 * record) is the explanation itself; an abort is no symptom.
 */
function archiveMayExplain(e: unknown): boolean {
  if (isAbort(e)) return false;
  if (!(e instanceof BackupError)) return true;
  return ARCHIVE_EXPLAINS.has(e.code) && (e.code === 'EHASH' || e.path === undefined);
}

function isAbort(e: unknown): boolean {
  return (e as Error | undefined)?.name === 'AbortError';
}

/** True for the archive's own damage, found by the reader. */
function isArchiveDamage(e: unknown): boolean {
  return e instanceof BackupError && (e.code === 'ECORRUPT' || e.code === 'ETRUNCATED');
}

/** An iterable over `body` that never ends it early (see the module header). */
function borrowed(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  const it = body[Symbol.asyncIterator]();
  return { [Symbol.asyncIterator]: () => ({ next: () => it.next() }) };
}

/** The whole of `body`, `size` bytes, copied into one buffer of its own. */
async function readWhole(body: AsyncIterable<Uint8Array>, size: number): Promise<Uint8Array> {
  const bytes = Buffer.allocUnsafe(size);
  let at = 0;
  for await (const chunk of body) {
    if (at + chunk.length > size) throw new Error(`the entry's body is longer than its header says (${size} bytes)`);
    bytes.set(chunk, at);
    at += chunk.length;
  }
  if (at !== size) throw new Error(`unexpected end of the entry's body (${at} of ${size} bytes)`);
  return bytes;
}

/**
 * Read `archive` once, calling `use` for each entry of `wanted`: in archive order for the
 * entries that stream, several at a time for those `inMemory` admits (see the module header).
 * Returns once every call has settled. Errors name the archive: `EMISSING`, `ETRUNCATED`,
 * `ECORRUPT` (its size or hash differs from the state, a header size differs, a wanted entry
 * is missing), or what `use` threw for the earliest entry that failed, given the archive's
 * path when it had none.
 */
export async function readWanted(
  archive: ArchiveToRead,
  wanted: Wanted,
  options: ReadWantedOptions,
  use: (e: FileEntry, body: EntryBody) => Promise<void>,
): Promise<void> {
  const path = archive.path;
  const left = new Map(wanted);
  const pool = new WriterPool({ tasks: options.concurrency ?? 1, bytes: MAX_BYTES_HELD });
  let order = 0;
  /** Reading on only to finish the archive's check: an entry failed in a way it may explain. */
  let finishing = false;
  /** After a failure: whether to stop reading now, or (setting `finishing`) to read on. */
  const stopsHere = async (failure: PoolFailure): Promise<boolean> => {
    if (!archiveMayExplain(failure.error)) {
      // An earlier entry still in flight may yet fail in a way the archive explains.
      await pool.drain();
      if (!archiveMayExplain(pool.failure!.error)) return true;
    }
    finishing = true;
    return false;
  };
  let readError: unknown;
  try {
    for await (const entry of readTar(path, archive.compression, archive, archive.stream?.())) {
      options.signal?.throwIfAborted();
      if (!finishing && pool.failure && (await stopsHere(pool.failure))) break;
      if (finishing) continue;
      const e = left.get(entry.name);
      if (!e || entry.type !== 'file') continue;
      left.delete(entry.name);
      const at = order++;
      const size = options.headerSize?.(e);
      if (size !== undefined && entry.size !== size) {
        // Not a byte of a body that size is read: reading on would mean skipping it.
        pool.fail(at, new BackupError('ECORRUPT', `artifact ${path} is corrupt: its entry ${JSON.stringify(e.path)} has ${entry.size} bytes, the backup state says ${size}`, { path }));
        if (await stopsHere(pool.failure!)) break;
        continue;
      }
      const held = options.inMemory?.(e, entry.size);
      if (held === undefined) {
        try {
          await use(e, { stream: borrowed(entry.body) });
        } catch (err) {
          if (isAbort(err)) throw err;
          pool.fail(at, err);
          if (await stopsHere(pool.failure!)) break;
        }
        continue;
      }
      await pool.admit(held);
      if (pool.failure) continue;
      let bytes: Uint8Array;
      try {
        bytes = await readWhole(entry.body, entry.size);
      } catch (err) {
        pool.fail(at, err);
        continue;
      }
      pool.start(at, held, () => use(e, { bytes }));
    }
  } catch (err) {
    readError = err;
  } finally {
    await pool.drain();
  }
  const first = pool.failure;
  if (first) {
    // The archive's own damage, found while finishing it, explains an earlier symptom.
    if (archiveMayExplain(first.error) && isArchiveDamage(readError)) throw readError;
    if (isAbort(first.error)) throw first.error;
    throw first.error instanceof BackupError ? first.error.withPath(path) : archiveError(first.error, path);
  }
  if (readError !== undefined) throw readError;
  const missing = left.keys().next();
  if (!missing.done) throw new BackupError('ECORRUPT', `artifact ${path} has no entry for ${JSON.stringify(missing.value)}`, { path });
}
