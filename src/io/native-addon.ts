/**
 * Finding and loading the compiled addon (`native/build/Release/ibt_librsync.node`).
 *
 * The addon is optional and built by hand (`npm run build:native`), so loading is lazy,
 * happens once, and turns every failure into a reason string instead of an exception: the
 * caller falls back to the TypeScript engine (or to node's file-system calls, for the
 * addon's exact file times and hole finding), or reports the reason when `native` was
 * asked for. The path is resolved from the package root, found by walking up to our
 * package.json, because this module runs both as `dist/io/*.js` and, under vitest, as
 * `src/io/*.ts`. The addon reports an ABI number so a stale build is refused with the
 * fix rather than called with arguments it does not understand.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BackupError } from '../errors.js';

/** The interface version of `native/src/addon.cc` this code speaks. */
const ADDON_ABI = 3;
const PACKAGE_NAME = 'incremental-backups-tools';
const BUILD_HINT = 'run `npm run build:native`';

/** The `dirfd` that makes {@link NativeAddon.utimensat} resolve a path from the current directory. */
export const AT_FDCWD = -100;

/** What one step of a job did. */
export interface StepResult {
  /** Output produced by the step, if any. */
  out?: Uint8Array;
  /** Bytes of the step's input the job took; the rest must be passed to the next step. */
  consumed: number;
  /** The job (for a delta: the signature-loading phase) is complete. */
  done: boolean;
}

/** A librsync job in the addon; see the header of `native/src/job.cc`. */
export interface NativeJob {
  /** Feed `input` (`eof`: nothing follows it); runs on the libuv thread pool. */
  step(input: Uint8Array, eof: boolean): Promise<StepResult>;
  /** Free the job's librsync state now (deferred to the end of a running step). */
  close(): void;
}

/** A signature loaded for deltas scanned in segments; see `native/src/delta_index.cc`. */
export interface NativeDeltaIndex {
  /**
   * The matches librsync's delta of `data` (a whole input) makes in windows starting before
   * `length`, as (position, block, length) triples with positions relative to `data`, and
   * where the scan stopped at or after `length`; on the libuv thread pool (each pool thread
   * loads the signature once). Rejects with an Error carrying `rsResult`.
   */
  scan(data: Uint8Array, length: number): Promise<{ hits: Float64Array; end: number }>;
  /** Free the loaded signatures now (deferred to the end of running scans). */
  close(): void;
}

/** The addon's exports. */
export interface NativeAddon {
  readonly abi: number;
  /** e.g. `librsync 2.3.2`. */
  readonly librsyncVersion: string;
  readonly Job: {
    new (kind: 'signature', magic: number, blockLength: number, strongLength: number): NativeJob;
    new (kind: 'delta', legacySlack: boolean): NativeJob;
    new (kind: 'patch', basis: Uint8Array): NativeJob;
    /** `owner` (the FileHandle) is kept alive while the job may read its descriptor `fd`. */
    new (kind: 'patch', fd: number, owner: object): NativeJob;
  };
  /** An index of the serialized `signature` (copied) for deltas scanned in segments. */
  readonly DeltaIndex: new (signature: Uint8Array) => NativeDeltaIndex;
  /** Jobs and delta indexes whose librsync state is still allocated (for leak tests). */
  liveJobs(): number;
  /**
   * Set the access and modification times of `path` (relative to the directory `dirfd`; -100
   * is the current directory) to the nanosecond: BigInt nanoseconds since the epoch, negative
   * before 1970. `nofollow` sets a symlink's own times. Throws a node-style errno Error.
   */
  utimensat(dirfd: number, path: string, atimeNs: bigint, mtimeNs: bigint, nofollow: boolean): void;
  /** Set the times of the open file `fd` to the nanosecond, as {@link NativeAddon.utimensat}. */
  futimens(fd: number, atimeNs: bigint, mtimeNs: bigint): void;
  /** `lseek(fd, offset, SEEK_DATA)`: the first data at or after `offset`, or -1 when there is none (ENXIO). */
  seekData(fd: number, offset: number): number;
  /** `lseek(fd, offset, SEEK_HOLE)`: the first hole at or after `offset` (the end of the file counts as one), or -1 past the end. */
  seekHole(fd: number, offset: number): number;
  /**
   * `copy_file_range(2)` of `length` bytes from `fdIn` at `offIn` to `fdOut` at `offOut`,
   * inside the kernel, on the libuv thread pool; neither file's position moves. Resolves to
   * the bytes copied: fewer than `length` only where the input ends. Rejects with a
   * node-style errno Error; `EXDEV`, `ENOSYS`, `EOPNOTSUPP` and `EINVAL` mean this pair of
   * files cannot be copied so (copy through memory instead).
   */
  copyFileRange(fdIn: number, offIn: number, fdOut: number, offOut: number, length: number): Promise<number>;
  /**
   * librsync's signature of `length` bytes of the open file `fd` from `offset`, read and
   * computed on the libuv thread pool. `out` is the job's whole output, the 12-byte header
   * first; `read` the bytes the file had there (fewer than `length` where it ends). `owner`
   * (the FileHandle) is kept alive meanwhile. Rejects with a node-style errno Error for a
   * failed read, an Error with `rsResult` for a librsync failure.
   */
  signatureOfRange(
    fd: number,
    offset: number,
    length: number,
    magic: number,
    blockLength: number,
    strongLength: number,
    owner: object,
  ): Promise<{ out: Uint8Array; read: number }>;
}

/** The addon, or why it cannot be used. */
export type AddonLoad = { addon: NativeAddon; error?: undefined } | { addon?: undefined; error: string };

let cached: AddonLoad | undefined;

/** The directory holding this package's package.json, or undefined when it is not found. */
export function packageRoot(from: string = dirname(fileURLToPath(import.meta.url))): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === PACKAGE_NAME) return dir;
      } catch {
        // An unreadable package.json is not ours; keep walking up.
      }
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/** Where the built addon lives, or undefined when the package root is not found. */
export function addonPath(): string | undefined {
  const root = packageRoot();
  return root === undefined ? undefined : join(root, 'native', 'build', 'Release', 'ibt_librsync.node');
}

/**
 * Load the addon built at `path` (uncached): the addon, or why it cannot be used — missing,
 * not loadable, or of another ABI than this code speaks.
 */
export function loadAddonFrom(path: string): AddonLoad {
  if (!existsSync(path)) return { error: `the native engine is not built (${BUILD_HINT})` };
  let addon: NativeAddon;
  try {
    addon = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (e) {
    return { error: `the native engine at ${path} does not load (${(e as Error).message}); ${BUILD_HINT}` };
  }
  if (addon.abi !== ADDON_ABI) {
    return { error: `the native engine at ${path} is from another version of this package; ${BUILD_HINT}` };
  }
  return { addon };
}

/** Load the addon once; later calls return the same outcome. */
export function loadAddon(): AddonLoad {
  if (cached === undefined) {
    const path = addonPath();
    cached = path === undefined ? { error: `the ${PACKAGE_NAME} package root was not found` } : loadAddonFrom(path);
  }
  return cached;
}

/**
 * The addon for a call it accelerates: by default the addon when it loads, none when
 * `native` is false, and with `native: true` an `ENATIVE` error naming `path` when it does
 * not load (`doing` says what was being done, e.g. "setting the times of").
 */
export function addonFor(native: boolean | undefined, path: string, doing: string): NativeAddon | undefined {
  if (native === false) return undefined;
  const load = loadAddon();
  if (native === true && load.addon === undefined) {
    throw new BackupError('ENATIVE', `${doing} ${path}: ${load.error}`, { path });
  }
  return load.addon;
}
