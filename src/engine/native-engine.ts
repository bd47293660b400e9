/**
 * The native engine: librsync through the N-API addon in `native/`. Loaded lazily and never
 * required; see `native/README.md`.
 *
 * It offers the {@link Engine} operations with the TypeScript engine's bytes and error
 * codes. Options are resolved and checked here, in TypeScript, exactly as the TypeScript
 * engine resolves them (`signatureParams` is rdiff's `rs_sig_args`), and only resolved
 * numbers reach C. Where librsync cannot give the same bytes or cannot read the input
 * without calling back into JavaScript, the operation is handed to the TypeScript engine
 * rather than approximated:
 * - a delta whose `maxLiteral` is not the one the installed librsync is built with
 *   (32768 up to 2.3.2, 65533 from 2.3.3);
 * - a patch whose basis is neither bytes in memory nor a file handle with a descriptor.
 *
 * A delta against a signature of blocks runs on every core: segments of the new data are
 * scanned by librsync on the libuv pool, or, where little of the data matches, by the
 * TypeScript engine's threads (faster there), and stitched here into the bytes of one
 * librsync job (`native-delta.ts`). One job does the rest (an empty signature, blocks over
 * 1 MiB, a signature the TypeScript parser reads otherwise than librsync).
 */
import { availableParallelism } from 'node:os';
import { MAX_LITERAL_2_3_2, MAX_LITERAL_2_3_3, signatureParams, type SignatureParams } from '../rsync/format.js';
import { chunksOf, knownLength, type ByteSource } from '../rsync/byte-source.js';
import type { DeltaOptions, PatchBasis, SignatureOptions } from '../rsync/index.js';
import type { Engine } from './engine.js';
import { jsEngine } from './js-engine.js';
import { loadAddon, type NativeAddon } from '../io/native-addon.js';
import { feedJob, nativeError } from './native-job.js';

/** Bytes of a signature's header (magic, block length, strong length). */
const SIGNATURE_HEADER_LEN = 12;

/** The outcome of trying to load the addon: the engine, or why it is not there. */
export type NativeLoad = { engine: Engine; error?: undefined } | { engine?: undefined; error: string };

let cached: NativeLoad | undefined;

/** The literal run at which the librsync of `version` (e.g. "librsync 2.3.2") cuts literals. */
export function librsyncMaxLiteral(version: string): number {
  const m = /(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!m) return MAX_LITERAL_2_3_2;
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const before233 = major < 2 || (major === 2 && (minor < 3 || (minor === 3 && patch < 3)));
  return before233 ? MAX_LITERAL_2_3_2 : MAX_LITERAL_2_3_3;
}

/** Jobs in flight at once on the libuv pool: one per core, at most 8. */
function concurrency(): number {
  return Math.min(availableParallelism(), 8);
}

/** All of `source` in one buffer (a signature: a few bytes per block of the basis). */
async function bytesOf(source: ByteSource): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  const parts: Uint8Array[] = [];
  for await (const chunk of chunksOf(source)) parts.push(Uint8Array.from(chunk));
  return Buffer.concat(parts);
}

/** The descriptor of a basis that is an open file handle, if it is one. */
function basisFd(basis: PatchBasis): number | undefined {
  const fd = (basis as { fd?: unknown } | null)?.fd;
  return typeof fd === 'number' && Number.isInteger(fd) && fd >= 0 && fd <= 0x7fffffff ? fd : undefined;
}

function createNativeEngine(addon: NativeAddon): Engine {
  const maxLiteral = librsyncMaxLiteral(addon.librsyncVersion);

  async function* signatureJob(params: SignatureParams, basis: ByteSource): AsyncGenerator<Uint8Array, void, undefined> {
    const job = new addon.Job('signature', params.magic, params.blockLength, params.strongLength);
    try {
      yield* feedJob(job, basis, 'making the signature');
    } finally {
      job.close();
    }
  }

  /** One librsync job, or (for a large basis) stripes on every core of the libuv pool. */
  async function* signature(basis: ByteSource, options: SignatureOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
    const fileSize = options.fileSize ?? knownLength(basis);
    const params = signatureParams({ ...options, fileSize });
    // Loaded here, not with the engine: a process that only patches or diffs never needs it.
    const { PARALLEL_MIN_BYTES, stripedSignature } = await import('./striped-signature.js');
    if (fileSize < PARALLEL_MIN_BYTES) {
      yield* signatureJob(params, basis);
      return;
    }
    yield* stripedSignature(basis, params, {
      concurrency: concurrency(),
      allocate: (size) => new Uint8Array(size),
      records: async (stripe) => {
        const parts: Uint8Array[] = [];
        for await (const out of signatureJob(params, stripe)) parts.push(out);
        return Buffer.concat(parts).subarray(SIGNATURE_HEADER_LEN);
      },
    });
  }

  async function* delta(sig: ByteSource, newData: ByteSource, options: DeltaOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
    if ((options.maxLiteral ?? MAX_LITERAL_2_3_2) !== maxLiteral) {
      yield* jsEngine.delta(sig, newData, options);
      return;
    }
    const sigBytes = await bytesOf(sig);
    const [{ parseSignature }, { MAX_PARALLEL_BLOCK, poolScanner, stitchedDelta }, { adaptiveScanner, librsyncScanner }, { workerPoolAvailable }] =
      await Promise.all([import('../rsync/signature.js'), import('./parallel-delta.js'), import('./native-delta.js'), import('./worker-pool.js')]);
    // A signature librsync may read otherwise than the TypeScript parser goes to one job,
    // which reports its faults as librsync does.
    const parsed = await parseSignature(sigBytes).catch(() => undefined);
    if (parsed !== undefined && parsed.count > 0 && parsed.blockLength <= MAX_PARALLEL_BLOCK) {
      const threads = workerPoolAvailable() ? poolScanner(parsed) : undefined;
      const scanner = adaptiveScanner(librsyncScanner(addon, sigBytes, concurrency()), threads);
      try {
        yield* stitchedDelta(parsed, newData, options, scanner, { tailToScanner: true });
      } catch (e) {
        throw nativeError(e, 'making the delta');
      }
      return;
    }
    const job = new addon.Job('delta', maxLiteral === MAX_LITERAL_2_3_2);
    try {
      // Loading the signature writes nothing; its phase ends when librsync has all of it.
      const loading = feedJob(job, sigBytes, 'reading the signature');
      while (!(await loading.next()).done);
      yield* feedJob(job, newData, 'making the delta');
    } finally {
      job.close();
    }
  }

  async function* patch(basis: PatchBasis, deltaData: ByteSource): AsyncGenerator<Uint8Array, void, undefined> {
    const fd = basisFd(basis);
    if (!(basis instanceof Uint8Array) && fd === undefined) {
      yield* jsEngine.patch(basis, deltaData);
      return;
    }
    // A file handle goes along with its descriptor, so it cannot be collected (and its
    // descriptor closed, or reused for another file) while librsync reads from it.
    const job = basis instanceof Uint8Array ? new addon.Job('patch', basis) : new addon.Job('patch', fd!, basis);
    try {
      yield* feedJob(job, deltaData, 'applying the delta');
    } finally {
      job.close();
    }
  }

  return { name: 'native', signature, delta, patch };
}

/** Try to load the native engine (the result is cached). */
export function loadNativeEngine(): NativeLoad {
  if (cached === undefined) {
    const load = loadAddon();
    cached = load.addon ? { engine: createNativeEngine(load.addon) } : { error: load.error };
  }
  return cached;
}
