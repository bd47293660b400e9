import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createStrongHasher } from '../../src/rsync/strong-sum.js';
import { DIST_DIR, distBuilt } from '../helpers/unprivileged.js';

const ascii = (s: string) => new TextEncoder().encode(s);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

// RFC 1320 appendix A.5.
const MD4: [string, string][] = [
  ['', '31d6cfe0d16ae931b73c59d7e0c089c0'],
  ['a', 'bde52cb31de33e46245e05fbdbd6fb24'],
  ['abc', 'a448017aaf21d8525fc10ae87aa6729d'],
  ['message digest', 'd9130a8164549fe818874806e1c7014b'],
  ['abcdefghijklmnopqrstuvwxyz', 'd79e1c308aa5bbcdeea8ed63df412da9'],
  ['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', '043f8582f241db351ce627e153e7f0e4'],
  ['1234567890'.repeat(8), 'e33b4ddc9c38f2199c3e7b164fcc0536'],
];

// BLAKE2b with outlen 32 (Python's hashlib.blake2b(digest_size=32), `b2sum -l 256`).
const BLAKE2B_256: [string, string][] = [
  ['', '0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8'],
  ['abc', 'bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319'],
  ['The quick brown fox jumps over the lazy dog', '01718cec35cd3d796dd00020e0bfecb473ad23457d063b75eff29c0ffa2e58a9'],
];

describe('MD4', () => {
  it.each(MD4)('of %j', async (input, want) => {
    const h = await createStrongHasher('md4');
    expect(hex(h.digest(ascii(input), 0, input.length))).toBe(want);
  });
});

describe('BLAKE2b-256', () => {
  it.each(BLAKE2B_256)('of %j', async (input, want) => {
    const h = await createStrongHasher('blake2');
    expect(hex(h.digest(ascii(input), 0, input.length))).toBe(want);
  });

  it('is not BLAKE2b-512 truncated (which starts ba80a53f for "abc")', async () => {
    const h = await createStrongHasher('blake2');
    expect(hex(h.digest(ascii('abc'), 0, 3)).startsWith('ba80a53f')).toBe(false);
  });

  it('of 1025 bytes (more than one 128-byte compression block)', async () => {
    const data = new Uint8Array(1025);
    for (let i = 0; i < 1024; i++) data[i] = i & 0xff;
    data[1024] = 0x78;
    const h = await createStrongHasher('blake2');
    expect(hex(h.digest(data, 0, data.length))).toBe('c374b2f6691d48b7aab5f898227b4bbe2bee9f885d1140fbe15ecb3ab5d01b8f');
  });
});

describe('strong hasher reuse', () => {
  it.each(['md4', 'blake2'] as const)('%s: each digest starts fresh and hashes only its range', async (kind) => {
    const h = await createStrongHasher(kind);
    const text = ascii('xxabcxx');
    const first = hex(h.digest(text, 2, 5));
    h.digest(ascii('something else entirely'), 0, 10);
    expect(hex(h.digest(text, 2, 5))).toBe(first);
    expect(first).toBe(kind === 'md4' ? MD4[2]![1] : BLAKE2B_256[1]![1]);
  });

  it('returns a digest the caller owns (not overwritten by the next one)', async () => {
    const h = await createStrongHasher('blake2');
    const a = h.digest(ascii('abc'), 0, 3);
    const copy = hex(a);
    h.digest(ascii('xyz'), 0, 3);
    expect(hex(a)).toBe(copy);
  });
});

describe('loading hash-wasm', () => {
  // Regression: the engine loaded hash-wasm with its modules, ~40 ms on every thread that
  // imported it, patch-only processes and workers that never hash included.
  it.skipIf(!distBuilt)('waits for the first hasher asked for (run from dist/: a fresh process)', () => {
    const engine = pathToFileURL(join(DIST_DIR, 'rsync', 'index.js')).href;
    const script = `
      import { createRequire } from 'node:module';
      const cache = createRequire(process.cwd() + '/').cache;
      const loaded = () => Object.keys(cache).some((k) => k.includes('hash-wasm'));
      const { createStrongHasher } = await import(${JSON.stringify(engine)});
      const before = loaded();
      await createStrongHasher('md4');
      console.log(JSON.stringify({ before, after: loaded() }));`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({ before: false, after: true });
  });
});
