/**
 * The deltas of the files a restore composes, kept until each file's last delta is read.
 *
 * A file's deltas come from different archives, read one after the other, and the
 * composition needs them all at once, at random (a piece of the last version may be literal
 * data of any delta). So each delta is appended to one spool file beside the file it
 * restores (`target.ts`: a temporary name, mode 0600, reached through the directory held
 * open), as its archive is read, and checked on the way (`checkDelta`: it decodes, copies
 * nothing past the version before and gives the recorded size), so that a wrong delta fails
 * in the pass of its own archive, naming it, as a patched one does. Bytes after a delta's END,
 * which a patch ignores, are not read on.
 *
 * Bound: a spool holds its file's deltas as the archives hold them (uncompressed), and lives
 * until the file is in place, so the disk the spools take at any time is at most the deltas,
 * in the archives read so far, of the files still waiting for a later delta. Memory: where
 * each delta lies in its spool, two numbers a delta; one spool open at a time per file
 * in flight.
 */
import type { FileHandle } from 'node:fs/promises';
import { wrapIoError } from '../errors.js';
import type { ByteSource, RandomAccessBasis } from '../rsync/index.js';
import type { EntryBody } from './archive-pass.js';
import type { KeptFile, RestoreTarget } from './target.js';

/** Where one delta lies in its spool. */
export interface SpooledDelta {
  /** Its first byte's offset in the spool. */
  at: number;
  /** Its length, up to and including its END. */
  length: number;
}

/** A file's spool, open for reading, and where its deltas lie in it, in chain order. */
export interface OpenSpool {
  /** The spool file. */
  file: KeptFile;
  /** Its deltas, in the order they were appended. */
  deltas: readonly SpooledDelta[];
}

/** Write all of `bytes` at `position` of `fh`, named `path` in errors. */
async function writeAt(fh: FileHandle, path: string, bytes: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, position + done).catch((e: unknown) => {
      throw wrapIoError(e, path, 'writing the spool of deltas of');
    });
    done += bytesWritten;
  }
}

/** The spools of one restore (see the module header). */
export class DeltaSpools {
  private readonly deltas = new Map<string, SpooledDelta[]>();

  constructor(private readonly target: RestoreTarget) {}

  /**
   * Append the delta `body` of the file `rel` to its spool while `check` reads it: up to its
   * END, where `check` stops. A delta held whole is checked before a byte of it is written;
   * a streamed one is written as `check` reads it, and the spool is removed with the target's
   * other temporary files if the check fails.
   */
  async append(rel: string, body: EntryBody, check: (delta: ByteSource) => Promise<unknown>): Promise<void> {
    const list = this.deltas.get(rel) ?? [];
    const last = list.at(-1);
    const at = last ? last.at + last.length : 0;
    if (body.bytes) await check(body.bytes);
    const spool = await this.target.openSpool(rel);
    const path = this.target.describe(rel);
    try {
      let length = 0;
      if (body.bytes) {
        await writeAt(spool.handle, path, body.bytes, at);
        length = body.bytes.length;
      } else {
        await check(
          (async function* (): AsyncGenerator<Uint8Array, void, undefined> {
            for await (const chunk of body.stream) {
              await writeAt(spool.handle, path, chunk, at + length);
              length += chunk.length;
              yield chunk;
            }
          })(),
        );
      }
      list.push({ at, length });
      this.deltas.set(rel, list);
    } finally {
      await spool.close();
    }
  }

  /** The spool of `rel`, open, with its deltas; `forget` it once the file is written. */
  async open(rel: string): Promise<OpenSpool> {
    return { file: await this.target.openSpool(rel), deltas: this.deltas.get(rel) ?? [] };
  }

  /** Forget the deltas of `rel` (its spool was removed). */
  forget(rel: string): void {
    this.deltas.delete(rel);
  }
}

/** The delta `d` of the open spool `file`, read at random (its offset 0 is the delta's first byte). */
export function spooledDelta(file: KeptFile, d: SpooledDelta): RandomAccessBasis {
  return {
    read: (buffer, offset, length, position) => file.handle.read(buffer, offset, Math.max(0, Math.min(length, d.length - position)), d.at + position),
  };
}
