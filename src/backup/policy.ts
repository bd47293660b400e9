/**
 * When a file is stored whole and when as a delta, and with which signature parameters.
 * The numbers come from measurements recorded in README.rst (section "Choices").
 *
 * - Signatures keep 16 bytes of BLAKE2b per block instead of rdiff's 32: a false match
 *   needs a weak-sum hit and a 128-bit collision, far below any disk's error rate, and each
 *   block costs 20 bytes instead of 36, which roughly halves every SigVault.
 * - Block length balances the signature, stored each time a file changes (20·size/B bytes),
 *   against what an edit costs in the delta (about B bytes per edited region). The total is
 *   smallest at B = √(20·size/k) for k edited regions; we assume k = 16, a few scattered
 *   edits, which gives about √(1.25·size) — slightly above rdiff's √size for the same
 *   signature record — rounded to 1 KiB and kept between 1 KiB and 256 KiB.
 * - Files below 16 KiB are stored whole: a signature entry and a delta entry cost two tar
 *   headers (1 KiB) plus a block of literal data, about what the file itself costs.
 * - A delta of 80 % of the file or more is not worth the chain it starts: the file is stored
 *   whole, and so is a file whose chain already holds 32 deltas, which bounds restore work.
 */
import { signatureParams, type SignatureParams, type SignatureParamsOptions } from '../rsync/index.js';

/** Strong sum bytes kept per block. */
export const STRONG_LENGTH = 16;
/** Files smaller than this are always stored whole and get no signature. */
export const SMALL_FILE = 16 * 1024;
/** A delta at least this fraction of the file's size means: store the file whole. */
export const WHOLE_RATIO = 0.8;
/** Most deltas a file's chain may hold before it is stored whole again. */
export const MAX_DELTAS = 32;
/** Assumed edited regions per change of a large file. */
const ASSUMED_EDITS = 16;

/** The block length for a file of `size` bytes. */
export function blockLengthFor(size: number): number {
  const ideal = Math.sqrt((size * (4 + STRONG_LENGTH)) / ASSUMED_EDITS);
  return Math.min(256 * 1024, Math.max(1024, Math.round(ideal / 1024) * 1024));
}

/** The signature options for a file of `size` bytes, as the engine takes them. */
export function signatureOptionsFor(size: number): SignatureParamsOptions {
  return { blockLength: blockLengthFor(size), strongLength: STRONG_LENGTH, fileSize: size };
}

/** Signature parameters for a file of `size` bytes. */
export function signatureParamsFor(size: number): SignatureParams {
  return signatureParams(signatureOptionsFor(size));
}
