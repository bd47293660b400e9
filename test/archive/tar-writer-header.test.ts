/**
 * The synchronous tar header encoder against the bytes tar-stream's pack writes for the same
 * header: archives must stay byte-identical to those written through tar-stream, quirks
 * included (name splitting, PAX for unicode and unsplittable names, octal clamps, base-256
 * sizes, pack's default modes).
 */
import { fc, it } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import tar from 'tar-stream';
import { encodeTarHeader, type TarHeaderFields } from '../../src/archive/tar-header.js';

/** The first `length` bytes tar-stream's pack emits for an entry with header `h` (the body is never sent). */
function tarStreamHeader(h: TarHeaderFields, length: number): Promise<Buffer> {
  const pack = tar.pack();
  const out: Buffer[] = [];
  let got = 0;
  return new Promise((resolve, reject) => {
    pack.on('error', reject);
    pack.on('data', (data) => {
      const c = data as Buffer;
      out.push(c);
      got += c.length;
      if (got >= length) {
        pack.destroy();
        resolve(Buffer.concat(out).subarray(0, length));
      }
    });
    const sink = pack.entry({
      name: h.name,
      type: h.type,
      mode: h.mode,
      uid: h.uid,
      gid: h.gid,
      size: h.size,
      mtime: new Date(h.mtime * 1000),
      linkname: h.linkname,
    });
    sink.on('error', () => undefined);
  });
}

async function expectSameAsTarStream(h: TarHeaderFields): Promise<void> {
  const mine = encodeTarHeader(h);
  expect(mine.length % 512).toBe(0);
  expect(mine.toString('hex')).toBe((await tarStreamHeader(h, mine.length)).toString('hex'));
}

const base: TarHeaderFields = { name: 'a.txt', type: 'file', mode: 0o644, uid: 1000, gid: 1000, size: 10, mtime: 1_700_000_000 };
const segment = fc.stringMatching(/^[a-zA-Z0-9._-]{1,70}$/);
const asciiPath = fc.array(segment, { minLength: 1, maxLength: 8 }).map((s) => s.join('/'));
const anyName = fc.oneof(asciiPath, fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }), fc.string({ unit: 'binary-ascii', minLength: 0, maxLength: 300 }));
const header = fc.record({
  name: anyName,
  type: fc.constantFrom('file' as const, 'directory' as const, 'symlink' as const),
  mode: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0o177777 })),
  uid: fc.option(fc.oneof(fc.integer({ min: 0, max: 0o1000010 }), fc.integer({ min: 0, max: 2 ** 32 - 1 })), { nil: undefined }),
  gid: fc.option(fc.integer({ min: 0, max: 2 ** 32 - 1 }), { nil: undefined }),
  size: fc.oneof(fc.integer({ min: 0, max: 1 << 24 }), fc.constantFrom(0o77777777777, 0o77777777777 + 1, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER)),
  mtime: fc.oneof(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.constantFrom(0, 2 ** 31 - 1)),
  linkname: fc.option(fc.oneof(asciiPath, fc.string({ unit: 'grapheme', maxLength: 40 })), { nil: undefined }),
});

describe('encodeTarHeader', () => {
  it.prop([header], { numRuns: 400 })('writes the bytes tar-stream writes for any header', (h) => expectSameAsTarStream(h));

  const cases: [string, Partial<TarHeaderFields>][] = [
    ['a plain ustar entry', {}],
    ['a name of exactly 100 bytes', { name: 'n'.repeat(100) }],
    ['a long name split into prefix and name', { name: `${'p'.repeat(150)}/${'n'.repeat(100)}` }],
    ['a long name whose prefix would pass 155 bytes (PAX)', { name: `${'p'.repeat(156)}/${'n'.repeat(10)}` }],
    ['a long name without a slash (PAX)', { name: 'n'.repeat(101) }],
    ['a unicode name (PAX)', { name: 'ü/ß/名前.txt' }],
    ['a PAX record whose length gains a digit from its own digits', { name: 'x'.repeat(990) }],
    ['a long unicode name (PAX records past 512 bytes)', { name: `${'ü'.repeat(70)}/${'n'.repeat(450)}` }],
    ['a symlink with a long target (PAX linkpath)', { type: 'symlink', name: 'l', linkname: 't/'.repeat(60), size: 5 }],
    ['a symlink with a unicode target that fits ustar', { type: 'symlink', name: 'l', linkname: 'zíl' }],
    ['a directory with mode 0 (pack default 0755)', { type: 'directory', name: 'd', mode: 0, size: 0 }],
    ['a file with mode 0 (pack default 0644)', { mode: 0 }],
    ['setuid and sticky bits, and file-type bits masked off', { mode: 0o107755 }],
    ['a uid past 0o777777 (clamped)', { uid: 0o1000000, gid: 2 ** 32 - 1 }],
    ['no uid or gid', { uid: undefined, gid: undefined }],
    ['the largest octal size', { size: 0o77777777777 }],
    ['a size past 8 GiB (base-256)', { size: 0o77777777777 + 1 }],
    ['the largest safe size (base-256)', { size: Number.MAX_SAFE_INTEGER }],
    ['mtime 0', { mtime: 0 }],
    ['the last mtime a header holds (2038-01-19)', { mtime: 2 ** 31 - 1 }],
  ];
  for (const [title, h] of cases) {
    it(`matches tar-stream: ${title}`, () => expectSameAsTarStream({ ...base, ...h }));
  }
});
