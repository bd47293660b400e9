/**
 * Point-in-time restore: the job that turns a plan (`plan.ts`) into a tree in the target.
 *
 * Directories are created first; then each files archive of the chain is read once, in
 * chain order, extracting the files whose record starts there; then each deltas archive is
 * read once, in chain order, patching the files that need it; then symlinks; then the
 * directories get their attributes, deepest first. Every version of a file is written to a
 * temporary name beside it (`target.ts`), checked against the size and hash the state
 * records for it (`version-writer.ts`), and the last one is renamed into place only once it
 * matches, with its owner, mode and times already set. So a damaged or hostile artifact can
 * make a restore fail (naming the artifact, at the version that is wrong), but never leaves a
 * wrong or temporary file behind.
 */
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { selectEngine } from '../engine/select.js';
import type { Engine } from '../engine/engine.js';
import { asAbort, BackupError } from '../errors.js';
import { Catalog, checkName, resolveWorkDir } from '../catalog/index.js';
import { artifactFile, parseAt, type ArtifactRole, type BackupState, type FileEntry } from '../state/index.js';
import type { RestoreOptions, RestoreReport } from './options.js';
import { readWanted, type ArchiveToRead } from './archive-pass.js';
import { RestorePlan, versionFrom, type Version, type Wanted } from './plan.js';
import { RestoreTarget, type NewFile } from './target.js';
import { writeVersion, type WrittenVersion } from './version-writer.js';

/**
 * Restore backup `name` into `target`: the latest backup, or the last one at or before
 * `options.at` (a backup id or a Date). `target` is created when missing, and followed when
 * it is a symlink.
 *
 * @throws {@link BackupError} `ENOTFOUND` (no such backup or point), `ENOTEMPTY` (target not
 *   a directory, or not empty without `overwrite`), `EUNSAFEPATH` (a directory of the target
 *   was a symlink or a file when the restore went through it), `EMISSING`/`ETRUNCATED`/
 *   `ECORRUPT` naming the artifact, `EHASH` naming the file whose restored content does not
 *   match the state, `EIO`/`ENOSPC` naming the file, `EABORTED`.
 */
export async function restoreBackup(name: string, target: string, options: RestoreOptions = {}): Promise<RestoreReport> {
  const started = performance.now();
  const at = parseAt(options.at);
  const catalog = await Catalog.open(resolveWorkDir(options.workDir), checkName(name), options.storage);
  const state = await catalog.resolve(at);
  const engine = selectEngine(options.engine, 'patch');
  // The engine that patches also sets times: native through utimensat (exact to the ns), the
  // TypeScript engine through node's calls (exact to the µs), so `engine: 'js'` runs no native code.
  const root = await RestoreTarget.open(resolve(target), { overwrite: options.overwrite ?? false, times: { native: engine.name === 'native' } });
  const job = new RestoreJob(catalog, new RestorePlan(state), root, engine, options);
  try {
    await job.run();
  } catch (e) {
    throw asAbort(e, root.path);
  } finally {
    await root.close();
  }
  return { name, id: state.id, target: root.path, stats: { ...job.stats, durationMs: Math.round(performance.now() - started) } };
}

/** One restore of one state into one target. */
class RestoreJob {
  readonly stats = { files: 0, directories: 0, symlinks: 0, bytesWritten: 0, deltasApplied: 0 };
  private readonly state: BackupState;

  constructor(
    private readonly catalog: Catalog,
    private readonly plan: RestorePlan,
    private readonly target: RestoreTarget,
    private readonly engine: Engine,
    private readonly options: RestoreOptions,
  ) {
    this.state = plan.state;
  }

  async run(): Promise<void> {
    const signal = this.options.signal;
    for (const d of this.plan.dirs) {
      signal?.throwIfAborted();
      await this.target.makeDir(d.path);
      this.stats.directories++;
    }
    for (const link of this.state.chain) {
      const wanted = this.plan.whole.get(link.id);
      if (wanted) await this.extract(link.id, wanted);
    }
    for (const link of this.state.chain) {
      const wanted = this.plan.patched.get(link.id);
      if (wanted) await this.patch(link.id, wanted);
    }
    for (const s of this.plan.symlinks) {
      signal?.throwIfAborted();
      await this.target.makeSymlink(s);
      this.stats.symlinks++;
    }
    for (let i = this.plan.dirs.length - 1; i >= 0; i--) {
      signal?.throwIfAborted();
      await this.target.finishDir(this.plan.dirs[i]!);
    }
  }

  /** Extract from the files archive of backup `id` the first version of each `wanted` file. */
  private async extract(id: string, wanted: Wanted): Promise<void> {
    const archive = await this.archive(id, 'files');
    const headerSize = (e: FileEntry): number => versionFrom(e, id).size;
    await readWanted(archive, wanted, { headerSize, signal: this.options.signal }, async (e, body) => {
      const version = versionFrom(e, id);
      const file = await this.target.create(e.path);
      await this.finish(e, version, file, archive.path, () => this.write(e, version, file, body, archive.path));
    });
  }

  /** Apply the deltas archive of backup `id` to each `wanted` file's kept version. */
  private async patch(id: string, wanted: Wanted): Promise<void> {
    const archive = await this.archive(id, 'deltas');
    await readWanted(archive, wanted, { signal: this.options.signal }, async (e, delta) => {
      const version = versionFrom(e, id);
      const basis = await this.target.openKept(e.path);
      try {
        const file = await this.target.create(e.path);
        await this.finish(e, version, file, archive.path, async () => {
          const written = await this.write(e, version, file, this.engine.patch(basis.handle, delta), archive.path);
          await basis.remove();
          return written;
        });
      } finally {
        await basis.close();
      }
      this.stats.deltasApplied++;
    });
  }

  /** Write `data` as `version` of `e` into `file`, cut off past the recorded size. */
  private write(e: FileEntry, version: Version, file: NewFile, data: AsyncIterable<Uint8Array>, artifact: string): Promise<WrittenVersion> {
    return writeVersion(file.handle, file.path, data, version.size, () => sizeError(e, version, artifact));
  }

  /**
   * Write one version of `e` with `write`, check it against `version`, then rename it into
   * place (the final version) or keep it for the next delta; on any failure, remove it.
   */
  private async finish(e: FileEntry, version: Version, file: NewFile, artifact: string, write: () => Promise<WrittenVersion>): Promise<void> {
    try {
      const written = await write();
      if (written.size !== version.size) throw sizeError(e, version, artifact, written.size);
      if (written.hash !== version.hash) {
        const which = version.final ? 'its content hash' : `the content hash of version ${version.index + 1} of ${e.content.length}`;
        throw new BackupError('EHASH', `restored ${JSON.stringify(e.path)} does not match the backup state (${which} differs; read from artifact ${artifact})`, { path: e.path });
      }
      if (version.final) await file.commit(e);
      else await file.keep();
    } catch (err) {
      await file.discard();
      throw err;
    }
    if (version.final) {
      this.stats.files++;
      this.stats.bytesWritten += e.size;
    }
    this.options.onProgress?.({ phase: 'restore', path: e.path, entries: this.stats.files, bytes: this.stats.bytesWritten });
  }

  /** The `role` archive of backup `id`, fetched to the work directory. */
  private async archive(id: string, role: ArtifactRole): Promise<ArchiveToRead> {
    const a = this.state.chain.find((l) => l.id === id)?.artifacts.find((x) => x.role === role);
    if (!a) throw new BackupError('EMISSING', `backup state ${this.state.id} names no ${role} archive for backup ${id}`, { path: artifactFile(id, role, this.state.compression) });
    return { ...a, path: await this.catalog.fetch(a.file) };
  }
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
