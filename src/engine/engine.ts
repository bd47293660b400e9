/**
 * The engine contract: the three rsync operations over streams. The TypeScript engine in
 * `src/rsync` is the reference; the optional native engine (librsync through N-API) offers
 * the same operations with the same bytes and the same error codes, so callers never need
 * to know which one ran.
 */
import type { ByteSource, DeltaOptions, PatchBasis, SignatureOptions } from '../rsync/index.js';

/** A concrete engine. */
export type EngineName = 'js' | 'native';
/** What a caller may ask for: `auto` picks the fastest available engine per operation. */
export type EngineChoice = 'auto' | EngineName;

/** The rsync operations, over byte streams. */
export interface Engine {
  readonly name: EngineName;
  /** Serialized signature of `basis` (see {@link SignatureOptions}). */
  signature(basis: ByteSource, options?: SignatureOptions): AsyncIterable<Uint8Array>;
  /** Delta turning the basis of the serialized signature `sig` into `newData`. */
  delta(sig: ByteSource, newData: ByteSource, options?: DeltaOptions): AsyncIterable<Uint8Array>;
  /** `delta` applied to `basis`. */
  patch(basis: PatchBasis, delta: ByteSource): AsyncIterable<Uint8Array>;
}
