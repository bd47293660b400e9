/**
 * Where times can be tested over their whole range. ext4 clamps times before 1901; tmpfs
 * keeps what it is given, so tests of exact times use /dev/shm when there is one.
 */
import { existsSync } from 'node:fs';
import { lstat, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A new directory on a tmpfs when there is one, for its full range of times. */
export function makeTimesDir(): Promise<string> {
  return mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'ibt-times-'));
}

/** The earliest time (whole seconds, no earlier than -2^33 s) the file system at `dir` keeps, in ns. */
export async function earliestKept(dir: string): Promise<bigint> {
  const probe = join(dir, 'probe');
  await writeFile(probe, '');
  const seconds = (-(2n ** 33n)).toString();
  await utimes(probe, seconds, seconds);
  const kept = (await lstat(probe, { bigint: true })).mtimeNs;
  await rm(probe);
  return kept;
}
