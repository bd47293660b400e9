/**
 * Regression: "restored mtimes are wrong: before 1970 they come back as the time of the
 * restore, and 40–100 % of other files come back 1 µs early (a double truncated)".
 *
 * End to end: a tree whose files, directories and symlinks carry times before 1970, around
 * the epoch, with odd microseconds and nanoseconds, past 2038 and at the ends of what a ustar
 * header holds, plus a few hundred random ones, is backed up and restored. Every restored
 * mtime must be the recorded one exactly: to the nanosecond through the addon, to the
 * microsecond (`floor(ns / 1000)`) through node's calls, which the restore is forced to use
 * here even where the addon is built. The trees live on a tmpfs where there is one, since
 * ext4 clamps times before 1901-12-13; elsewhere the range is cut, visibly (on CI, a failure).
 */
import { lstat, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fullBackup, restoreBackup } from '../../src/index.js';
import { setPathTimes, timePrecision } from '../../src/io/file-times.js';
import { Prng } from '../helpers/data.js';
import { earliestKept, makeTimesDir } from '../helpers/times.js';
import { onCi } from '../helpers/tools.js';

const NS = 1_000_000_000n;
const LIMIT_NS = 2n ** 33n * NS;
const floorUs = (ns: bigint): bigint => ns / 1000n - (ns % 1000n < 0n ? 1n : 0n);
const iso = (date: string, fraction = 0n): bigint => BigInt(Date.parse(date)) * 1_000_000n + fraction;

/** The times of the defect: before 1970, microsecond and nanosecond edges, the ends of the range. */
const TABLE: bigint[] = [
  -1n,
  -1000n,
  -999_999_999n,
  -1_250_000_000n,
  -1_250_000_001n,
  iso('1969-07-20T20:17:40Z', 123_457_000n),
  iso('1901-12-14T00:00:00Z', 123_456_789n),
  iso('1850-01-01T00:00:00Z', 999_999n),
  -LIMIT_NS,
  -LIMIT_NS + 1n,
  0n,
  1n,
  999n,
  1000n,
  iso('2023-11-14T22:13:20Z', 1000n),
  iso('2023-11-14T22:13:20Z', 999_999_000n),
  iso('2023-11-14T22:13:20Z', 999_999_999n),
  iso('2023-11-14T22:13:20Z', 100_000_001n),
  iso('2038-01-19T03:14:08Z') - 1n,
  iso('2106-02-07T06:28:16Z', 1000n),
  LIMIT_NS - 1n,
];

describe('restored times are the recorded ones', () => {
  let base = '';
  let src = '';
  let work = '';
  /** Recorded mtime (what the source has, read back) of every entry, by path. */
  const recorded = new Map<string, bigint>();

  beforeAll(async () => {
    base = await makeTimesDir();
    src = join(base, 'src');
    work = join(base, 'work');
    const min = await earliestKept(base);
    if (min > -LIMIT_NS) {
      const note = `the file system under ${base} keeps times from ${min / NS} s only; earlier times are not tested`;
      if (onCi) throw new Error(note);
      console.warn(`[tests] ${note}`);
    }
    const rng = new Prng(5);
    const times = [...TABLE];
    for (let i = 0; i < 300; i++) times.push(BigInt(rng.int(3 * 2 ** 31) - 2 ** 31) * NS + BigInt(rng.int(1e9)));
    const kept = times.filter((t) => t >= min);
    await mkdir(join(src, 'files'), { recursive: true });
    await mkdir(join(src, 'dirs'));
    await mkdir(join(src, 'links'));
    const set: [string, bigint][] = [];
    for (const [i, t] of kept.entries()) {
      await writeFile(join(src, 'files', `f${i}`), `file ${i}\n`);
      await mkdir(join(src, 'dirs', `d${i}`));
      await symlink(`../files/f${i}`, join(src, 'links', `l${i}`));
      set.push([`files/f${i}`, t], [`dirs/d${i}`, t], [`links/l${i}`, t]);
    }
    // Through the addon when it is built, to the nanosecond; the backup records what lstat reads.
    for (const [rel, t] of set) await setPathTimes(join(src, rel), t, t, { nofollow: true });
    for (const [rel] of set) recorded.set(rel, (await lstat(join(src, rel), { bigint: true })).mtimeNs);
    await fullBackup(src, { workDir: work, compression: 'none' });
  });

  afterAll(async () => {
    if (base) await rm(base, { recursive: true, force: true });
  });

  /** Restore, then compare every entry's mtime with `kept` applied to both. */
  async function restoreAndCompare(out: string, kept: (ns: bigint) => bigint, restore: () => Promise<unknown>): Promise<void> {
    await restore();
    const wrong: string[] = [];
    for (const [rel, t] of recorded) {
      const got = (await lstat(join(out, rel), { bigint: true })).mtimeNs;
      if (kept(got) !== kept(t)) wrong.push(`${rel}: recorded ${t} ns, restored ${got} ns`);
    }
    expect(wrong, `${wrong.length} of ${recorded.size} times wrong`).toEqual([]);
  }

  it('exact to the nanosecond through the addon (utimensat/futimens)', async (ctx) => {
    if (timePrecision() !== 'ns') {
      if (onCi) throw new Error('the native addon must be built on CI');
      ctx.skip('the native addon is not built');
    }
    const out = join(base, 'out-ns');
    await restoreAndCompare(out, (ns) => ns, () => restoreBackup('src', out, { workDir: work }));
  });

  it('exact to the microsecond through node’s calls (the addon not used)', async () => {
    const out = join(base, 'out-us');
    await restoreAndCompare(out, floorUs, () => restoreBackup('src', out, { workDir: work, engine: 'js' }));
  });
});
