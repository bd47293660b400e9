/**
 * Reading a file as a stream of chunks, with errors that name it.
 */
import { open } from 'node:fs/promises';
import { wrapIoError } from '../errors.js';

const READ_CHUNK = 1 << 20;

/**
 * The chunks of the file at `path`, with errors that name it. With `reuse`, two buffers are
 * read into in turn, so a chunk is only valid until the one after next is requested: for
 * consumers that copy or finish with each chunk (the engine does), this keeps memory flat
 * instead of leaving a trail of buffers for the garbage collector.
 */
export async function* readFileChunks(path: string, options: { reuse?: boolean } = {}): AsyncGenerator<Uint8Array, void, undefined> {
  const handle = await open(path, 'r').catch((e) => {
    throw wrapIoError(e, path, 'opening');
  });
  const spare = options.reuse ? [Buffer.allocUnsafe(READ_CHUNK), Buffer.allocUnsafe(READ_CHUNK)] : undefined;
  try {
    for (let turn = 0; ; turn++) {
      const buf = spare ? spare[turn & 1]! : Buffer.allocUnsafe(READ_CHUNK);
      const { bytesRead } = await handle.read(buf, 0, buf.length, null).catch((e) => {
        throw wrapIoError(e, path, 'reading');
      });
      if (bytesRead === 0) return;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}
