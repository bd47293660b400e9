/**
 * Writing a composed version over the temporary file that holds its basis.
 *
 * When a file's deltas only overwrite ranges of it and change its length (a disk image
 * edited in place, a log appended to: `DeltaComposer.inPlace`), its last version differs
 * from the kept earlier one in those ranges alone. Writing the whole version again (256 MiB
 * to restore an image of which ten backups changed 640 KiB) is then most of what a chain
 * restore costs beyond a restore of the full backup; writing the ranges over the kept version
 * is not. The file is still the temporary one, renamed into place only once its size and
 * hash match, so a restore killed meanwhile leaves no partial file at a final name.
 *
 * It pays when the ranges are small against the file: the version is read back whole to
 * check its hash (from the page cache, as a rule: it was just written), where writing it
 * anew reads the basis and writes it all (`restore.ts` weighs the two).
 *
 * When the hash does not match, the restore writes the versions again one delta at a time
 * to name the delta at fault, and for that needs the basis back: so, when there is a
 * journal, the bytes each range overwrites are first saved in it (the end of the file's
 * spool of deltas; they are never more than the deltas' literal data), and
 * {@link Overwritten.undo} writes them back and restores the basis's length. The length is
 * set only once the version is checked, so nothing past it is lost before then.
 *
 * Trade-off: zeros in the ranges are written as data, where writing the whole version would
 * leave whole zero blocks as holes; the holes of the basis stay.
 */
import type { FileHandle } from 'node:fs/promises';
import { wrapIoError } from '../errors.js';
import type { ChangedRange } from '../rsync/index.js';
import { createContentHasher } from '../tree/content-hash.js';
import type { WrittenVersion } from './version-writer.js';

const READ_CHUNK = 1 << 20;

/** Where the bytes a write over a file replaces are saved. */
export interface Journal {
  /** A file open for writing and reading. */
  handle: FileHandle;
  /** Its name, for errors. */
  path: string;
  /** Where in it the saved bytes go (what is there and after may be overwritten). */
  at: number;
}

/** A write over a file. */
export interface Overwritten {
  /** With a journal: write back the bytes that were replaced and set the file's length back. */
  undo?: () => Promise<void>;
}

async function readAt(fh: FileHandle, path: string, buf: Uint8Array, position: number): Promise<number> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, position + done).catch((e: unknown) => {
      throw wrapIoError(e, path, 'reading');
    });
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

async function writeAt(fh: FileHandle, path: string, bytes: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, position + done).catch((e: unknown) => {
      throw wrapIoError(e, path, 'writing');
    });
    done += bytesWritten;
  }
}

/**
 * Write `ranges` over the file `fh` (named `path` in errors), whose length is `size`, saving
 * what they replace in `journal` first, if given. Its length is left as it is, or as far as
 * the ranges reach past it.
 */
export async function writeOver(fh: FileHandle, path: string, ranges: AsyncIterable<ChangedRange>, size: number, journal?: Journal): Promise<Overwritten> {
  const saved: { at: number; length: number; from: number }[] = [];
  let end = journal?.at ?? 0;
  for await (const r of ranges) {
    const length = Math.max(0, Math.min(r.bytes.length, size - r.at));
    if (journal && length > 0) {
      const old = Buffer.allocUnsafe(length);
      const got = await readAt(fh, path, old, r.at);
      await writeAt(journal.handle, journal.path, old.subarray(0, got), end);
      saved.push({ at: r.at, length: got, from: end });
      end += got;
    }
    await writeAt(fh, path, r.bytes, r.at);
  }
  if (!journal) return {};
  return {
    undo: async () => {
      for (const s of saved) {
        const old = Buffer.allocUnsafe(s.length);
        await readAt(journal.handle, journal.path, old, s.from);
        await writeAt(fh, path, old, s.at);
      }
      await setLength(fh, path, size);
    },
  };
}

/** Set the length of the file `fh` (named `path` in errors). */
export async function setLength(fh: FileHandle, path: string, size: number): Promise<void> {
  await fh.truncate(size).catch((e: unknown) => {
    throw wrapIoError(e, path, 'setting the length of');
  });
}

/** The size and hash of the first `size` bytes of the file `fh` (fewer when it is shorter). */
export async function measureFile(fh: FileHandle, path: string, size: number): Promise<WrittenVersion> {
  const hasher = await createContentHasher();
  const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, size));
  let at = 0;
  while (at < size) {
    const got = await readAt(fh, path, buf.subarray(0, Math.min(buf.length, size - at)), at);
    if (got === 0) break;
    hasher.update(buf.subarray(0, got));
    at += got;
  }
  return { size: at, hash: hasher.digest() };
}
