/**
 * The bytes of a version-3 state file: gzip members that decompress, one after the other,
 * to the text of the state and its digest (`zcat` gives exactly that text).
 *
 *   body   deflated:            the text up to the line of the last entry
 *   tail   stored (level 0):    `],"stats":{…}`, the text after the entries
 *   seal   stored (level 0):    `,"digest":"<16 hex digits>"}`, always 52 bytes
 *
 * A stored member is its text plus 23 bytes, so a writer knows the size of the whole file as
 * soon as the body is compressed, and records it in the stats it stores after the body
 * (`stats.bytesWritten` counts the state itself) without compressing anything twice. The
 * seal sits at a fixed place, the last 52 bytes: gzip header (10 bytes, no optional fields),
 * stored-block header (5), the 29 bytes of text, CRC-32 and length (8). A reader checks all
 * of it, the CRC included, before it trusts the digest, so the digest of a parent is read from
 * its last bytes alone; whether the body matches it is checked when the file itself is read.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { BackupError } from '../errors.js';

/** The size of the seal, the last member of every version-3 state file. */
export const SEAL_SIZE = 52;

/**
 * The zlib level of the body (any level reads the same). On state text level 6 makes the file
 * 13 % smaller than level 1, for ~1.3 s more CPU per million entries (bench/state.mjs, 200,000
 * entries: 1.41 against 1.15 CPU-s for the whole write). Every backup rewrites its state: 1.
 */
export const BODY_LEVEL = 1;

const STORED_OVERHEAD = 23;
/** The largest text a stored member of this module holds (zlib writes it as one block). */
const STORED_MAX = 16 * 1024;
const SEAL_TEXT = /^,"digest":"([0-9a-f]{16})"\}$/;
const SEAL_TEXT_LENGTH = 29;

/** True when `head`, a file's first bytes, start a gzip stream. */
export function isGzip(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/** The size of the stored member of a text of `length` bytes. */
export function storedSize(length: number): number {
  return length + STORED_OVERHEAD;
}

/** A gzip member holding `text` stored, not deflated: {@link storedSize} bytes. */
export function storedMember(text: string): Buffer {
  const bytes = Buffer.from(text);
  if (bytes.length > STORED_MAX) throw new BackupError('EINTERNAL', `a stored member of a state file holds at most ${STORED_MAX} bytes, not ${bytes.length}`);
  const member = gzipSync(bytes, { level: 0 });
  if (member.length !== storedSize(bytes.length)) throw new BackupError('EINTERNAL', `zlib stored ${bytes.length} bytes in ${member.length}, not ${storedSize(bytes.length)}`);
  return member;
}

/** The seal of a state whose digest is `digest`: the file's last {@link SEAL_SIZE} bytes. */
export function sealMember(digest: string): Buffer {
  return storedMember(`,"digest":"${digest}"}`);
}

/** The digest a file's last {@link SEAL_SIZE} bytes seal, or undefined when they are not a seal. */
export function digestOfSeal(bytes: Uint8Array): string | undefined {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length !== SEAL_SIZE || !isGzip(b) || b[2] !== 8 || b[3] !== 0) return undefined;
  if (b[10] !== 1 || b.readUInt16LE(11) !== SEAL_TEXT_LENGTH || b.readUInt16LE(13) !== (~SEAL_TEXT_LENGTH & 0xffff)) return undefined;
  const text = SEAL_TEXT.exec(b.toString('latin1', 15, 15 + SEAL_TEXT_LENGTH));
  if (!text) return undefined;
  try {
    gunzipSync(b);
  } catch {
    return undefined;
  }
  return text[1];
}
