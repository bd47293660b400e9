/**
 * Strong checksums: BLAKE2b with a 32-byte digest, and MD4, both from hash-wasm.
 *
 * node:crypto cannot serve here on node 20: MD4 is disabled under OpenSSL 3, and BLAKE2b-256
 * is not BLAKE2b-512 truncated (the output length is part of the parameter block). One
 * hasher per kind is shared and re-initialised per block. Digests are truncated to the
 * signature's strong length by keeping the leftmost bytes (README §4).
 *
 * hash-wasm is imported on the first hasher asked for, not with this module: loading it costs
 * about 40 ms, on every thread that imports the engine, and many never hash (a patch, a
 * worker that only copies, an `rdiff patch` process).
 */
import type { IHasher } from 'hash-wasm';
import type { StrongSumKind } from './format.js';

/** Computes one kind of strong sum over byte ranges, reusing one WASM instance. */
export interface StrongHasher {
  readonly kind: StrongSumKind;
  /** The full digest of `data[start, end)`. The result is owned by the caller. */
  digest(data: Uint8Array, start: number, end: number): Uint8Array;
}

class WasmStrongHasher implements StrongHasher {
  constructor(
    readonly kind: StrongSumKind,
    private readonly hasher: IHasher,
  ) {}

  digest(data: Uint8Array, start: number, end: number): Uint8Array {
    this.hasher.init();
    this.hasher.update(start === 0 && end === data.length ? data : data.subarray(start, end));
    return this.hasher.digest('binary');
  }
}

const shared = new Map<StrongSumKind, Promise<StrongHasher>>();

/**
 * A strong hasher of the given kind. One instance per kind is shared by every job of the
 * thread: `digest` runs init, update and digest synchronously, so jobs can never interleave
 * inside it, and a small file's delta then costs no WASM instantiation (about 1 ms, which
 * made deltas of 64 KiB files several times slower than librsync's).
 */
export function createStrongHasher(kind: StrongSumKind): Promise<StrongHasher> {
  let hasher = shared.get(kind);
  if (!hasher) {
    hasher = import('hash-wasm')
      .then(({ createBLAKE2b, createMD4 }) => (kind === 'blake2' ? createBLAKE2b(256) : createMD4()))
      .then((h) => new WasmStrongHasher(kind, h));
    shared.set(kind, hasher);
  }
  return hasher;
}
