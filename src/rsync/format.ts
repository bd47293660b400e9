/**
 * librsync's magic numbers and how rdiff picks signature parameters (`rs_sig_args`).
 *
 * A signature magic is `72 73 01 XY`: X picks the weak sum (3 rollsum, 4 RabinKarp) and Y
 * the strong sum (6 MD4, 7 BLAKE2). Block length defaults to √size rounded down to a
 * multiple of 128 (256 for files up to 64 KiB, 2048 when the size is unknown), which keeps
 * the signature near √size records; the minimum strong length grows with log(size) so the
 * chance of a false match stays negligible. See README §1–2.
 */
import { BackupError } from '../errors.js';

/** The weak (rolling) checksum of a signature. */
export type WeakSumKind = 'rabinkarp' | 'rollsum';
/** The strong checksum of a signature. */
export type StrongSumKind = 'blake2' | 'md4';

/** Magic of every delta file. */
export const DELTA_MAGIC = 0x72730236;
/** rollsum + MD4 (librsync < 1.0). */
export const MD4_SIG_MAGIC = 0x72730136;
/** rollsum + BLAKE2b-256. */
export const BLAKE2_SIG_MAGIC = 0x72730137;
/** RabinKarp + MD4. */
export const RK_MD4_SIG_MAGIC = 0x72730146;
/** RabinKarp + BLAKE2b-256, rdiff's default. */
export const RK_BLAKE2_SIG_MAGIC = 0x72730147;

/** Block length rdiff uses when the basis size is unknown. */
export const DEFAULT_BLOCK_LEN = 2048;
/** Minimum strong length when the basis size is unknown. */
export const DEFAULT_MIN_STRONG_LEN = 12;

/** The longest literal run rdiff 2.3.2 (Debian 12) emits before cutting it. */
export const MAX_LITERAL_2_3_2 = 32768;
/** The longest literal run rdiff 2.3.3 and later emit. */
export const MAX_LITERAL_2_3_3 = 65533;

/** The full digest length of a strong sum kind. */
export function strongSumMax(strong: StrongSumKind): number {
  return strong === 'blake2' ? 32 : 16;
}

/** The signature magic for a weak/strong pair. */
export function signatureMagic(weak: WeakSumKind, strong: StrongSumKind): number {
  return (strong === 'blake2' ? BLAKE2_SIG_MAGIC : MD4_SIG_MAGIC) + (weak === 'rabinkarp' ? 0x10 : 0);
}

/** The weak/strong pair a signature magic stands for, or undefined for an unknown magic. */
export function parseSignatureMagic(magic: number): { weak: WeakSumKind; strong: StrongSumKind } | undefined {
  switch (magic) {
    case MD4_SIG_MAGIC:
      return { weak: 'rollsum', strong: 'md4' };
    case BLAKE2_SIG_MAGIC:
      return { weak: 'rollsum', strong: 'blake2' };
    case RK_MD4_SIG_MAGIC:
      return { weak: 'rabinkarp', strong: 'md4' };
    case RK_BLAKE2_SIG_MAGIC:
      return { weak: 'rabinkarp', strong: 'blake2' };
    default:
      return undefined;
  }
}

/** Options that choose a signature's kind and parameters. */
export interface SignatureParamsOptions {
  /** Weak checksum; default `'rabinkarp'`. */
  weak?: WeakSumKind;
  /** Strong checksum; default `'blake2'`. */
  strong?: StrongSumKind;
  /** Bytes per block; 0 or absent picks rdiff's recommendation for the basis size. */
  blockLength?: number;
  /** Strong sum bytes kept per block; 0 or absent is the maximum, -1 the minimum safe length. */
  strongLength?: number;
  /** Size of the basis in bytes, or -1 (the default) when it is not known in advance. */
  fileSize?: number;
}

/** The parameters a signature is written with. */
export interface SignatureParams {
  magic: number;
  weak: WeakSumKind;
  strong: StrongSumKind;
  blockLength: number;
  strongLength: number;
}

/** floor(log2(x)) for x ≥ 1, exact for every safe integer. */
function lg(x: number): number {
  let r = 0;
  while (x >= 2) {
    x = Math.floor(x / 2);
    r++;
  }
  return r;
}

/** floor(√n), exact for every safe integer. */
export function isqrt(n: number): number {
  let r = Math.floor(Math.sqrt(n));
  while (r * r > n) r--;
  while ((r + 1) * (r + 1) <= n) r++;
  return r;
}

/** The minimum strong length rdiff accepts as safe for a basis of `fileSize` bytes. */
export function minStrongLength(fileSize: number, blockLength: number): number {
  if (fileSize < 0) return DEFAULT_MIN_STRONG_LEN;
  return 2 + Math.floor((lg(fileSize + 2 ** 24) + lg(Math.floor(fileSize / blockLength) + 1) + 7) / 8);
}

/** rdiff's recommended block length for a basis of `fileSize` bytes (-1: unknown). */
export function recommendedBlockLength(fileSize: number): number {
  if (fileSize < 0) return DEFAULT_BLOCK_LEN;
  if (fileSize <= 65536) return 256;
  return isqrt(fileSize) & ~127;
}

/**
 * Choose signature parameters exactly as librsync's `rs_sig_args` does, so a signature made
 * with the same options is byte-identical to `rdiff signature`'s.
 */
export function signatureParams(options: SignatureParamsOptions = {}): SignatureParams {
  const weak = options.weak ?? 'rabinkarp';
  const strong = options.strong ?? 'blake2';
  const fileSize = options.fileSize ?? -1;
  if (weak !== 'rabinkarp' && weak !== 'rollsum') {
    throw new BackupError('EPARAM', `unknown weak sum ${JSON.stringify(weak)}`);
  }
  if (strong !== 'blake2' && strong !== 'md4') {
    throw new BackupError('EPARAM', `unknown strong sum ${JSON.stringify(strong)}`);
  }
  let blockLength = options.blockLength ?? 0;
  if (!Number.isSafeInteger(blockLength) || blockLength < 0 || blockLength > 0xffffffff) {
    throw new BackupError('EPARAM', `block length must be a whole number from 1 to 2^32-1, not ${blockLength}`);
  }
  if (blockLength === 0) blockLength = recommendedBlockLength(fileSize);
  const max = strongSumMax(strong);
  const min = minStrongLength(fileSize, blockLength);
  let strongLength = options.strongLength ?? 0;
  if (!Number.isSafeInteger(strongLength) || strongLength < -1) {
    throw new BackupError('EPARAM', `strong length must be -1, 0 or a whole number up to ${max}, not ${strongLength}`);
  }
  if (strongLength === 0) strongLength = max;
  else if (strongLength === -1) strongLength = min;
  else if (strongLength > max) {
    throw new BackupError('EPARAM', `strong length ${strongLength} is more than the ${max} bytes a ${strong} sum has`);
  }
  return { magic: signatureMagic(weak, strong), weak, strong, blockLength, strongLength };
}
