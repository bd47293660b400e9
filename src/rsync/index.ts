/**
 * The rsync engine: rolling checksums, signatures, deltas and patches in librsync's formats.
 * Pure: bytes in, bytes out, no file system. The formats are described in `README.md` beside
 * this file, which the modules here cite as "README §n".
 */
export { Rollsum, rollsumDigest } from './rollsum.js';
export { RabinKarp, rabinKarpDigest } from './rabin-karp.js';
export { createStrongHasher, type StrongHasher } from './strong-sum.js';
export {
  DELTA_MAGIC,
  MAX_LITERAL_2_3_2,
  MAX_LITERAL_2_3_3,
  signatureParams,
  type SignatureParams,
  type SignatureParamsOptions,
  type StrongSumKind,
  type WeakSumKind,
} from './format.js';
export { chunksOf, type ByteSource } from './byte-source.js';
export {
  computeSignature,
  parseSignature,
  serializeSignature,
  signature,
  SignatureEncoder,
  type Signature,
  type SignatureOptions,
} from './signature.js';
export { delta, DeltaEncoder, type DeltaOptions, type DeltaStats } from './delta.js';
export { MatchedSignature } from './matched-signature.js';
export { patch } from './patch.js';
export type { PatchBasis, RandomAccessBasis } from './basis-reader.js';
export { applyComposition, changedRanges, checkDelta, DeltaComposer, type ChangedRange, type ComposedPiece, type ComposerOptions, type DeltaBounds } from './compose.js';
