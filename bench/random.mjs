/**
 * Seeded randomness for the benchmark's trees: the same seed gives the same tree, byte for
 * byte, on every run and machine, so figures taken on different days measure the same work.
 *
 * Two sources, because they serve different needs: `bytes` is an AES-256-CTR keystream
 * (incompressible, and fast enough to fill gigabytes), `prng` is mulberry32 (cheap numbers
 * for choices: sizes, directories, which file to edit). `text` and `logText` turn them into
 * source-like and log-like text that compresses roughly as real text does (3–5×) and never
 * repeats across files, so no tool gets deduplication the real world would not give it.
 */
import { createCipheriv } from 'node:crypto';

/**
 * A keystream of pseudo-random bytes.
 * @param {number} seed
 * @returns {(n: number) => Buffer} the next `n` bytes of the stream
 */
export function bytes(seed) {
  const key = Buffer.alloc(32, 0);
  key.writeUInt32BE(seed >>> 0, 0);
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16, 0));
  return (n) => cipher.update(Buffer.alloc(n));
}

/**
 * Pseudo-random numbers in [0, 1) (mulberry32).
 * @param {number} seed
 * @returns {() => number}
 */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * An integer in [lo, hi].
 * @param {() => number} rng
 */
export function between(rng, lo, hi) {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

/**
 * A size spread evenly over the logarithm between lo and hi: many small, a few large, as
 * file sizes are.
 * @param {() => number} rng
 */
export function logUniform(rng, lo, hi) {
  return Math.round(lo * (hi / lo) ** rng());
}

/** A fixed vocabulary of 4,096 made-up identifiers: enough variety to compress like code. */
const VOCAB = (() => {
  const rng = prng(0x5eed);
  const letters = 'abcdefghijklmnopqrstuvwxyz_';
  const keywords = 'const let return async await function export import interface type if else for while new this class extends'.split(' ');
  const words = [...keywords];
  while (words.length < 4096) {
    let w = '';
    for (let n = between(rng, 3, 12); n > 0; n--) w += letters[between(rng, 0, 25)];
    if (rng() < 0.2) w += letters[between(rng, 0, 26)].toUpperCase() + letters[between(rng, 0, 25)];
    words.push(w);
  }
  return words;
})();

/**
 * One word of the vocabulary, for names.
 * @param {() => number} rng
 */
export function word(rng) {
  return VOCAB[16 + between(rng, 0, VOCAB.length - 17)];
}

const PUNCT = [' ', ' ', ' ', '(', ')', ', ', '.', ' = ', ' => ', '; '];

/**
 * `n` bytes of source-like text: indented lines of identifiers and punctuation.
 * @param {(n: number) => Buffer} rand a stream from {@link bytes}
 * @param {number} n
 * @returns {Buffer}
 */
export function text(rand, n) {
  const r = rand(Math.ceil(n / 2) + 64);
  const parts = [];
  let len = 0;
  let i = 0;
  const next = () => {
    if (i + 2 > r.length) i = 0;
    const v = r.readUInt16LE(i);
    i += 2;
    return v;
  };
  while (len < n) {
    const indent = '  '.repeat(next() & 3);
    let line = indent;
    for (let k = 3 + (next() % 7); k > 0; k--) line += VOCAB[next() & 4095] + PUNCT[next() % PUNCT.length];
    line += ';\n';
    parts.push(line);
    len += line.length;
  }
  return Buffer.from(parts.join('')).subarray(0, n);
}

const LEVELS = ['INFO', 'INFO', 'INFO', 'DEBUG', 'WARN', 'ERROR'];

/**
 * `n` bytes of log lines, numbered from `first` (timestamps rise with the line number).
 * @param {(n: number) => Buffer} rand a stream from {@link bytes}
 * @param {number} n
 * @param {number} first number of the first line
 * @returns {Buffer}
 */
export function logText(rand, n, first) {
  const r = rand(Math.ceil(n / 8) + 64);
  const parts = [];
  let len = 0;
  let i = 0;
  const base = Date.UTC(2026, 0, 1);
  for (let line = first; len < n; line++) {
    if (i + 8 > r.length) i = 0;
    const a = r.readUInt32LE(i);
    const b = r.readUInt32LE(i + 4);
    i += 8;
    const s =
      `${new Date(base + line * 37).toISOString()} ${LEVELS[a % LEVELS.length]} worker-${a % 16} ` +
      `${VOCAB[b & 4095]} request=${b >>> 8} took=${a % 997}ms path=/${VOCAB[(a >>> 12) & 4095]}/${VOCAB[(b >>> 12) & 4095]}\n`;
    parts.push(s);
    len += s.length;
  }
  return Buffer.from(parts.join('')).subarray(0, n);
}
