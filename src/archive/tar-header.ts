/**
 * Tar header bytes, built synchronously: the bytes tar-stream's `pack().entry()` writes.
 *
 * Archives were written through tar-stream's pack stream, and their bytes must stay the same
 * (the same input gives a byte-identical archive, whatever the version that wrote it). But a
 * stream per entry costs far more than the entry when there are tens of thousands of small
 * files, and tar-stream's own encoder (`headers.js`) is not reachable: its package.json
 * `exports` opens only the package root. So this module encodes what tar-stream encodes,
 * quirks included, and test/archive/tar-writer-header.test.ts pins it byte for byte against
 * tar-stream's pack output:
 * - ustar: a name over 100 bytes is split at its first slashes into a prefix (≤ 155 bytes);
 *   numbers are octal, and one that does not fit its field becomes all sevens (large uids are
 *   clamped); a size past 8 GiB is base-256.
 * - PAX when ustar cannot hold the entry (a non-ASCII name, a long name that cannot be split,
 *   a link target over 100 bytes): an `x` header named `PaxHeader` with `path` and `linkpath`
 *   records, then the entry's own header, also named `PaxHeader`.
 * - pack's defaults: mode 0 becomes 0644 (0755 for a directory), a symlink has size 0.
 */

/** An entry's header, as the writer hands it to the encoder. */
export interface TarHeaderFields {
  /** Entry path inside the archive. */
  name: string;
  /** Entry type. */
  type: 'file' | 'directory' | 'symlink';
  /** Permission bits; 0 means tar-stream's default (0644, 0755 for a directory). */
  mode: number;
  /** Owner; values past 0o777777 are clamped. */
  uid?: number;
  /** Group; values past 0o777777 are clamped. */
  gid?: number;
  /** Body size in bytes (ignored for a symlink). */
  size?: number;
  /** Modification time in whole seconds since the epoch (the field holds 0 to 2^31 - 1). */
  mtime: number;
  /** Symlink target. */
  linkname?: string;
}

const BLOCK = 512;
const MODE_MASK = 0o7777;
const TYPEFLAG = { file: 0, symlink: 2, directory: 5, pax: 72 } as const;
const USTAR_MAGIC = Buffer.from('ustar\x0000', 'latin1');

/** One ustar header's fields after pack's defaults. */
interface Ustar {
  name: string;
  typeflag: number;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname?: string;
}

/** The header bytes of one entry: 512 bytes, or a PAX header, its records and the entry's header. */
export function encodeTarHeader(h: TarHeaderFields): Buffer {
  const plain = Buffer.alloc(BLOCK);
  if (writeTarHeader(h, plain, 0)) return plain;
  const fields = withDefaults(h);
  const records = paxRecords(h.name, h.linkname);
  const outer = { ...fields, name: 'PaxHeader', linkname: h.linkname ? 'PaxHeader' : undefined };
  const pad = (BLOCK - (records.length % BLOCK)) % BLOCK;
  const paxHeader = Buffer.alloc(BLOCK);
  const entryHeader = Buffer.alloc(BLOCK);
  ustar({ ...outer, typeflag: TYPEFLAG.pax, size: records.length }, paxHeader, 0);
  ustar(outer, entryHeader, 0);
  return Buffer.concat([paxHeader, records, Buffer.alloc(pad), entryHeader]);
}

/**
 * Write the header of `h` into `target` at `at` when it is a plain ustar header (512 bytes,
 * the common case: no allocation, no copy), and say whether it was. When not, nothing is
 * written: the entry needs PAX ({@link encodeTarHeader}).
 */
export function writeTarHeader(h: TarHeaderFields, target: Buffer, at: number): boolean {
  return ustar(withDefaults(h), target, at);
}

/** The fields as tar-stream's pack fills them in. */
function withDefaults(h: TarHeaderFields): Ustar {
  return {
    name: h.name,
    typeflag: TYPEFLAG[h.type],
    mode: h.mode || (h.type === 'directory' ? 0o755 : 0o644),
    uid: h.uid || 0,
    gid: h.gid || 0,
    size: h.type === 'symlink' ? 0 : h.size || 0,
    mtime: h.mtime,
    linkname: h.linkname,
  };
}

/** Write a ustar header into `buf` at `at`; false when the entry needs PAX. */
function ustar(f: Ustar, buf: Buffer, at: number): boolean {
  let name = f.name;
  let prefix = '';
  if (Buffer.byteLength(name) !== name.length) return false;
  while (name.length > 100) {
    const i = name.indexOf('/');
    if (i === -1) return false;
    prefix += prefix ? '/' + name.slice(0, i) : name.slice(0, i);
    name = name.slice(i + 1);
  }
  if (prefix.length > 155) return false;
  if (f.linkname && Buffer.byteLength(f.linkname) > 100) return false;

  buf.fill(0, at, at + BLOCK);
  buf.write(name, at, 'latin1');
  putOctal(buf, at + 100, f.mode & MODE_MASK, 6);
  putOctal(buf, at + 108, f.uid, 6);
  putOctal(buf, at + 116, f.gid, 6);
  putSize(buf, at + 124, f.size);
  putOctal(buf, at + 136, f.mtime | 0, 11);
  buf[at + 156] = 0x30 + f.typeflag;
  if (f.linkname) buf.write(f.linkname, at + 157);
  USTAR_MAGIC.copy(buf, at + 257);
  putOctal(buf, at + 329, 0, 6);
  putOctal(buf, at + 337, 0, 6);
  if (prefix) buf.write(prefix, at + 345, 'latin1');
  putOctal(buf, at + 148, checksum(buf, at), 6);
  return true;
}

/**
 * Octal digits padded to `digits`, and a space; all sevens when the value does not fit.
 * Written digit by digit for the usual non-negative integers, through the string otherwise.
 */
function putOctal(buf: Buffer, at: number, value: number, digits: number): void {
  if (Number.isInteger(value) && value >= 0 && value < 8 ** digits) {
    let v = value;
    for (let i = digits - 1; i >= 0; i--) {
      buf[at + i] = 0x30 + (v % 8);
      v = Math.floor(v / 8);
    }
    buf[at + digits] = 0x20;
    return;
  }
  buf.write(octal(value, digits), at, 'latin1');
}

/** Octal digits padded to `digits`, and a space; all sevens when the value does not fit. */
function octal(value: number, digits: number): string {
  const s = value.toString(8);
  return s.length > digits ? '7'.repeat(digits) + ' ' : '0'.repeat(digits - s.length) + s + ' ';
}

/** The size field: 11 octal digits, or base-256 (a leading 0x80 byte) past 8 GiB. */
function putSize(buf: Buffer, at: number, size: number): void {
  if (Number.isInteger(size) && size >= 0 ? size < 8 ** 11 : size.toString(8).length <= 11) {
    putOctal(buf, at, size, 11);
    return;
  }
  buf[at] = 0x80;
  let n = size;
  for (let i = 11; i > 0; i--) {
    buf[at + i] = n & 0xff;
    n = Math.floor(n / 0x100);
  }
}

/** The header checksum: the byte sum with the checksum field counted as spaces. */
function checksum(buf: Buffer, at: number): number {
  let sum = 8 * 32;
  for (let i = at; i < at + 148; i++) sum += buf[i]!;
  for (let i = at + 156; i < at + BLOCK; i++) sum += buf[i]!;
  return sum;
}

/** PAX records `"<length> <key>=<value>\n"` for the path and the link target. */
function paxRecords(name: string, linkname: string | undefined): Buffer {
  let text = '';
  if (name) text += record(' path=' + name + '\n');
  if (linkname) text += record(' linkpath=' + linkname + '\n');
  return Buffer.from(text);
}

/** Prefix a record with its own length in bytes, the length's digits included. */
function record(body: string): string {
  const len = Buffer.byteLength(body);
  let digits = Math.floor(Math.log(len) / Math.log(10)) + 1;
  if (len + digits >= Math.pow(10, digits)) digits++;
  return String(len + digits) + body;
}
