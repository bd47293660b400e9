/**
 * The signature of a file named by its path. With the native engine and a regular file, the
 * addon reads the file itself: the file is cut into ranges of whole blocks (about 4 MiB) and
 * each range is read and signed by one call on the libuv thread pool, several at once, the
 * records written in range order — the same bytes as one pass, since a record depends only
 * on its block (see `native/src/file_signature.cc`). Nothing of the file then passes through
 * JavaScript: the event loop only orders results, and the pool threads read and hash on
 * every core. Otherwise (the TypeScript engine, no addon, a pipe or device) the file is
 * streamed through the engine.
 *
 * The file is read to its end, as a stream would be, even if it grew after its size was
 * taken (the block length was chosen for that size, as rdiff chooses it).
 */
import { open } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { wrapIoError } from '../errors.js';
import { loadAddon, type NativeAddon } from '../io/native-addon.js';
import { readFileChunks } from '../io/read-chunks.js';
import { signatureParams, type SignatureParams } from '../rsync/format.js';
import type { SignatureOptions } from '../rsync/index.js';
import type { Engine } from './engine.js';
import { nativeError } from './native-job.js';
import { OrderedJobs } from './ordered-jobs.js';

/** Bytes of a range, before rounding to whole blocks: a few milliseconds of one pool thread. */
const RANGE = 4 << 20;
/** Bytes of a signature's header, which every range's output starts with. */
const HEADER_LEN = 12;

/** What one range gave: its records (the header too for the first), and whether the file ended in it. */
interface Range {
  records: Uint8Array;
  ended: boolean;
}

/**
 * The serialized signature of the file at `path` made by `engine` (see the header);
 * `options.fileSize`, when given, is the size the parameters are chosen for.
 */
export async function* signatureOfPath(engine: Engine, path: string, options: SignatureOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
  const addon = engine.name === 'native' ? loadAddon().addon : undefined;
  if (!addon) {
    yield* engine.signature(readFileChunks(path, { reuse: true }), options);
    return;
  }
  const file = await open(path, 'r').catch((e: unknown) => {
    throw wrapIoError(e, path, 'opening');
  });
  try {
    const info = await file.stat();
    if (!info.isFile()) {
      yield* engine.signature(readFileChunks(path, { reuse: true }), options);
      return;
    }
    const params = signatureParams({ ...options, fileSize: options.fileSize ?? info.size });
    yield* signRanges(addon, file, path, params, info.size);
  } finally {
    await file.close();
  }
}

/**
 * The signature of the open regular file `file` (named `path` in errors), `size` bytes when
 * measured, its ranges signed by `addon`. When this ends, however it ends (done, failed,
 * abandoned), no read of the file is running: the caller may close it.
 */
export async function* signRanges(
  addon: NativeAddon,
  file: { fd: number },
  path: string,
  params: SignatureParams,
  size: number,
): AsyncGenerator<Uint8Array, void, undefined> {
  const { magic, blockLength, strongLength } = params;
  const range = blockLength * Math.max(1, Math.floor(RANGE / blockLength));
  const sign = async (offset: number): Promise<Range> => {
    try {
      const { out, read } = await addon.signatureOfRange(file.fd, offset, range, magic, blockLength, strongLength, file);
      return { records: offset === 0 ? out : out.subarray(HEADER_LEN), ended: read < range };
    } catch (e) {
      throw typeof (e as { rsResult?: unknown }).rsResult === 'number' ? nativeError(e, `making the signature of ${path}`) : wrapIoError(e, path, 'reading');
    }
  };
  const jobs = new OrderedJobs<Range>(2 * Math.min(availableParallelism(), 8));
  try {
    let next = 0;
    for (let ended = false; !ended; ) {
      // Ranges within the size the file had run ahead; past it, one at a time until one
      // comes back short, for a file that grew.
      while (!jobs.full && (next < size || jobs.length === 0)) {
        jobs.add(sign(next));
        next += range;
      }
      const done = await jobs.next();
      ended = done.ended;
      if (done.records.length > 0) yield done.records;
    }
  } finally {
    // Every read must be over before the caller closes the file (its descriptor could be
    // reused at once); what lies past the end is dropped.
    while (jobs.length > 0) await jobs.next().catch(() => undefined);
  }
}
