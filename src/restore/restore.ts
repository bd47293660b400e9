/**
 * Point-in-time restore: the job that turns a plan (`plan.ts`) into a tree in the target.
 *
 * Directories are created first, each after its parent; then each files archive of the
 * chain is read once, in chain order, extracting the files whose record starts there; then
 * each deltas archive is read once, in chain order, patching the files that need it; then
 * symlinks; then the directories get their attributes, deepest first, once everything in
 * them is done. Every version of a file that is written is checked against the size and
 * hash the state records for it (`version-writer.ts`), written to a temporary name beside it
 * (`target.ts`), and the last one is renamed into place only once it matches, with its
 * owner, mode and times already set. So a damaged or hostile artifact can make a restore
 * fail (naming the artifact), but never leaves a wrong or temporary file behind, and even a
 * restore killed mid-way leaves no partial file at a final name.
 *
 * A file with two deltas or more is not written once per version: replaying ten deltas of a
 * 512 MiB disk image wrote it eleven times (a restore after ten incrementals took 1.5× the
 * restore of the full). Its deltas are composed instead (`rsync/compose.ts`): each is checked
 * and spooled beside the file as its archive is read (`delta-spool.ts`), and after the last
 * one the file is written once, from its first version and the spooled literal data; or,
 * when the deltas only overwrite ranges and change the length (a disk image, a log), only
 * those ranges are written, over the kept first version (`in-place.ts`). The trade-off: the
 * versions in between are never written, so their hashes cannot be checked. Their sizes
 * still are, each in the pass of its own archive (every command is checked against the sizes
 * the state records before a byte is written: a delta that would expand past its version's
 * size fails there, naming its archive), and the last version's size and hash are checked as
 * every file's are. When that last hash does not match, the deltas are replayed one at a
 * time, each version written and checked, so the error names the version and the archive at
 * fault, as before. A wrong hash recorded for a version in between, with deltas that give the
 * right last version, is no longer an error: the file is right. Deltas that copy one range
 * many times make a composition grow (see `compose.ts`); past {@link MAX_PIECES} pieces the
 * version composed so far is written and composition starts again from it.
 *
 * Speed: a tree of small files costs round trips through libuv's thread pool, not bytes. So
 * each step runs `concurrency` items at a time (default 16): directories (a child after its
 * parent), files (a version up to 1 MiB is read whole into memory, checked, and written in
 * one call by one of the writers while the archive is read on; a larger one streams
 * through, one at a time: see `archive-pass.ts`), deltas whose basis, delta and output are
 * each that small, symlinks, and the directories' attributes (one depth at a time). The
 * writers hold at most 64 MiB; a stream, one chunk. Failures are ordered by the plan, not by
 * the clock: the tree a restore writes and the error a damaged archive gives do not depend
 * on timing (see `writer-pool.ts` for what may vary after a failure). On 20,000 files of
 * 100 B to 16 KiB (`bench/restore-many.mjs`, two cores): 2,500 files/s before on ext4, 4,450
 * after; 3,950 and 6,700 on tmpfs; 64 to 68 system calls per file before, 31 to 36 after
 * (the file's own calls are 7, the rest the thread pool's futex, epoll and eventfd traffic).
 * With 256 files or more, the final versions of small files go to the tree workers instead
 * (`batch-writes.ts`): the same seven calls, made synchronously by worker threads a directory
 * at a time, so the round trips go: on tmpfs, 20,000 files in 3.1 s instead of 4.3 (median of
 * 3, load 4), with 8,700 voluntary context switches instead of 207,000.
 *
 * Two savings were measured and left out:
 * - Creating a file at its final name (O_EXCL, with a temporary name only where something
 *   is in the way) saves the rename: one call of seven, one round trip of six, and 0 to 8 %
 *   of the time of a 10,000- or 20,000-file restore (tmpfs, ext4; within this machine's
 *   noise). For that, a restore killed mid-way would leave up to `concurrency` files at
 *   their final names that look restored and are empty or cut short. Not worth it; and what
 *   costs is the round trip, not the rename, which a batched native call would make nearly
 *   free.
 * - Setting owner and mode synchronously on the descriptor (as the addon's futimens is)
 *   saves two round trips and as little time (the same runs), and would hold the event loop
 *   whenever the call waits: on a full ext4 journal, or on NFS, where a setattr first writes
 *   the file's dirty pages back.
 */
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parentOf } from '../archive/index.js';
import { selectEngine } from '../engine/select.js';
import type { Engine } from '../engine/engine.js';
import { asAbort, BackupError, isBackupError } from '../errors.js';
import { Catalog, checkName, repositoryOf } from '../catalog/index.js';
import { thawNeeded } from './thaw.js';
import { artifactFile, parseAt, type ArtifactRole, type BackupState, type FileEntry } from '../state/index.js';
import { applyComposition, changedRanges, checkDelta, DeltaComposer, type ByteSource, type ChangedRange, type PatchBasis } from '../rsync/index.js';
import type { RestoreOptions, RestoreReport } from './options.js';
import { readWanted, type ArchiveToRead, type EntryBody } from './archive-pass.js';
import { DeltaSpools, spooledDelta } from './delta-spool.js';
import { measureFile, setLength, writeOver, type Journal } from './in-place.js';
import { composes, RestorePlan, versionAt, versionFrom, type Version, type Wanted } from './plan.js';
import { RestoreTarget, type KeptFile, type NewFile } from './target.js';
import { collectVersion, holdsHoles, measureVersion, writeBytes, writeVersion, type WrittenVersion } from './version-writer.js';
import { BatchWriter } from './batch-writes.js';
import { TreeWorkers } from '../tree/index.js';
import { forEachConcurrently } from './writer-pool.js';

/** Versions (and deltas, and their bases) up to this size are held whole in memory and written beside others. */
const IN_MEMORY_MAX = 1 << 20;
/** Files a restore must have for the tree workers to pay for their start-up (`batch-writes.ts`). */
const WORKERS_AFTER_FILES = 256;
/** Files, directories or symlinks in flight at the same time, unless `concurrency` says otherwise. */
const DEFAULT_CONCURRENCY = 16;
/** Pieces a composition of deltas holds at most: 20 bytes each, so about 1.3 MiB, or twice that while it grows. */
const MAX_PIECES = 1 << 16;
/** What writing a composed version holds besides its last delta: an output chunk and the read windows. */
const COMPOSED_WRITE_BYTES = 3 << 20;

/**
 * Restore backup `name` into `target`: the latest backup, or the last one at or before
 * `options.at` (a backup id or a Date). `target` is created when missing, and followed when
 * it is a symlink.
 *
 * @throws {@link BackupError} `EPARAM` (a `concurrency` that is not a positive integer),
 *   `ENOTFOUND` (no such backup or point), `ENOTEMPTY` (target not a directory, or not empty
 *   without `overwrite`), `EUNSAFEPATH` (a directory of the target was a symlink or a file
 *   when the restore went through it), `EMISSING`/`ETRUNCATED`/`ECORRUPT` naming the
 *   artifact, `EHASH` naming the file whose restored content does not match the state,
 *   `EIO`/`ENOSPC` naming the file, `EABORTED`.
 */
export async function restoreBackup(name: string, target: string, options: RestoreOptions = {}): Promise<RestoreReport> {
  const started = performance.now();
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new BackupError('EPARAM', `concurrency must be a positive integer (1: one file at a time), got ${concurrency}`);
  }
  const at = parseAt(options.at);
  const catalog = await Catalog.open(await repositoryOf(options), checkName(name));
  const state = await catalog.resolve(at);
  const plan = new RestorePlan(state);
  const { bytesThawed } = await thawNeeded(catalog, plan.archives(), options.thaw, options.signal).catch((e: unknown) => {
    throw asAbort(e, catalog.repo.location);
  });
  const engine = selectEngine(options.engine, 'patch');
  // The engine that patches also sets times: native through utimensat (exact to the ns), the
  // TypeScript engine through node's calls (exact to the µs), so `engine: 'js'` runs no native code.
  const root = await RestoreTarget.open(resolve(target), { overwrite: options.overwrite ?? false, times: { native: engine.name === 'native' } });
  // With a cache, the deltas archives this restore fetches go to a folder of its own, removed
  // when it ends: a restore never uses, nor removes, a data archive another run is reading.
  const downloads = catalog.repo.direct ? undefined : await catalog.privateDir('restore');
  const job = new RestoreJob(catalog, plan, root, engine, concurrency, options, downloads);
  try {
    await job.run();
  } catch (e) {
    throw asAbort(e, root.path);
  } finally {
    await root.close();
    if (downloads) await rm(downloads, { recursive: true, force: true });
  }
  const stats = { ...job.stats, bytesFetched: catalog.fetched, bytesThawed, durationMs: Math.round(performance.now() - started) };
  return { name, id: state.id, target: root.path, repository: catalog.repo.location, stats };
}

/** The deltas of a file being composed: delta `k` gives version `k`. */
interface ComposedDeltas {
  /** Delta `k`, read at random. */
  at: (k: number) => PatchBasis;
  /** Delta `k`, read from its start. */
  bytes: (k: number) => ByteSource;
  /** Where a write over a kept version saves what it replaces. */
  journal: Journal;
}

/** One restore of one state into one target. */
class RestoreJob {
  readonly stats = { files: 0, directories: 0, symlinks: 0, bytesWritten: 0, deltasApplied: 0 };
  private readonly state: BackupState;
  private readonly spools: DeltaSpools;
  /** Local paths of the deltas archives read so far, by backup id. */
  private readonly deltaArchives = new Map<string, string>();
  /** The tree workers' writer of small files, for a restore with enough of them. */
  private batch?: BatchWriter;

  constructor(
    private readonly catalog: Catalog,
    private readonly plan: RestorePlan,
    private readonly target: RestoreTarget,
    private readonly engine: Engine,
    private readonly concurrency: number,
    private readonly options: RestoreOptions,
    /** Where deltas archives are fetched to (with a cache). */
    private readonly downloads: string | undefined,
  ) {
    this.state = plan.state;
    this.spools = new DeltaSpools(target);
  }

  async run(): Promise<void> {
    let files = 0;
    for (const wanted of this.plan.whole.values()) files += wanted.size;
    const workers = files >= WORKERS_AFTER_FILES ? TreeWorkers.start() : undefined;
    if (workers) this.batch = new BatchWriter(this.target, workers);
    try {
      await this.runSteps();
    } finally {
      workers?.close();
    }
  }

  private async runSteps(): Promise<void> {
    const { signal } = this.options;
    const made = new Map<string, Promise<void>>();
    await forEachConcurrently(this.plan.dirs, this.concurrency, signal, async (d) => {
      // Parents come first in the plan, so a parent's mkdir is always under way.
      const making = (made.get(parentOf(d.path)) ?? Promise.resolve()).then(() => this.target.makeDir(d.path));
      made.set(d.path, making);
      await making;
      this.stats.directories++;
    });
    // With a cache, each deltas archive is fetched while the pass before it runs: the
    // download of the next overlaps the work on this one.
    const patching = this.state.chain.filter((l) => this.plan.patched.has(l.id)).map((l) => l.id);
    const fetched = new Map<string, Promise<ArchiveToRead>>();
    const prefetch = (i: number): void => {
      const id = patching[i];
      if (id === undefined || fetched.has(id) || this.catalog.repo.direct) return;
      const p = this.archive(id, 'deltas');
      p.catch(() => undefined);
      fetched.set(id, p);
    };
    prefetch(0);
    try {
      for (const link of this.state.chain) {
        const wanted = this.plan.whole.get(link.id);
        if (wanted) await this.extract(link.id, wanted);
      }
      for (const [i, id] of patching.entries()) {
        prefetch(i);
        const archive = fetched.get(id) ?? this.archive(id, 'deltas');
        prefetch(i + 1);
        await this.patch(id, this.plan.patched.get(id)!, await archive);
      }
    } finally {
      // A failed restore returns only once no download of it is still writing into the cache.
      await Promise.allSettled(fetched.values());
    }
    await forEachConcurrently(this.plan.symlinks, this.concurrency, signal, async (s) => {
      await this.target.makeSymlink(s);
      this.stats.symlinks++;
    });
    for (const level of this.plan.levels) {
      await forEachConcurrently(level, this.concurrency, signal, (d) => this.target.finishDir(d));
    }
  }

  /** Extract from the files archive of backup `id` the first version of each `wanted` file. */
  private async extract(id: string, wanted: Wanted): Promise<void> {
    const archive = await this.archive(id, 'files');
    const options = {
      headerSize: (e: FileEntry): number => versionFrom(e, id).size,
      inMemory: (_e: FileEntry, size: number): number | undefined => (size <= IN_MEMORY_MAX ? size : undefined),
      concurrency: this.concurrency,
      signal: this.options.signal,
    };
    await readWanted(archive, wanted, options, async (e, body) => {
      const version = versionFrom(e, id);
      if (body.bytes) return this.restoreBytes(e, version, body.bytes, archive.path);
      const file = await this.target.create(e.path);
      await this.finish(e, version, file, async () => {
        this.check(e, version, await this.write(e, version, file, body.stream, archive.path), archive.path);
      });
    });
  }

  /**
   * Apply the deltas archive of backup `id` to each `wanted` file's kept version, or spool
   * the delta of a file whose deltas are composed (writing it after its last).
   */
  private async patch(id: string, wanted: Wanted, archive: ArchiveToRead): Promise<void> {
    this.deltaArchives.set(id, archive.path);
    const inMemory = (e: FileEntry, size: number): number | undefined => {
      const output = versionFrom(e, id);
      if (composes(e)) return size <= IN_MEMORY_MAX ? size + (output.final ? COMPOSED_WRITE_BYTES : 0) : undefined;
      const basis = versionAt(e, output.index - 1).size;
      return Math.max(size, output.size, basis) <= IN_MEMORY_MAX ? size + output.size + basis : undefined;
    };
    await readWanted(archive, wanted, { inMemory, concurrency: this.concurrency, signal: this.options.signal }, async (e, delta) => {
      if (composes(e)) return this.spool(e, id, delta, archive.path);
      const version = versionFrom(e, id);
      const basis = await this.target.openKept(e.path);
      try {
        if (delta.bytes) {
          const before = await basis.readAll(versionAt(e, version.index - 1).size);
          const after = await collectVersion(this.engine.patch(before, [delta.bytes]), version.size, () => sizeError(e, version, archive.path));
          await this.restoreBytes(e, version, after, archive.path, basis);
        } else {
          await this.writeFrom(e, basis, this.engine.patch(basis.handle, delta.stream), version, archive.path);
        }
      } finally {
        await basis.close();
      }
      this.stats.deltasApplied++;
    });
  }

  /**
   * Check the delta of backup `id` for `e`, read from `artifact`, against the sizes the state
   * records, and spool it; after the last one, write the file (see the module header).
   */
  private async spool(e: FileEntry, id: string, delta: EntryBody, artifact: string): Promise<void> {
    const version = versionFrom(e, id);
    const bounds = { basisSize: versionAt(e, version.index - 1).size, size: version.size, wrongSize: (got?: number) => sizeError(e, version, artifact, got) };
    const check = (d: ByteSource): Promise<number> => checkDelta(d, bounds);
    if (version.final && delta.bytes) await check(delta.bytes);
    else await this.spools.append(e.path, delta, check);
    if (version.final) await this.writeComposed(e, delta.bytes);
  }

  /**
   * Write the last version of `e` from its first (kept) and its spooled deltas, the last of
   * them `last` when it was read whole rather than spooled; then remove the spool.
   */
  private async writeComposed(e: FileEntry, last: Uint8Array | undefined): Promise<void> {
    const n = e.content.length - 1;
    const spool = await this.spools.open(e.path);
    try {
      const spooled = spool.deltas;
      const end = spooled.length === 0 ? 0 : spooled.at(-1)!.at + spooled.at(-1)!.length;
      await this.writeVersions(e, 0, n, Infinity, {
        at: (k) => (k > spooled.length ? last! : spooledDelta(spool.file, spooled[k - 1]!)),
        bytes: (k) => (k > spooled.length ? last! : spool.file.range(spooled[k - 1]!.at, spooled[k - 1]!.at + spooled[k - 1]!.length)),
        journal: { handle: spool.file.handle, path: this.target.describe(e.path), at: end },
      });
      await spool.file.remove();
      this.spools.forget(e.path);
    } finally {
      await spool.file.close();
    }
    this.stats.deltasApplied += n;
  }

  /**
   * Write version `to` of `e` from its kept version `from`, composing up to `most` deltas at
   * a time (fewer past {@link MAX_PIECES}; a delta with more commands alone is patched).
   * A composition that only overwrites ranges and changes the length is written over the
   * kept version (`in-place.ts`), any other into a new file. A composed version of several
   * deltas that fails its hash check is written again one delta at a time, so that the
   * error names the version and the archive at fault.
   */
  private async writeVersions(e: FileEntry, from: number, to: number, most: number, deltas: ComposedDeltas): Promise<void> {
    for (let b = from; b < to; ) {
      const composer = new DeltaComposer(versionAt(e, b).size, { maxPieces: MAX_PIECES });
      let j = b;
      while (j < to && j - b < most) {
        const version = versionAt(e, j + 1);
        const artifact = this.deltaArchiveOf(e, j + 1);
        const bounds = { size: version.size, wrongSize: (got?: number) => sizeError(e, version, artifact, got) };
        if (!(await composer.add(deltas.bytes(j + 1), bounds, artifact))) break;
        j++;
      }
      const end = Math.max(j, b + 1);
      const version = versionAt(e, end);
      const artifact = Array.from({ length: end - b }, (_, i) => this.deltaArchiveOf(e, b + 1 + i)).join(', ');
      const sources = Array.from({ length: j - b }, (_, i) => deltas.at(b + 1 + i));
      const inPlace = j > b && composer.inPlace && paysInPlace(composer, versionAt(e, b).size);
      const basis = await this.target.openKept(e.path, inPlace);
      try {
        // Without a later replay (one delta), nothing needs saving to take the write back.
        const journal = end - b > 1 ? deltas.journal : undefined;
        if (inPlace) await this.writeOverKept(e, basis, changedRanges(composer, sources), versionAt(e, b).size, version, artifact, journal);
        else {
          const data = j > b ? applyComposition(composer, basis.handle, sources) : this.engine.patch(basis.handle, deltas.bytes(b + 1));
          await this.writeFrom(e, basis, data, version, artifact);
        }
      } catch (err) {
        if (end - b < 2 || !isBackupError(err, 'EHASH')) throw err;
        await this.writeVersions(e, b, end, 1, deltas);
      } finally {
        await basis.close();
      }
      b = end;
    }
  }

  /**
   * Write `ranges` over the kept version `basis` of `e` (`size` bytes), making it `version`,
   * read from `artifact`: checked, then renamed into place (the final version) or kept. On
   * EHASH the basis is restored first when there is a `journal` (see `in-place.ts`).
   */
  private async writeOverKept(e: FileEntry, basis: KeptFile, ranges: AsyncIterable<ChangedRange>, size: number, version: Version, artifact: string, journal?: Journal): Promise<void> {
    const path = this.target.describe(e.path);
    const overwritten = await writeOver(basis.handle, path, ranges, size, journal);
    try {
      this.check(e, version, await measureFile(basis.handle, path, version.size), artifact);
    } catch (err) {
      if (isBackupError(err, 'EHASH')) await overwritten.undo?.();
      throw err;
    }
    await setLength(basis.handle, path, version.size);
    if (version.final) {
      await basis.commit(e);
      this.placed(e);
    }
  }

  /** The local path of the archive that holds delta `k` of `e` (read already). */
  private deltaArchiveOf(e: FileEntry, k: number): string {
    return this.deltaArchives.get(e.content[k]!)!;
  }

  /**
   * Write the streamed `data`, read from `artifact`, as `version` of `e`, replacing the kept
   * earlier version `basis` once it is checked.
   */
  private async writeFrom(e: FileEntry, basis: KeptFile, data: AsyncIterable<Uint8Array>, version: Version, artifact: string): Promise<void> {
    const file = await this.target.create(e.path);
    await this.finish(e, version, file, async () => {
      this.check(e, version, await this.write(e, version, file, data, artifact), artifact);
      await basis.remove();
    });
  }

  /** Write the streamed `data` as `version` of `e` into `file`, cut off past the recorded size. */
  private write(e: FileEntry, version: Version, file: NewFile, data: AsyncIterable<Uint8Array>, artifact: string): Promise<WrittenVersion> {
    return writeVersion(file.handle, file.path, data, version.size, () => sizeError(e, version, artifact));
  }

  /**
   * Check `bytes`, read from `artifact`, against `version` of `e`, then write them as that
   * version (replacing the kept earlier version `basis`, if any): nothing is created for a
   * version that does not match.
   */
  private async restoreBytes(e: FileEntry, version: Version, bytes: Uint8Array, artifact: string, basis?: KeptFile): Promise<void> {
    this.check(e, version, await measureVersion(bytes), artifact);
    if (this.batch && version.final && !basis && !holdsHoles(bytes) && (await this.batch.write(e, bytes))) {
      this.placed(e);
      return;
    }
    const file = await this.target.create(e.path);
    await this.finish(e, version, file, async () => {
      await writeBytes(file.handle, file.path, bytes);
      await basis?.remove();
    });
  }

  /** `ECORRUPT` naming `artifact` or `EHASH` naming `e` unless `written` is `version`. */
  private check(e: FileEntry, version: Version, written: WrittenVersion, artifact: string): void {
    if (written.size !== version.size) throw sizeError(e, version, artifact, written.size);
    if (written.hash !== version.hash) {
      const which = version.final ? 'its content hash' : `the content hash of version ${version.index + 1} of ${e.content.length}`;
      throw new BackupError('EHASH', `restored ${JSON.stringify(e.path)} does not match the backup state (${which} differs; read from artifact ${artifact})`, { path: e.path });
    }
  }

  /**
   * Write one version of `e` into `file` with `write` (which checks it), then rename it into
   * place (the final version) or keep it for the next delta; on any failure, remove it.
   */
  private async finish(e: FileEntry, version: Version, file: NewFile, write: () => Promise<void>): Promise<void> {
    try {
      await write();
      if (version.final) await file.commit(e);
      else await file.keep();
    } catch (err) {
      await file.discard();
      throw err;
    }
    if (version.final) this.placed(e);
  }

  /** Count `e`, now in place, and report it. */
  private placed(e: FileEntry): void {
    this.stats.files++;
    this.stats.bytesWritten += e.size;
    this.options.onProgress?.({ phase: 'restore', path: e.path, entries: this.stats.files, bytes: this.stats.bytesWritten });
  }

  /**
   * The `role` archive of backup `id`: in the work directory without a cache; with one, a
   * files archive is streamed from storage as it is read (it is read once, so the download
   * and the restore overlap), and a deltas archive (which may be read again, to name the
   * version at fault) is fetched into this restore's own folder.
   */
  private async archive(id: string, role: ArtifactRole): Promise<ArchiveToRead> {
    const a = this.state.chain.find((l) => l.id === id)?.artifacts.find((x) => x.role === role);
    if (!a) throw new BackupError('EMISSING', `backup state ${this.state.id} names no ${role} archive for backup ${id}`, { path: artifactFile(id, role, this.state.compression) });
    const { catalog, downloads } = this;
    if (downloads === undefined) return { ...a, path: await catalog.fetch(a.file, a) };
    if (role === 'files') return { ...a, path: `${catalog.repo.location}/${catalog.key(a.file)}`, stream: () => catalog.stream(a.file) };
    return { ...a, path: await catalog.fetchInto(a.file, a, downloads) };
  }
}

/**
 * Whether writing the in-place composition `c` over its basis (`size` bytes) costs less than
 * writing it anew (see `in-place.ts`): the version is read back either way (to hash it, or
 * as the basis of the new file); over the basis, the changed bytes are written and those
 * that replace the basis's are also read and saved first, where a new file writes the whole.
 * Taken at half of that, to stay clear of the cases where it barely pays.
 */
function paysInPlace(c: DeltaComposer, size: number): boolean {
  return c.changedBytes() + 2 * c.changedBytes(size) <= c.size / 2;
}

/**
 * `ECORRUPT` naming `artifact`, which gives a version of `e` of another size than the state
 * records: `size` bytes, or (without `size`) more than recorded.
 */
function sizeError(e: FileEntry, version: Version, artifact: string, size?: number): BackupError {
  const got = size === undefined ? `more than ${version.size} bytes` : `${size} bytes`;
  return new BackupError('ECORRUPT', `artifact ${artifact} is corrupt: it gives ${JSON.stringify(e.path)} ${got}, the backup state records ${version.size} (version ${version.index + 1} of ${e.content.length})`, {
    path: artifact,
  });
}
