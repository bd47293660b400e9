/**
 * fast-check arbitraries for state entries, and byte-level changes of their lines: what the
 * tests of the fast entry check, the entry line reader and whole states read line by line
 * share. Entries are valid for the schema (each field in its format and range, the limits
 * themselves included), in schema order; whether they are valid for a chain (ids in order,
 * steps to match) is left to the test.
 */
import { fc } from '@fast-check/vitest';

/**
 * Strings any field may hold, awkward ones often: characters JSON escapes (quote, backslash,
 * controls), ones it does not (DEL, U+2028, U+FEFF), lone surrogates, astral characters and
 * the punctuation of the layout itself.
 */
export const awkwardText: fc.Arbitrary<string> = fc.oneof(
  fc.string({ minLength: 1 }),
  fc.string({ minLength: 1, unit: fc.constantFrom('a', '/', '"', '\\', '\0', '\u001f', '\u007f', '\u00e9', '\u4e2d', '\u{1F600}', '\ud800', '\udc00', '\u2028', '\ufeff', '}', ',', '{', ':', '[') }),
);

const hex16 = fc.stringMatching(/^[0-9a-f]{16}$/);
const ns = fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String), fc.constantFrom('0', '-0', '1'));
const uint32 = fc.oneof(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.constantFrom(0, 2 ** 32 - 1));
const size = fc.oneof(fc.maxSafeNat(), fc.constantFrom(0, Number.MAX_SAFE_INTEGER));

/** Random valid entries of every kind, with strings from `text` and backup ids from `ids`. */
export function entryArbitrary(text: fc.Arbitrary<string>, ids: readonly string[]): fc.Arbitrary<Record<string, unknown>> {
  const id = fc.constantFrom(...ids);
  const meta = { path: text, mode: fc.oneof(fc.integer({ min: 0, max: 0o7777 }), fc.constantFrom(0, 0o7777)), uid: uint32, gid: uint32, mtime: ns };
  const file = fc
    .record({
      ...meta,
      size,
      ctime: ns,
      ino: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String),
      hash: hex16,
      content: fc.array(id, { minLength: 1, maxLength: 3 }),
      steps: fc.option(fc.array(fc.record({ size: fc.maxSafeNat(), hash: hex16 }, { noNullPrototype: true }), { maxLength: 2 }), { nil: undefined }),
      sig: fc.option(id, { nil: undefined }),
      unstable: fc.option(fc.constant(true as const), { nil: undefined }),
    })
    .map(({ path, mode, uid, gid, mtime, size, ctime, ino, hash, content, steps, sig, unstable }) => ({
      path,
      type: 'file',
      mode,
      uid,
      gid,
      mtime,
      size,
      ctime,
      ino,
      hash,
      content,
      ...(steps !== undefined ? { steps } : {}),
      ...(sig !== undefined ? { sig } : {}),
      ...(unstable !== undefined ? { unstable } : {}),
    }));
  const dir = fc.record(meta).map(({ path, mode, uid, gid, mtime }) => ({ path, type: 'dir', mode, uid, gid, mtime, size: 0 }));
  const symlink = fc
    .record({ ...meta, target: text.filter((s) => !s.includes('\0')) })
    .map(({ path, mode, uid, gid, mtime, target }) => ({ path, type: 'symlink', mode, uid, gid, mtime, size: 0, target }));
  return fc.oneof(file, dir, symlink);
}

/** Bytes a change puts in: the layout's own, digits, and bytes no line may hold. */
export const byteArb: fc.Arbitrary<number> = fc.oneof(fc.constantFrom(...Buffer.from('{}[]",:-0189afgAFTZ\\ \n\x00\x1f\x7f\xc3\xa9', 'latin1')), fc.integer({ min: 0, max: 255 }));

/** `line` with one byte replaced (by `byte`, or by its neighbour below or above), inserted or deleted at `at`. */
export function changedByte(line: Buffer, how: number, at: number, byte: number): Buffer {
  const i = at % (line.length + 1);
  const put = (b: number) => Buffer.concat([line.subarray(0, i), Buffer.from([b & 0xff]), line.subarray(i + 1)]);
  switch (how % 5) {
    case 0:
      return put(byte);
    case 1:
      return put((line[i] ?? 0) - 1);
    case 2:
      return put((line[i] ?? 0) + 1);
    case 3:
      return Buffer.concat([line.subarray(0, i), Buffer.from([byte]), line.subarray(i)]);
    default:
      return Buffer.concat([line.subarray(0, i), line.subarray(i + 1)]);
  }
}
