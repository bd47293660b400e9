/**
 * Drives a native librsync job over a byte stream, and turns librsync's results into the
 * library's errors.
 *
 * The loop is the JavaScript half of the design in `native/src/job.cc`: hand the job a
 * chunk, yield what it wrote, hand it the part it did not take, read the next chunk when it
 * took everything, then signal the end of input until the job says it is done. A job may
 * finish before its input does (a patch stops at END; bytes after it are ignored), and then
 * the source is closed unread, as the TypeScript engine does.
 *
 * librsync's results map onto the same codes the TypeScript engine throws for the same
 * input, so callers cannot tell the engines apart by their errors.
 */
import { BackupError, type ErrorCode } from '../errors.js';
import { chunksOf, type ByteSource } from '../rsync/byte-source.js';
import type { NativeJob, StepResult } from '../io/native-addon.js';

const EMPTY = new Uint8Array(0);

/** librsync's `rs_result` values that callers can act on, by our code. */
const RS_CODES: Readonly<Record<number, ErrorCode>> = {
  100: 'EIO', // RS_IO_ERROR
  103: 'ETRUNCATED', // RS_INPUT_ENDED
  104: 'EBADMAGIC', // RS_BAD_MAGIC
  106: 'ECORRUPT', // RS_CORRUPT
  108: 'EPARAM', // RS_PARAM_ERROR
};

/** The error a failed step becomes; `what` says what the job was doing, e.g. "reading the signature". */
export function nativeError(e: unknown, what: string): BackupError {
  if (e instanceof BackupError) return e;
  const rsResult = (e as { rsResult?: unknown } | null)?.rsResult;
  const message = e instanceof Error ? e.message : String(e);
  if (typeof rsResult !== 'number') {
    return new BackupError('EINTERNAL', `${what}: the native engine failed: ${message}`, { cause: e });
  }
  const code = RS_CODES[rsResult] ?? 'EINTERNAL';
  return new BackupError(code, `${what}: ${message} (librsync result ${rsResult})`, { cause: e });
}

/** A step's result, or the output it wrote before failing and the error. */
type Settled = (StepResult & { error?: undefined }) | { out?: Uint8Array; error: BackupError };

async function step(job: NativeJob, input: Uint8Array, eof: boolean, what: string): Promise<Settled> {
  try {
    return await job.step(input, eof);
  } catch (e) {
    const out = (e as { out?: unknown } | null)?.out;
    return { out: out instanceof Uint8Array ? out : undefined, error: nativeError(e, what) };
  }
}

/**
 * Feed all of `input` to `job`, yielding its output, until the job (or its current phase)
 * is done. `what` says what the job is doing, for error messages. Output written before a
 * failure is yielded before the error is thrown, as the TypeScript engine and rdiff do.
 */
export async function* feedJob(job: NativeJob, input: ByteSource, what: string): AsyncGenerator<Uint8Array, void, undefined> {
  for await (const chunk of chunksOf(input)) {
    let rest = chunk;
    while (rest.length > 0) {
      const r = await step(job, rest, false, what);
      if (r.out) yield r.out;
      if (r.error) throw r.error;
      if (r.done) return;
      rest = rest.subarray(r.consumed);
    }
  }
  for (;;) {
    const r = await step(job, EMPTY, true, what);
    if (r.out) yield r.out;
    if (r.error) throw r.error;
    if (r.done) return;
  }
}
