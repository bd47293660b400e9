/**
 * One pass over one archive of the chain, handing each entry the restore wants to its user.
 *
 * Entries the plan does not name are skipped unread, whatever their name (an archive can
 * never place a file the state does not list), and an entry the plan names that the archive
 * lacks is `ECORRUPT` naming the archive.
 *
 * When a wanted entry fails in a way a damaged archive would explain (the restored content
 * does not match its hash, a delta does not decode), the cause is more likely the archive
 * than the state, and the archive's own check only runs at its end: so the rest of the
 * archive is read (bodies skipped) to finish its size and hash check, and the archive's
 * corruption, when found, is reported instead of the symptom. A file archive damaged in the
 * middle is then `ECORRUPT` naming the archive, not `EHASH` naming a file (at the cost of
 * reading the rest of the archive on that failure). Failures that already name the archive
 * (an entry of another size than the state records) and failures no archive explains (a
 * write to the target, an unsafe path, an abort) stop the pass at once.
 *
 * Bodies are handed out without their `return()`: leaving one early must not destroy it,
 * because tar-stream destroys the whole extraction with the entry (the "stream was
 * destroyed" that used to hide the real error). The reader drains what is left of a body.
 */
import { archiveError, readTar, type ArchiveSummary } from '../archive/index.js';
import { BackupError, type ErrorCode } from '../errors.js';
import type { FileEntry } from '../state/index.js';
import type { Wanted } from './plan.js';

/** An archive of the chain, as the state records it, at its local path. */
export interface ArchiveToRead extends ArchiveSummary {
  /** Local path of the archive (fetched into the work directory). */
  path: string;
  /** How it is compressed. */
  compression: 'gzip' | 'none';
}

/** Options of {@link readWanted}. */
export interface ReadWantedOptions {
  /**
   * The size an entry's tar header must give (a files archive: the version's recorded size).
   * Another size is `ECORRUPT` naming the archive before a byte of the entry is used, so a
   * forged header (a 1 TiB size) is refused rather than read.
   */
  headerSize?: (e: FileEntry) => number;
  /** Checked before each entry. */
  signal?: AbortSignal;
}

/** Codes of failures a damaged archive can cause. */
const ARCHIVE_EXPLAINS = new Set<ErrorCode>(['EHASH', 'ECORRUPT', 'ETRUNCATED', 'EBADMAGIC', 'EUNIMPLEMENTED']);

/**
 * Whether a failure of `use` may be a symptom of the archive's damage, so that the archive is
 * worth finishing: a restored version that does not match its hash, an error of the entry's
 * body (its cause is the extraction's, which the reader reports), or a delta that does not
 * decode (the engine's errors name no file). An error that already names a file or the
 * archive (an I/O error in the target, a size the archive gives that the state does not
 * record) is the explanation itself.
 */
function archiveMayExplain(e: unknown): boolean {
  if (!(e instanceof BackupError)) return true;
  return ARCHIVE_EXPLAINS.has(e.code) && (e.code === 'EHASH' || e.path === undefined);
}

/** An iterable over `body` that never ends it early (see the module header). */
function borrowed(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  const it = body[Symbol.asyncIterator]();
  return { [Symbol.asyncIterator]: () => ({ next: () => it.next() }) };
}

/**
 * Read `archive` once, calling `use` for each entry of `wanted`, in archive order, with a
 * body to consume. Errors name the archive: `EMISSING`, `ETRUNCATED`, `ECORRUPT` (its size or
 * hash differs from the state, a header size differs, a wanted entry is missing), or what
 * `use` threw, given the archive's path when it had none.
 */
export async function readWanted(
  archive: ArchiveToRead,
  wanted: Wanted,
  options: ReadWantedOptions,
  use: (e: FileEntry, body: AsyncIterable<Uint8Array>) => Promise<void>,
): Promise<void> {
  const path = archive.path;
  const left = new Map(wanted);
  let failure: BackupError | undefined;
  try {
    for await (const entry of readTar(path, archive.compression, archive)) {
      options.signal?.throwIfAborted();
      if (failure) continue;
      const e = left.get(entry.name);
      if (!e || entry.type !== 'file') continue;
      left.delete(entry.name);
      const size = options.headerSize?.(e);
      if (size !== undefined && entry.size !== size) {
        throw new BackupError('ECORRUPT', `artifact ${path} is corrupt: its entry ${JSON.stringify(e.path)} has ${entry.size} bytes, the backup state says ${size}`, { path });
      }
      try {
        await use(e, borrowed(entry.body));
      } catch (err) {
        if ((err as Error | undefined)?.name === 'AbortError') throw err;
        if (!archiveMayExplain(err)) throw (err as BackupError).withPath(path);
        failure = err instanceof BackupError ? err.withPath(path) : archiveError(err, path);
      }
    }
  } catch (err) {
    // The archive's own damage, found while finishing it, explains an earlier symptom.
    if (failure && !(err instanceof BackupError && (err.code === 'ECORRUPT' || err.code === 'ETRUNCATED'))) throw failure;
    throw err;
  }
  if (failure) throw failure;
  const missing = left.keys().next();
  if (!missing.done) throw new BackupError('ECORRUPT', `artifact ${path} has no entry for ${JSON.stringify(missing.value)}`, { path });
}
