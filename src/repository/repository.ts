/**
 * A repository: a storage backend plus a local cache. Backups and restores talk to it, not
 * to files in a temp dir.
 *
 * Two kinds. A repository opened from a URI or a {@link Storage} (S3, B2, a local directory,
 * memory) keeps its cache in `CACHE/ibt-cache/ID/` (CACHE is the work directory, `$TMP` by
 * default; ID the repository's id, so two repositories never share a cache): a backup writes
 * each artifact there and uploads it, and any copy there can be lost or damaged at any time
 * and is fetched again. Without a repository, the work directory itself is one, as in
 * releases before repositories: its artifacts are written in place and are the only copy
 * (`direct`).
 *
 * The storage a repository talks to is the backend wrapped for the network: retries with
 * backoff for what is safe to retry, a limit on operations in flight, optional dry run and
 * transfer progress (`storage/wrappers/`).
 */
import { join } from 'node:path';
import { BackupError } from '../errors.js';
import {
  DryRunStorage,
  LimitedStorage,
  LocalStorage,
  MemoryStorage,
  ProgressStorage,
  RetryingStorage,
  type S3StorageOptions,
  type Storage,
  type TransferEvent,
} from '../storage/index.js';
import { loadConfig, newConfig, saveConfig, type RepositoryConfig } from './config.js';
import { resolveWorkDir } from './work-dir.js';
import { describeLocation, parseRepositoryUri, type RepositoryLocation, type S3Location } from './uri.js';

/** The settings of an S3 or B2 location an option may give, overriding the URI's. */
export type S3Settings = Partial<Pick<S3Location, 'endpoint' | 'region' | 'storageClass' | 'partSize' | 'queueSize' | 'forcePathStyle'>>;

/**
 * Options of {@link openRepository} and {@link initRepository}. The S3 settings override the
 * URI's; `storageClass` applies to any backend with classes, also one given as an object.
 */
export interface RepositoryOptions extends S3Settings {
  /** Where the local cache lives (in `ibt-cache/ID/` below it): default `$TMP` when set, else `os.tmpdir()`. */
  cacheDir?: string;
  /** Storage operations in flight at most (default 8). */
  concurrency?: number;
  /** Tries of an operation that fails transiently (5xx, throttling, resets, timeouts); default 5. */
  attempts?: number;
  /** Write nothing: saves and removals are skipped (and reported through `onSkip`). */
  dryRun?: boolean;
  /** With `dryRun`: called for each save or removal skipped. */
  onSkip?: (what: { operation: string; key: string; size?: number }) => void;
  /** Called as bytes are uploaded and fetched. */
  onTransfer?: (event: TransferEvent) => void;
}

/** A storage backend and its local cache. */
export class Repository {
  private constructor(
    /** The location, for messages (never a credential). */
    readonly location: string,
    /** The storage, wrapped (retries, limit, progress, dry run). */
    readonly storage: Storage,
    /**
     * The same backend for uploads made while their archive is written: outside the limit on
     * operations in flight (an upload open for a whole backup must not take a slot that the
     * backup's own fetches, or its lock's refresh, wait for) and without retries (its source
     * can be read once; a failed one is uploaded again from the finished file).
     */
    readonly streaming: Storage,
    /** The cache: one folder per backup name. */
    readonly cacheRoot: string,
    /** True when the cache is the storage (the work directory as a repository). */
    readonly direct: boolean,
    /** The storage class of data archives, if not the default. */
    readonly dataClass: string | undefined,
    /** The config, for a repository that has one. */
    readonly config: RepositoryConfig | undefined,
    /** Opened with `dryRun`: saves and removals are skipped. */
    readonly dryRun = false,
  ) {}

  /** The work directory as a repository: artifacts written in place, no cache. */
  static inWorkDir(workDir: string): Repository {
    const storage = new LocalStorage(workDir);
    return new Repository(workDir, storage, storage, workDir, true, undefined, undefined);
  }

  /** A repository over `wrapped` (whose config is `config`), its cache under `cacheDir`. */
  private static cached(wrapped: Wrapped, config: RepositoryConfig, cacheDir: string, dataClass: string | undefined): Repository {
    return new Repository(wrapped.storage.location, wrapped.storage, wrapped.streaming, join(cacheDir, 'ibt-cache', config.id), false, dataClass, config, wrapped.dryRun);
  }

  /** Open the repository whose backend is `backend` (see {@link openRepository}). */
  static async open(backend: Storage, options: RepositoryOptions, dataClass: string | undefined, create: boolean): Promise<Repository> {
    const wrapped = wrap(backend, options);
    let config: RepositoryConfig;
    if (create) await saveConfig(wrapped.storage, (config = newConfig()));
    else config = await loadConfig(wrapped.storage);
    return Repository.cached(wrapped, config, resolveWorkDir(options.cacheDir), dataClass);
  }

  /** The cache folder of backup name `name`. */
  dirOf(name: string): string {
    return join(this.cacheRoot, name);
  }
}

/**
 * An S3 backend with options a URI cannot carry (explicit `credentials`, timeouts), to pass
 * to {@link initRepository} or {@link openRepository}. The AWS SDK is loaded here, on first use.
 */
export async function createS3Storage(options: S3StorageOptions): Promise<Storage> {
  const { S3Storage } = await import('../storage/s3.js');
  return new S3Storage(options);
}

/** Memory repositories by name: `memory:NAME` opened twice in one process is one repository. */
const memories = new Map<string, MemoryStorage>();

/** The backend a location names, unwrapped. */
async function backendOf(location: RepositoryLocation, options: RepositoryOptions): Promise<Storage> {
  switch (location.scheme) {
    case 'local':
      return new LocalStorage(location.path);
    case 'memory': {
      let m = memories.get(location.name);
      if (!m) memories.set(location.name, (m = new MemoryStorage()));
      return m;
    }
    default: {
      const { openS3Storage } = await import('./s3-backend.js');
      return openS3Storage({ ...location, ...definedS3(options) }, describeLocation(location));
    }
  }
}

/** The S3 settings given as options, which override the URI's. */
function definedS3(options: RepositoryOptions): S3Settings {
  const out: S3Settings = {};
  for (const k of ['endpoint', 'region', 'storageClass', 'partSize', 'queueSize', 'forcePathStyle'] as const) {
    if (options[k] !== undefined) (out as Record<string, unknown>)[k] = options[k];
  }
  return out;
}

/** The two views of a repository's backend (see {@link Repository.streaming}). */
interface Wrapped {
  storage: Storage;
  streaming: Storage;
  dryRun: boolean;
}

/** `backend`, wrapped as every repository's storage is. */
function wrap(backend: Storage, options: RepositoryOptions): Wrapped {
  const concurrency = options.concurrency ?? 8;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new BackupError('EPARAM', `concurrency must be a positive integer, got ${concurrency}`);
  const attempts = options.attempts ?? 5;
  if (!Number.isInteger(attempts) || attempts < 1) throw new BackupError('EPARAM', `attempts must be a positive integer, got ${attempts}`);
  let counted: Storage = backend;
  if (options.onTransfer) counted = new ProgressStorage(counted, { onProgress: options.onTransfer });
  let storage: Storage = new LimitedStorage(new RetryingStorage(counted, { attempts }), { concurrency });
  let streaming = counted;
  if (options.dryRun) {
    storage = new DryRunStorage(storage, { onSkip: options.onSkip });
    streaming = new DryRunStorage(streaming, { onSkip: options.onSkip });
  }
  return { storage, streaming, dryRun: options.dryRun ?? false };
}

/** Where a repository is: a URI (see `uri.ts`) or a backend object. */
export type RepositoryTarget = string | Storage;

async function resolveTarget(target: RepositoryTarget, options: RepositoryOptions): Promise<{ backend: Storage; dataClass: string | undefined }> {
  if (typeof target !== 'string') return { backend: target, dataClass: options.storageClass };
  const location = parseRepositoryUri(target);
  const dataClass = options.storageClass ?? (location.scheme === 's3' || location.scheme === 'b2' ? location.storageClass : undefined);
  return { backend: await backendOf(location, options), dataClass };
}

/**
 * Open the repository at `target` (a URI such as `s3:bucket/prefix`, `b2:bucket/prefix`,
 * `/path`, `memory:name`, or a {@link Storage}).
 *
 * @throws {@link BackupError} `ENOREPO` when there is no repository there (create one with
 *   {@link initRepository}), `EFORMAT` when a newer release wrote it, `EAUTH` when the
 *   storage refuses the credentials, `EPARAM` for a malformed URI or option.
 */
export async function openRepository(target: RepositoryTarget, options: RepositoryOptions = {}): Promise<Repository> {
  const { backend, dataClass } = await resolveTarget(target, options);
  return Repository.open(backend, options, dataClass, false);
}

/**
 * Create a repository at `target` (see {@link openRepository}) and open it. The bucket or
 * directory must be reachable (a missing bucket is `ENOREPO`: buckets are created with the
 * provider's tools, where their region, retention and costs are chosen).
 *
 * @throws {@link BackupError} `EEXIST` when a repository is already there, and as {@link openRepository}.
 */
export async function initRepository(target: RepositoryTarget, options: RepositoryOptions = {}): Promise<Repository> {
  const { backend, dataClass } = await resolveTarget(target, options);
  return Repository.open(backend, options, dataClass, true);
}
