/**
 * Deterministic test data: a seeded PRNG and generators for the kinds of files an rsync engine
 * meets (random bytes, log-like text, highly repetitive data) and for the edits that turn a
 * basis into a new version. Everything derives from a seed so a failing case can be replayed.
 */

/** sfc32: small, fast, good enough statistically, and identical on every platform. */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed | 0;
    for (let i = 0; i < 12; i++) this.next();
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.next() / 2 ** 32) * n);
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    const whole = n & ~3;
    const view = new DataView(out.buffer);
    for (let i = 0; i < whole; i += 4) view.setUint32(i, this.next());
    for (let i = whole; i < n; i++) out[i] = this.next() & 0xff;
    return out;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

/** `n` random bytes from `seed`. */
export function randomData(seed: number, n: number): Uint8Array {
  return new Prng(seed).bytes(n);
}

const LEVELS = ['INFO', 'INFO', 'INFO', 'DEBUG', 'WARN', 'ERROR'] as const;
const MESSAGES = [
  'request served',
  'cache miss, fetching from origin',
  'connection reset by peer',
  'retrying upload of chunk',
  'user logged in',
  'scheduled backup started',
  'scheduled backup finished',
] as const;

/**
 * `n` bytes of log-like text: timestamped lines with a few levels, services and messages, so
 * blocks are similar to each other without being equal.
 */
export function logText(seed: number, n: number): Uint8Array {
  const rng = new Prng(seed);
  const lines: string[] = [];
  let length = 0;
  let t = Date.UTC(2026, 0, 1);
  while (length < n) {
    t += rng.int(5000);
    const line = `${new Date(t).toISOString()} ${rng.pick(LEVELS)} svc-${rng.int(8)} ${rng.pick(MESSAGES)} id=${rng.next().toString(16)} took=${rng.int(900)}ms\n`;
    lines.push(line);
    length += line.length;
  }
  return new TextEncoder().encode(lines.join('')).subarray(0, n);
}

/**
 * `n` bytes drawn from a handful of short phrases: many identical blocks at many offsets,
 * which exercises duplicate-block handling and COPY merging.
 */
export function repetitiveData(seed: number, n: number): Uint8Array {
  const rng = new Prng(seed);
  const phrases = Array.from({ length: 4 }, () => rng.bytes(16 + rng.int(48)));
  const out = new Uint8Array(n);
  let at = 0;
  while (at < n) {
    const p = rng.int(8) === 0 ? rng.pick(phrases) : phrases[0]!;
    out.set(p.subarray(0, Math.min(p.length, n - at)), at);
    at += p.length;
  }
  return out;
}

/** One edit of a byte array: replace `remove` bytes at `at` with `insert`. */
export interface Edit {
  at: number;
  remove: number;
  insert: Uint8Array;
}

/**
 * Apply `edits` in order; each position is taken modulo the current length (+1), so any list
 * of edits is valid on any data, which suits generated edit lists.
 */
export function applyEdits(data: Uint8Array, edits: readonly Edit[]): Uint8Array {
  let cur = data;
  for (const e of edits) {
    const at = e.at % (cur.length + 1);
    const remove = Math.min(e.remove, cur.length - at);
    const next = new Uint8Array(cur.length - remove + e.insert.length);
    next.set(cur.subarray(0, at));
    next.set(e.insert, at);
    next.set(cur.subarray(at + remove), at + e.insert.length);
    cur = next;
  }
  return cur;
}

/** `count` small overwrites at random places (length unchanged). */
export function scatteredOverwrites(data: Uint8Array, seed: number, count: number): Uint8Array {
  const rng = new Prng(seed);
  const edits = Array.from({ length: count }, () => {
    const len = 1 + rng.int(16);
    return { at: rng.int(Math.max(1, data.length - len)), remove: len, insert: rng.bytes(len) };
  });
  return applyEdits(data, edits);
}

/** `count` insertions of 1–300 random bytes, which shift everything after them. */
export function insertions(data: Uint8Array, seed: number, count: number): Uint8Array {
  const rng = new Prng(seed);
  const edits = Array.from({ length: count }, () => ({ at: rng.int(data.length + 1), remove: 0, insert: rng.bytes(1 + rng.int(300)) }));
  return applyEdits(data, edits);
}

/** `count` deletions of 1–300 bytes. */
export function deletions(data: Uint8Array, seed: number, count: number): Uint8Array {
  const rng = new Prng(seed);
  const edits = Array.from({ length: count }, () => ({ at: rng.int(data.length + 1), remove: 1 + rng.int(300), insert: new Uint8Array(0) }));
  return applyEdits(data, edits);
}

/** The data with its last `tail` bytes replaced by `tail + extra` random bytes. */
export function changedTail(data: Uint8Array, seed: number, tail: number, extra = 0): Uint8Array {
  const keep = Math.max(0, data.length - tail);
  return applyEdits(data, [{ at: keep, remove: data.length - keep, insert: randomData(seed, data.length - keep + extra) }]);
}

/** The block `[start, start + blockLen)` of `data` repeated `times` times. */
export function repeatedBlocks(data: Uint8Array, start: number, blockLen: number, times: number): Uint8Array {
  const block = data.subarray(start, start + blockLen);
  const out = new Uint8Array(block.length * times);
  for (let i = 0; i < times; i++) out.set(block, i * block.length);
  return out;
}
