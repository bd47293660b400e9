/**
 * A spool: bytes whose total size must be known before they can be archived (tar writes an
 * entry's size in its header), such as a delta or a signature being computed. Small spools
 * stay in memory; past a limit the bytes go to a temporary file in the work directory, so
 * memory stays bounded whatever the size of the file being backed up.
 */
import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { readFileChunks } from '../io/read-chunks.js';
import { tempName } from '../io/temp-name.js';
import { wrapIoError } from '../errors.js';

const MEMORY_LIMIT = 4 << 20;

/** Bytes written once, then read back once or more. */
export class Spool {
  private parts: Uint8Array[] = [];
  private file?: { path: string; handle?: FileHandle };
  /** Bytes written so far. */
  size = 0;

  /** `dir`: where a temporary file goes if the spool outgrows memory. */
  constructor(private readonly dir: string) {}

  /** Append `chunk` (kept by reference while in memory: the caller must not reuse it). */
  async write(chunk: Uint8Array): Promise<void> {
    if (chunk.length === 0) return;
    this.size += chunk.length;
    if (!this.file && this.size <= MEMORY_LIMIT) {
      this.parts.push(chunk);
      return;
    }
    if (!this.file) {
      const path = join(this.dir, tempName('spool'));
      this.file = { path };
      this.file.handle = await open(path, 'wx').catch((e) => {
        throw wrapIoError(e, path, 'creating');
      });
      for (const p of this.parts) await this.put(p);
      this.parts = [];
    }
    await this.put(chunk);
  }

  private async put(chunk: Uint8Array): Promise<void> {
    await this.file!.handle!.write(chunk).catch((e) => {
      throw wrapIoError(e, this.file!.path, 'writing');
    });
  }

  /** The spooled bytes, in order. */
  async *chunks(): AsyncGenerator<Uint8Array, void, undefined> {
    if (!this.file) {
      yield* this.parts;
      return;
    }
    if (this.file.handle) {
      await this.file.handle.close();
      this.file.handle = undefined;
    }
    yield* readFileChunks(this.file.path);
  }

  /** Release memory and remove the temporary file, if any. */
  async dispose(): Promise<void> {
    this.parts = [];
    if (this.file) {
      await this.file.handle?.close().catch(() => undefined);
      await rm(this.file.path, { force: true });
      this.file = undefined;
    }
  }
}
