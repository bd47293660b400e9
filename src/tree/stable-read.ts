/**
 * Reading a file that may change while it is read.
 *
 * A tar entry's size is written before its bytes, and a backup promises that what it records
 * is exactly what it stored. So a file is read as exactly the size `lstat` gave before the
 * read: bytes past it are left out, and if the file shrank the missing tail is filled with
 * zeros. Afterwards the file is stat'ed again; if its size or mtime moved, or the read
 * came up short, the read is flagged `changed`. Every consumer (archive, signature, delta,
 * content hash) sees the same bytes, so the state describes the stored copy exactly; the
 * caller warns and marks the entry so the next incremental reads the file again.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { wrapIoError } from '../errors.js';

const CHUNK = 1 << 20;

/** A read of a file of a known size; `changed` is meaningful once the chunks are consumed. */
export interface StableRead {
  chunks: AsyncGenerator<Uint8Array, void, undefined>;
  /** Set when the file moved under the read. */
  changed: boolean;
}

/** Open `path`, expecting `size` bytes and the mtime (ns) the walk saw. Errors are `EIO` naming `path`. */
export async function openStable(path: string, size: number, mtimeNs: string): Promise<StableRead> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw wrapIoError(e, path, 'opening');
  }
  const read: StableRead = { changed: false, chunks: readExactly(fh, path, size, BigInt(mtimeNs), () => (read.changed = true)) };
  return read;
}

async function* readExactly(
  fh: FileHandle,
  path: string,
  size: number,
  mtimeNs: bigint,
  flag: () => void,
): AsyncGenerator<Uint8Array, void, undefined> {
  try {
    let pos = 0;
    let short = false;
    while (pos < size) {
      const want = Math.min(CHUNK, size - pos);
      const buf = new Uint8Array(want);
      let got = 0;
      if (!short) {
        while (got < want) {
          const { bytesRead } = await fh.read(buf, got, want - got, pos + got).catch((e) => {
            throw wrapIoError(e, path, 'reading');
          });
          if (bytesRead === 0) {
            short = true;
            break;
          }
          got += bytesRead;
        }
      }
      pos += want;
      yield buf;
    }
    const after = await fh.stat({ bigint: true }).catch((e) => {
      throw wrapIoError(e, path, 'reading');
    });
    if (short || after.size !== BigInt(size) || after.mtimeNs !== mtimeNs) flag();
  } finally {
    await fh.close().catch(() => undefined);
  }
}
