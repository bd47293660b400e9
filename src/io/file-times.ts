/**
 * Setting a file's access and modification times exactly, from nanoseconds since the epoch.
 *
 * The state records times as nanoseconds (a BigInt, negative before 1970). Where the addon is
 * built, `utimensat`/`futimens` take them as a timespec and the time comes back to the
 * nanosecond, for any date the file system holds.
 *
 * Without it, node's `utimes`/`futimes`/`lutimes` take seconds as a double, and two things
 * in the way they convert it lose time (node 20, libuv 1.46, read in their sources):
 * - node (`toUnixTimestamp`, lib/internal/fs/utils.js) replaces a negative *number* by
 *   `Date.now() / 1000`, so a time before 1970 became the time of the restore; a numeric
 *   *string* is passed on as `+time`, sign intact. So we pass a string.
 * - libuv (`uv__fs_to_timespec`, src/unix/fs.c) truncates toward zero to whole
 *   microseconds. `µs / 1e6` is rarely a double exactly, and about half the time (49.6 %
 *   of times in 1970..2038, measured) the nearest double lies a hair below: a whole
 *   microsecond lost.
 * So we pass the middle of the interval of doubles that libuv turns into the wanted
 * microsecond T (the floor of the nanoseconds): before libuv 1.52 that interval is
 * [T, T + 1 µs) for T ≥ 0 and (T − 1 µs, T] for T < 0 (truncation toward zero), so we pass
 * T ± 0.5 µs away from zero; libuv 1.52 stopped truncating (keeping the double's
 * nanoseconds, still toward zero), which makes the interval [T, T + 1 µs) on both sides, so
 * we pass T + 0.5 µs. The decimal string parses to the nearest double, off by at most half
 * its spacing, which is under 0.5 µs while |t| < 2^33 s: exact to the microsecond for
 * t in [-2^33, 2^33) s, 1697-10-17T11:03:28Z (included) to 2242-03-16T12:56:32Z (excluded):
 * the 2^33 s of a ustar header's 11 octal digits, and as far again before 1970. Beyond it the double itself is too coarse and the time may
 * be a microsecond off. (With libuv 1.52 the sub-microsecond digits are the double's, not
 * the recorded ones.)
 *
 * The file system has the last word: ext4, for one, clamps times to 1901-12-13..2446.
 */
import { futimesSync } from 'node:fs';
import { lutimes, utimes, type FileHandle } from 'node:fs/promises';
import { wrapIoError } from '../errors.js';
import { addonFor, AT_FDCWD, loadAddon } from './native-addon.js';

/** How closely times are restored: nanoseconds with the addon, microseconds without. */
export type TimePrecision = 'ns' | 'us';

/** Options of {@link setFileTimes} and {@link setPathTimes}. */
export interface FileTimesOptions {
  /**
   * Use the addon's `utimensat`/`futimens`: `true` requires it (an `ENATIVE` error when it
   * is not built), `false` uses node's calls even when it is (tests of that path). Default:
   * the addon when it loads.
   */
  native?: boolean;
}

/** Options of {@link setPathTimes}. */
export interface PathTimesOptions extends FileTimesOptions {
  /** Set a symlink's own times, not its target's. */
  nofollow: boolean;
}

const DOING = 'setting the times of';
const NS_PER_US = 1000n;
/** Ten-millionths of a second (units of 0.1 µs) per second: the digits the string carries. */
const TENTHS_US_PER_SECOND = 10_000_000n;

/** Whether this process's libuv truncates times to whole microseconds (before 1.52.0). */
export const LIBUV_TRUNCATES_TO_US = libuvBefore(1, 52, process.versions.uv);

function libuvBefore(major: number, minor: number, version: string | undefined): boolean {
  const [maj = 0, min = 0] = (version ?? '0.0').split('.').map(Number);
  return maj < major || (maj === major && min < minor);
}

/** The precision {@link setFileTimes} and {@link setPathTimes} achieve here with `options`. */
export function timePrecision(options: FileTimesOptions = {}): TimePrecision {
  return options.native !== false && loadAddon().addon ? 'ns' : 'us';
}

/**
 * The seconds string node's `utimes` must be given for the file to get the microsecond
 * `floor(ns / 1000)` (see the module header). `truncates`: libuv truncates to whole
 * microseconds (before 1.52.0).
 */
export function secondsForLibuv(ns: bigint, truncates: boolean = LIBUV_TRUNCATES_TO_US): string {
  const us = ns / NS_PER_US - (ns % NS_PER_US < 0n ? 1n : 0n);
  // The middle of the interval libuv maps to `us`, counted in half-microseconds.
  const halfUs = truncates && us < 0n ? 2n * us - 1n : 2n * us + 1n;
  const tenths = halfUs * 5n;
  const magnitude = tenths < 0n ? -tenths : tenths;
  const fraction = (magnitude % TENTHS_US_PER_SECOND).toString().padStart(7, '0');
  return `${tenths < 0n ? '-' : ''}${magnitude / TENTHS_US_PER_SECOND}.${fraction}`;
}

/**
 * Set the access and modification times of the open file (or directory) `fh`, in
 * nanoseconds since the epoch, to the nanosecond with the addon and to the microsecond
 * without it (see the module header for the range). `path` names the file in errors.
 */
export async function setFileTimes(
  fh: FileHandle,
  atimeNs: bigint,
  mtimeNs: bigint,
  path: string,
  options: FileTimesOptions = {},
): Promise<void> {
  const addon = addonFor(options.native, path, DOING);
  try {
    if (addon) addon.futimens(fh.fd, atimeNs, mtimeNs);
    else await fh.utimes(secondsForLibuv(atimeNs), secondsForLibuv(mtimeNs));
  } catch (e) {
    throw wrapIoError(e, path, DOING);
  }
}

/**
 * {@link setFileTimes} on a raw descriptor, synchronously: for a worker thread, where a
 * blocking call holds no one up. Throws the system error as it comes (the caller names the file).
 */
export function setFdTimesSync(fd: number, atimeNs: bigint, mtimeNs: bigint, native?: boolean): void {
  const addon = native === false ? undefined : loadAddon().addon;
  if (native === true && !addon) throw Object.assign(new Error(`the native addon is required to set times to the nanosecond: ${loadAddon().error}`), { code: 'ENATIVE' });
  if (addon) addon.futimens(fd, atimeNs, mtimeNs);
  else futimesSync(fd, secondsForLibuv(atimeNs) as unknown as number, secondsForLibuv(mtimeNs) as unknown as number);
}

/**
 * Set the access and modification times of `path`, as {@link setFileTimes}; with
 * `nofollow`, a symlink's own times (its target is left alone).
 */
export async function setPathTimes(path: string, atimeNs: bigint, mtimeNs: bigint, options: PathTimesOptions): Promise<void> {
  const addon = addonFor(options.native, path, DOING);
  try {
    if (addon) addon.utimensat(AT_FDCWD, path, atimeNs, mtimeNs, options.nofollow);
    else await (options.nofollow ? lutimes : utimes)(path, secondsForLibuv(atimeNs), secondsForLibuv(mtimeNs));
  } catch (e) {
    throw wrapIoError(e, path, DOING);
  }
}
