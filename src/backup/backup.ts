/**
 * Full and incremental backups: one mechanism, where a full backup is an incremental one
 * against an empty parent.
 *
 * The walk compares each entry with the parent state (`plan.ts` decides, from metadata alone,
 * what each entry needs; `records.ts` builds its record; `artifact-set.ts` holds the archives;
 * `commit.ts` writes the state). Unchanged files carry their record over untouched (no read). A new, small or signature-less file is stored whole in the files
 * archive; a changed file with a signature is read once, each chunk going to the delta
 * encoder (against the signature the state says is current), the signature encoder (for the
 * next backup) and the content hasher. The delta is spooled, since tar needs its size first,
 * and stored unless it is nearly as big as the file, in which case the file is stored whole.
 * Files needing deltas are grouped by the SigVault holding their signature so each vault is
 * read once, and only for the entries wanted: a long chain costs what its changed files cost.
 *
 * One run of a name at a time: a backup holds the name's lock (`catalog/`) from before it
 * reads the catalog until after it commits, so ids are unique and no run ever mistakes
 * another live run's files for leftovers. Crash safety: every archive is written under a
 * temporary name and renamed when complete; the state is written last and is the commit
 * point. An interrupted backup leaves only uncommitted files, which the next backup of the
 * name removes.
 */
import { opendir, rm, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DirTree } from '../io/dir-tree.js';
import { asAbort, BackupError, isBackupError } from '../errors.js';
import { createStrongHasher, DeltaEncoder, MatchedSignature, SignatureEncoder, type Signature, type SignatureParams, type StrongHasher } from '../rsync/index.js';
import { signatureHeader } from '../rsync/signature.js';
import { chooseCompression, readSignatures, Spool, type Compression } from '../archive/index.js';
import { Catalog, checkName, lockName, repositoryOf, type BackupWarning } from '../catalog/index.js';
import type { HeldLock } from '../lock/index.js';
import {
  compileSelection,
  createContentHasher,
  metaDiffers,
  openStable,
  walkTree,
  type DirIdentity,
  type EntryMeta,
  type StableRead,
  type TreeWarning,
} from '../tree/index.js';
import type { BackupState, BackupStats, FileEntry, ReadState, StateEntry } from '../state/index.js';
import { BatchReader, TreeWorkers, type BatchOutcome, type Refusal, type WholeRead } from '../tree/index.js';
import { ArtifactSet, tarHeader, type LiveUploads } from './artifact-set.js';
import { LiveUpload } from './live-upload.js';
import { ReadAhead } from './read-ahead.js';
import { syncDir, writeState } from './commit.js';
import type { BackupOptions, BackupReport, ReportFile } from './options.js';
import { planStep, tallyOf } from './plan.js';
import { SMALL_FILE, signatureOptionsFor, signatureParamsFor, WHOLE_RATIO } from './policy.js';
import { ChunkChannel } from './chunk-channel.js';
import { PARALLEL_MIN_BYTES, parallelSignature } from '../engine/parallel-signature.js';
import { deltaSession, sessionScanner } from '../engine/delta-session.js';
import { carriedRecord, dirRecord, fileRecord, symlinkRecord, type Content } from './records.js';

/**
 * Back up every selected entry of the directory `source`, starting a new chain.
 *
 * @param source - The directory to back up.
 * @returns What was written: the artifacts to upload (`files`), counts and warnings.
 * @throws {@link BackupError} `ESOURCE` when `source` is missing or not a directory,
 *   `EABORTED` when `signal` fires, `ESTRICT` for a warning in strict mode, `EIO` on write errors.
 */
export async function fullBackup(source: string, options: BackupOptions = {}): Promise<BackupReport> {
  return runBackup(source, options, false);
}

/**
 * Back up what changed in `source` since the last backup of its name; with no earlier
 * backup, make a full one (the report's `kind` says which).
 *
 * @throws {@link BackupError} as {@link fullBackup}, and `EMISSING`/`ECORRUPT` when the
 *   parent's state cannot be read.
 */
export async function incrementalBackup(source: string, options: BackupOptions = {}): Promise<BackupReport> {
  return runBackup(source, options, true);
}

async function runBackup(source: string, options: BackupOptions, incremental: boolean): Promise<BackupReport> {
  const root = resolve(source);
  const tree = await openSource(root);
  try {
    return await backupTree(root, tree, options, incremental);
  } finally {
    await tree.close();
  }
}

/**
 * The source, opened once: it is walked and read through this descriptor, never again by
 * its path (a symlink to a directory is followed here, where the user named it, and nowhere
 * below). Missing, not a directory, or not listable: `ESOURCE`.
 */
async function openSource(root: string): Promise<DirTree> {
  const fail = (why: string, cause: unknown): never => {
    throw new BackupError('ESOURCE', `backup source ${root} ${why}`, { path: root, cause });
  };
  const tree = await DirTree.open(root, { follow: true }).catch((e: unknown) =>
    fail((e as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException }).cause?.code === 'ENOTDIR' ? 'is not a directory' : `cannot be read: ${(e as Error).message}`, e),
  );
  await opendir(tree.root.anchor)
    .then((d) => d.close())
    .catch(async (e: unknown) => {
      await tree.close();
      fail(`cannot be listed: ${(e as Error).message}`, e);
    });
  return tree;
}

async function backupTree(root: string, tree: DirTree, options: BackupOptions, incremental: boolean): Promise<BackupReport> {
  const name = checkName(options.name ?? basename(root));
  const repo = await repositoryOf(options);
  if (repo.dryRun) throw new BackupError('EPARAM', `repository ${repo.location} was opened with dryRun, which previews removals (forget, prune); a backup writes`, { path: repo.location });
  const warnings = new Warnings(options.strict ?? false);
  const lock = await lockName(repo, name, {
    operation: `backup of ${root}`,
    timeoutMs: options.lockTimeout,
    signal: options.signal,
    onWarning: (w) => warnings.add(w),
  });
  let job: BackupJob | undefined;
  let failure: unknown;
  try {
    const catalog = await Catalog.open(repo, name, true);
    const resumed = await catalog.resumePending((w) => warnings.add(w), options.signal);
    await catalog.cleanStrays();
    const parent = incremental ? await catalog.latestIntact((w) => warnings.add(w)) : undefined;
    const id = catalog.nextId();
    // A run that loses its lock (removed by `ibt unlock`, or not refreshed in time) stops.
    const signal = options.signal ? AbortSignal.any([options.signal, lock.signal]) : lock.signal;
    job = new BackupJob(tree, repo.cacheRoot, catalog, id, parent, warnings, lock, { ...options, signal });
    const state = await job.run();
    await catalog.evictData([...resumed, id]);
    return {
      name,
      id,
      kind: state.kind,
      ...(state.parent ? { parent: state.parent.id } : {}),
      createdAt: new Date(state.createdAt),
      workDir: repo.cacheRoot,
      repository: repo.location,
      ...(resumed.length > 0 ? { resumed } : {}),
      files: job.reportFiles(),
      stats: state.stats,
      warnings: warnings.list,
    };
  } catch (e) {
    // A lost lock aborts the run through its signal: the reason (ELOCKED, naming the lock) is the error.
    failure = lock.signal.aborted && !options.signal?.aborted ? lock.signal.reason : asAbort(e, root);
    throw failure;
  } finally {
    await job?.cleanup(failure);
    await lock.release().catch((e: unknown) => {
      // The run's own outcome is what the caller must see; a lock object left behind goes stale.
      if (failure === undefined) warnings.list.push({ code: 'EUNLOCK', path: `${name}/locks`, message: `${(e as Error).message}; it goes stale in 30 minutes, or \`ibt unlock\` removes it` });
    });
  }
}

/** A backup's warnings; with `strict`, the first one is an `ESTRICT` error instead. */
class Warnings {
  readonly list: BackupWarning[] = [];

  constructor(private readonly strict: boolean) {}

  add(w: BackupWarning): void {
    if (this.strict) throw new BackupError('ESTRICT', `${w.path}: ${w.message} (${w.code})`, { path: w.path });
    this.list.push(w);
  }
}

/** What a missing or damaged SigVault can throw: the files it served are then stored whole. */
const VAULT_PROBLEMS = new Set(['EMISSING', 'ECORRUPT', 'ETRUNCATED', 'EBADMAGIC']);

interface DeltaJob {
  path: string;
  prev: FileEntry;
}

/**
 * Files up to this size are read whole, ahead of their turn (see `read-ahead.ts`), by the
 * tree workers with their signature; larger ones are signed by the engine's workers
 * (`PARALLEL_MIN_BYTES`, the same size), so the main thread, a backup's bottleneck, signs
 * nothing. At 1 MiB, the 1-16 MiB files of the 50k-file benchmark cost the main thread 2.4 s
 * of its 7.9 s of CPU.
 */
const INLINE_MAX = 16 << 20;
/** Reads in flight ahead of the archive writers, and the bytes they may hold. */
const AHEAD_FILES = 64;
const AHEAD_BYTES = 16 << 20;

/**
 * When the tree workers are worth their start-up (`tree/tree-workers.ts`): once the walk has
 * met this many entries, or the backup this many small files to store.
 */
const WORKERS_AFTER_ENTRIES = 2000;
const WORKERS_AFTER_FILES = 256;

class BackupJob {
  private readonly compression: Compression;
  private readonly outputs: ArtifactSet;
  private readonly prevEntries = new Map<string, StateEntry>();
  private readonly entries: StateEntry[] = [];
  private readonly byVault = new Map<string, DeltaJob[]>();
  private readonly stats: BackupStats = {
    scanned: 0,
    created: 0,
    modified: 0,
    deleted: 0,
    unchanged: 0,
    storedWhole: 0,
    storedDelta: 0,
    bytesRead: 0,
    bytesWritten: 0,
    durationMs: 0,
  };
  private strong?: StrongHasher;
  private committed = false;
  /** The state is written with a cache: what is written can be committed by the next run. */
  private resumable = false;
  /** Stops this backup's uploads when it fails: none may go on after the run (and its lock) ended. */
  private readonly uploadStop = new AbortController();
  private readonly uploadSignal: AbortSignal;
  /** Small files read so far; the tree workers and their reader, once the tree proves big. */
  private smallReads = 0;
  private workers?: TreeWorkers | null;
  private batchReader?: BatchReader;
  private stateFile?: ReportFile;
  private readonly started = performance.now();

  constructor(
    private readonly tree: DirTree,
    private readonly workDir: string,
    private readonly catalog: Catalog,
    private readonly id: string,
    private readonly parentRead: ReadState | undefined,
    private readonly warnings: Warnings,
    private readonly lock: HeldLock,
    private readonly options: BackupOptions,
  ) {
    this.compression = chooseCompression(options.compression);
    this.uploadSignal = options.signal ? AbortSignal.any([options.signal, this.uploadStop.signal]) : this.uploadStop.signal;
    const live: LiveUploads | undefined = catalog.repo.direct
      ? undefined
      : (role, file) => new LiveUpload(catalog.repo.streaming, catalog.key(file), catalog.saveOptions(role, this.uploadSignal));
    this.outputs = new ArtifactSet(catalog.dir, id, this.compression, live);
    for (const e of parentRead?.state.entries ?? []) this.prevEntries.set(e.path, e);
  }

  private get parent(): BackupState | undefined {
    return this.parentRead?.state;
  }

  private warn(w: TreeWarning): void {
    this.warnings.add(w);
  }

  private progress(phase: 'scan' | 'store' | 'delta', path: string): void {
    this.options.onProgress?.({ phase, path, entries: this.entries.length, bytes: this.stats.bytesRead });
  }

  async run(): Promise<BackupState> {
    const signal = this.options.signal;
    const selection = await compileSelection(
      this.tree,
      { exclude: this.options.exclude, excludeFile: this.options.excludeFile, include: this.options.include },
      (w) => this.warn(w),
    );
    this.strong = await createStrongHasher('blake2');
    const skipDirs = await identities([this.workDir, this.catalog.dir]);
    const ahead = new ReadAhead(AHEAD_FILES, AHEAD_BYTES);
    try {
      const workers = (): TreeWorkers | undefined => (this.stats.scanned >= WORKERS_AFTER_ENTRIES ? this.startWorkers() : undefined);
      for await (const { path, meta } of walkTree(this.tree, selection, (w) => this.warn(w), { signal, skipDirs, workers })) {
        signal?.throwIfAborted();
        this.stats.scanned++;
        await this.visit(ahead, path, meta);
        this.progress('scan', path);
      }
      await ahead.drain();
    } finally {
      await ahead.settle();
    }
    for (const [vaultId, jobs] of this.byVault) await this.runDeltas(vaultId, jobs);
    const seen = new Set(this.entries.map((e) => e.path));
    for (const p of this.prevEntries.keys()) if (!seen.has(p)) this.stats.deleted++;
    signal?.throwIfAborted();
    await this.outputs.finish();
    return this.commit();
  }

  /**
   * Act on one walked entry. What writes to the archives, or may warn, is queued on `ahead`
   * so that it happens in walk order; a small file to store is read now, ahead of its turn.
   */
  private async visit(ahead: ReadAhead, path: string, meta: EntryMeta): Promise<void> {
    const prev = this.prevEntries.get(path);
    const step = planStep(meta, prev, { checksum: this.options.checksum ?? false });
    switch (step.action) {
      case 'record':
        this.stats[step.tally]++;
        // An unchanged directory or symlink keeps its record object (see `carriedRecord`).
        this.entries.push(!step.archived && prev ? prev : meta.type === 'dir' ? dirRecord(path, meta) : symlinkRecord(path, meta));
        if (step.archived) await ahead.then(() => this.outputs.writer('files').add(tarHeader(path, meta)));
        return;
      case 'carry':
        this.stats[step.tally]++;
        this.entries.push(carriedRecord(path, meta, step.prev, false));
        return;
      case 'delta':
        this.queueDelta(step.vault, path, step.prev);
        return;
      case 'recheck':
        await ahead.then(async () => {
          if (await this.sameContent(path, step.prev)) return;
          if (step.vault !== undefined) this.queueDelta(step.vault, path, step.prev);
          else await this.storeWhole(path, step.prev);
        });
        return;
      case 'store':
        if (meta.size > INLINE_MAX) return ahead.then(() => this.storeWhole(path, step.prev));
        return ahead.add(
          meta.size,
          () => this.readSmall(path, meta.size),
          (r) => this.storeSmall(path, step.prev, r),
        );
    }
  }

  /** Delta-encode `path` against the SigVault of backup `vault`, once the walk is done. */
  private queueDelta(vault: string, path: string, prev: FileEntry): void {
    const jobs = this.byVault.get(vault) ?? [];
    jobs.push({ path, prev });
    this.byVault.set(vault, jobs);
  }

  /** Read a small file whole (the part of storing it that can run ahead of its turn). */
  private async readSmall(path: string, size: number): Promise<BatchOutcome> {
    if (++this.smallReads >= WORKERS_AFTER_FILES && !this.batchReader) {
      const workers = this.startWorkers();
      if (workers) this.batchReader = new BatchReader(this.tree, workers, INLINE_MAX);
    }
    if (this.batchReader) return this.batchReader.read(path, size, size >= SMALL_FILE ? signatureParamsFor(size) : undefined);
    const o = await openStable(this.tree, path);
    if (!o.read) return o;
    const read = o.read;
    try {
      if (read.meta.size > INLINE_MAX) return { grown: true };
      const chunks: Uint8Array[] = [];
      for await (const chunk of read.chunks) chunks.push(chunk);
      const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      const hasher = await createContentHasher();
      hasher.update(bytes);
      return { read: { meta: read.meta, bytes, hash: hasher.digest(), changed: read.changed, racy: read.racy } };
    } finally {
      await read.close();
    }
  }

  /** The tree workers, started on first call; undefined where there are none. */
  private startWorkers(): TreeWorkers | undefined {
    if (this.workers === undefined) this.workers = TreeWorkers.start() ?? null;
    return this.workers ?? undefined;
  }

  /** Store a file read by {@link readSmall}: in its turn, so the archives keep walk order. */
  private async storeSmall(path: string, prev: FileEntry | undefined, r: BatchOutcome): Promise<void> {
    if ('grown' in r) return this.storeWhole(path, prev);
    if (!r.read) {
      this.refused(r, prev);
      return;
    }
    const { meta, bytes } = r.read;
    this.options.signal?.throwIfAborted();
    this.stats.bytesRead += bytes.length;
    await this.outputs.writer('files').add(tarHeader(path, meta), bytes);
    const params = meta.size >= SMALL_FILE ? signatureParamsFor(meta.size) : undefined;
    if (params) {
      const body = r.read.signature ?? signedBody(params, this.strong!, bytes);
      await this.outputs.writer('sigvault').add({ name: path, type: 'file', mode: 0o644, mtime: meta.mtime, size: body.length }, body);
    }
    this.count(prev, false);
    this.stats.storedWhole++;
    this.entries.push(this.stored(path, r.read, { hash: r.read.hash, content: [this.id] }, params !== undefined));
    this.progress('store', path);
  }

  private count(prev: StateEntry | undefined, unchanged: boolean): void {
    this.stats[tallyOf(prev, unchanged)]++;
  }

  /**
   * Open a file for reading, or warn and return undefined when it cannot be. A file that
   * cannot be read (permissions, I/O) keeps its previous version; one that vanished or is no
   * longer a regular file does not.
   */
  private async open(path: string, prev: FileEntry | undefined): Promise<StableRead | undefined> {
    const o = await openStable(this.tree, path);
    if (o.read) return o.read;
    this.refused(o, prev);
    return undefined;
  }

  /** Warn about a file that could not be opened, keeping its previous version when it still exists. */
  private refused(o: Refusal, prev: FileEntry | undefined): void {
    const keep = o.keepPrevious && prev !== undefined;
    this.warn(keep ? { ...o.warning, message: `${o.warning.message}; its previous version is kept` } : o.warning);
    if (keep) this.entries.push(prev);
  }

  /**
   * Checksum mode: read the file and carry its record over when its content hash is the
   * recorded one. False when it must be stored (its content differs, or it moved under the
   * read); true when it was handled (carried over, or unreadable and warned about).
   */
  private async sameContent(path: string, prev: FileEntry): Promise<boolean> {
    const read = await this.open(path, prev);
    if (!read) return true;
    try {
      const h = await createContentHasher();
      for await (const chunk of read.chunks) {
        this.options.signal?.throwIfAborted();
        h.update(chunk);
        this.stats.bytesRead += chunk.length;
      }
      if (read.changed || h.digest() !== prev.hash || read.meta.size !== prev.size) return false;
      this.count(prev, !metaDiffers(prev, read.meta));
      this.entries.push(carriedRecord(path, read.meta, prev, read.racy));
      return true;
    } finally {
      await read.close();
    }
  }

  /**
   * Store `path` whole in the files archive, with its signature when it is large enough (a
   * large file's signature computed by the engine's workers while the file is read).
   */
  private async storeWhole(path: string, prev: FileEntry | undefined): Promise<void> {
    const read = await this.open(path, prev);
    if (!read) return;
    const meta = read.meta;
    const hasher = await createContentHasher();
    const params = meta.size >= SMALL_FILE ? signatureParamsFor(meta.size) : undefined;
    const sigSpool = new Spool(this.catalog.dir);
    const side = params && meta.size >= PARALLEL_MIN_BYTES ? sidePipeline((input) => parallelSignature(input, signatureOptionsFor(meta.size)), sigSpool) : undefined;
    const sig = params && !side ? new SignatureEncoder(params, this.strong!) : undefined;
    try {
      if (sig) await sigSpool.write(signatureHeader(params!));
      const signal = this.options.signal;
      const stats = this.stats;
      const body = async function* (): AsyncGenerator<Uint8Array> {
        for await (const chunk of read.chunks) {
          signal?.throwIfAborted();
          hasher.update(chunk);
          stats.bytesRead += chunk.length;
          if (sig) await sigSpool.write(sig.push(chunk));
          if (side) await side.channel.push(chunk);
          yield chunk;
        }
        if (sig) await sigSpool.write(sig.end());
        side?.channel.end();
      };
      await this.outputs.writer('files').add(tarHeader(path, meta), body());
      await side?.done;
      if (params) await this.addSignature(path, meta, sigSpool);
      this.count(prev, false);
      this.stats.storedWhole++;
      this.entries.push(this.stored(path, read, { hash: hasher.digest(), content: [this.id] }, params !== undefined));
      this.progress('store', path);
    } finally {
      side?.channel.fail(new Error('the read ended'));
      await side?.done.catch(() => undefined);
      await read.close();
      await sigSpool.dispose();
    }
  }

  private async addSignature(path: string, meta: EntryMeta, spool: Spool): Promise<void> {
    await this.outputs.writer('sigvault').add({ name: path, type: 'file', mode: 0o644, mtime: meta.mtime, size: spool.size }, spool.chunks());
  }

  /**
   * The record of a file whose bytes were just stored, as they were read. A read that moved
   * under the reader is warned about; one that may have (see `tree/stable-read.ts`, racy) is
   * only marked: either way the next backup reads the file again.
   */
  private stored(path: string, read: StableRead | WholeRead, content: Content, hasSig: boolean): FileEntry {
    if (read.changed) this.warn({ code: 'ECHANGED', path, message: 'changed while it was read; the bytes read were stored and the next backup reads it again' });
    const e = fileRecord(path, read.meta, content);
    if (hasSig) e.sig = this.id;
    if (read.changed || read.racy) e.unstable = true;
    return e;
  }

  /**
   * Delta-encode the files whose signature is in the vault of backup `vaultId`. Signatures
   * only save space: when the vault is missing or damaged, the files it served are stored
   * whole, with a warning, and the chain goes on.
   */
  private async runDeltas(vaultId: string, jobs: DeltaJob[]): Promise<void> {
    const left = new Map(jobs.map((j) => [j.path, j]));
    try {
      const expect = this.parent!.chain.find((l) => l.id === vaultId)?.artifacts.find((a) => a.role === 'sigvault');
      if (!expect) throw new BackupError('EMISSING', `backup ${vaultId} has no SigVault`);
      const vaultPath = await this.catalog.fetch(expect.file, expect);
      for await (const { path, signature } of readSignatures(vaultPath, new Set(left.keys()), expect)) {
        const j = left.get(path)!;
        left.delete(path);
        await this.deltaOne(j, signature);
      }
    } catch (e) {
      if (!isBackupError(e) || !VAULT_PROBLEMS.has(e.code)) throw e;
      const code = e.code === 'EMISSING' ? 'EMISSING' : 'ECORRUPT';
      for (const j of left.values()) {
        this.warn({ code, path: j.path, message: `its signature is unavailable (${e.message}); stored whole` });
        await this.storeWhole(j.path, j.prev);
      }
    }
  }

  private async deltaOne({ path, prev }: DeltaJob, basis: Signature): Promise<void> {
    const read = await this.open(path, prev);
    if (!read) return;
    const meta = read.meta;
    const params = signatureParamsFor(meta.size);
    const hasher = await createContentHasher();
    const sigSpool = new Spool(this.catalog.dir);
    const deltaSpool = new Spool(this.catalog.dir);
    // The new signature copies the old records of the blocks the delta matched (see
    // `rsync/matched-signature.ts`), so spreading a large file's delta over the cores costs
    // no hashing twice; a small one is encoded here, where the threads would not pay.
    const sig = new MatchedSignature(params, basis, this.strong!);
    const observe = (pos: number, block: number, len: number): void => sig.match(pos, block, len);
    let scanned = 0;
    const scanner = meta.size >= PARALLEL_MIN_BYTES ? sessionScanner(basis, this.options.engine) : undefined;
    const side = scanner ? sidePipeline((input) => deltaSession(basis, input, scanner, { observe, passed: (t) => (scanned = t) }), deltaSpool) : undefined;
    const delta = side ? undefined : new DeltaEncoder(basis, this.strong!, {}, observe);
    try {
      await sigSpool.write(signatureHeader(params));
      for await (const chunk of read.chunks) {
        this.options.signal?.throwIfAborted();
        hasher.update(chunk);
        this.stats.bytesRead += chunk.length;
        if (delta) {
          for (const d of delta.push(chunk)) await deltaSpool.write(d);
          scanned = delta.scanned;
        } else {
          await side!.channel.push(chunk);
        }
        await sigSpool.write(sig.push(chunk, scanned));
      }
      if (delta) for (const d of delta.end()) await deltaSpool.write(d);
      side?.channel.end();
      await side?.done;
      await sigSpool.write(sig.end());
      const hash = hasher.digest();
      if (hash === prev.hash && !read.changed && meta.size === prev.size) {
        this.count(prev, !metaDiffers(prev, meta));
        this.entries.push(carriedRecord(path, meta, prev, read.racy));
        return;
      }
      if (deltaSpool.size >= WHOLE_RATIO * meta.size) {
        await read.close();
        await this.storeWhole(path, prev);
        return;
      }
      this.count(prev, false);
      await this.outputs.writer('deltas').add({ name: path, type: 'file', mode: 0o644, mtime: meta.mtime, size: deltaSpool.size }, deltaSpool.chunks());
      await this.addSignature(path, meta, sigSpool);
      this.stats.storedDelta++;
      const steps = [...(prev.steps ?? []), { size: prev.size, hash: prev.hash }];
      this.entries.push(this.stored(path, read, { hash, content: [...prev.content, this.id], steps }, true));
      this.progress('delta', path);
    } finally {
      side?.channel.fail(new Error('the read ended'));
      await side?.done.catch(() => undefined);
      await read.close();
      await sigSpool.dispose();
      await deltaSpool.dispose();
    }
  }

  /**
   * Store the archives, write the state, commit. With a cache, the archives are uploaded
   * while the state is written (for a million entries, seconds of work); the state is stored
   * only once every archive is, and only while this run still holds the name's lock.
   */
  private async commit(): Promise<BackupState> {
    this.options.onProgress?.({ phase: 'commit', entries: this.entries.length, bytes: this.stats.bytesRead });
    const signal = this.options.signal;
    // An archive its upload stored as it was written is only checked (reuse: its size); the
    // others are uploaded from their file. All of them settle before this run goes on, stored
    // or not: the first failure is reported once none is still running.
    const uploads = this.outputs.uploadsEnded().then(async () => {
      const stored = await Promise.allSettled(this.outputs.done.map((a) => this.catalog.store(a, { signal: this.uploadSignal, reuse: this.outputs.uploaded.has(a.role) })));
      const failed = stored.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    });
    uploads.catch(() => undefined);
    try {
      return await this.writeAndCommit(uploads, signal);
    } catch (e) {
      this.uploadStop.abort();
      await uploads.catch(() => undefined);
      throw e;
    }
  }

  /** The rest of {@link BackupJob.commit}: the state, then, once `uploads` settle, the commit. */
  private async writeAndCommit(uploads: Promise<void>, signal: AbortSignal | undefined): Promise<BackupState> {
    const dir = await this.catalog.stateDir();
    const { state, file } = await writeState({
      dir,
      name: this.catalog.name,
      id: this.id,
      parent: this.parentRead,
      source: this.tree.root.path,
      compression: this.compression,
      checksum: this.options.checksum ?? false,
      artifacts: this.outputs.done,
      stats: this.stats,
      warnings: this.warnings.list,
      entries: this.entries,
      started: this.started,
    });
    this.stateFile = file;
    if (this.catalog.repo.direct) {
      this.committed = true;
      await syncDir(dir, this.id);
      await this.catalog.commit(this.id, this.parent?.id);
    } else {
      this.resumable = true;
      await uploads;
      signal?.throwIfAborted();
      await this.lock.assertHeld();
      await this.catalog.commit(this.id, this.parent?.id, signal);
      this.committed = true;
      this.stateFile = { ...file, path: `${this.catalog.dir}/${basename(file.path)}` };
    }
    return state;
  }

  /** The report's artifact list: every archive, then the state. */
  reportFiles(): ReportFile[] {
    const files: ReportFile[] = this.outputs.done.map((a) => ({ path: `${this.catalog.dir}/${a.file}`, role: a.role, size: a.size, hash: a.hash }));
    files.push(this.stateFile!);
    return files;
  }

  /**
   * Stop the workers; unless the backup committed, stop its uploads and remove what it wrote.
   * A backup that failed after its state was written with a cache (an upload or the commit
   * failed: the network went away) keeps its archives and pending state, which the next run
   * of the name uploads and commits; an aborted or conflicting one leaves nothing, in the
   * cache or in storage.
   */
  async cleanup(error?: unknown): Promise<void> {
    this.batchReader?.close();
    this.workers?.close();
    if (this.committed) return;
    this.uploadStop.abort();
    const keep = this.resumable && error !== undefined && !(isBackupError(error) && (error.code === 'EABORTED' || error.code === 'ECONFLICT')) && (error as Error).name !== 'AbortError';
    if (keep) return;
    await this.outputs.abort();
    if (this.stateFile) await rm(this.stateFile.path, { force: true }).catch(() => undefined);
    // What its uploads stored already: strays the next run would remove, removed now.
    if (!this.catalog.repo.direct) {
      for (const f of this.outputs.started) await this.catalog.repo.storage.remove(this.catalog.key(f)).catch(() => undefined);
    }
  }

}

/**
 * An engine pipeline fed through a channel, its output written to `spool`: `done` settles
 * when the output is complete. A failing pipeline fails the channel, so the reader pushing
 * into it stops instead of waiting for room forever.
 */
function sidePipeline(make: (input: AsyncIterable<Uint8Array>) => AsyncIterable<Uint8Array>, spool: Spool): { channel: ChunkChannel; done: Promise<void> } {
  const channel = new ChunkChannel();
  const done = (async () => {
    for await (const out of make(channel)) await spool.write(out);
  })();
  done.catch((e: unknown) => channel.fail(e));
  return { channel, done };
}

/** The signature file of `bytes`, as a SigVault entry holds it. */
function signedBody(params: SignatureParams, strong: StrongHasher, bytes: Uint8Array): Uint8Array {
  const sig = new SignatureEncoder(params, strong);
  return Buffer.concat([signatureHeader(params), sig.push(bytes), sig.end()]);
}

/** The device and inode of each directory that exists: what the walk leaves out. */
async function identities(paths: string[]): Promise<DirIdentity[]> {
  const out: DirIdentity[] = [];
  for (const p of paths) {
    const st = await stat(p, { bigint: true }).catch(() => undefined);
    if (st?.isDirectory()) out.push({ dev: st.dev, ino: st.ino });
  }
  return out;
}

