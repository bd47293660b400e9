/**
 * Point-in-time restore, planned from the final state alone.
 *
 * The state of the backup being restored says, for every file, which backup's files archive
 * holds it whole and which backups' deltas archives hold the deltas to replay. So each
 * files archive of the chain is read once, extracting only the files whose chain starts
 * there, and then each deltas archive is read once, in chain order, patching only the files
 * that need it. A file unchanged since the full backup is extracted once and never
 * rewritten: restoring the tenth incremental costs about what restoring the full does, plus
 * the deltas of the files that changed.
 *
 * Safety: every path is checked before anything is written (no `..`, no absolute path, no
 * entry below a non-directory), and directories are resolved only through real directories
 * of the target (see `archive/safe-path.ts`). Files are written under temporary names and
 * renamed into place only once their content hash matches the state, so a corrupt or
 * hostile artifact can make a restore fail, but never leaves a wrong file behind. Modes,
 * owners (as root) and mtimes are set after contents, directories last and deepest first.
 */
import { chmod, lchown, lstat, lutimes, mkdir, open, readdir, rename, rm, symlink, utimes, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { tempName } from '../io/temp-name.js';
import { performance } from 'node:perf_hooks';
import { selectEngine } from '../engine/select.js';
import { BackupError, wrapIoError } from '../errors.js';
import { archiveError, readTar, SafeTarget, type ArchiveSummary, type TarEntry } from '../archive/index.js';
import { Catalog } from '../catalog/index.js';
import { artifactFile, parseAt, type ArtifactRole, type BackupState, type FileEntry, type StateEntry } from '../state/index.js';
import { createContentHasher, nsToSeconds } from '../tree/index.js';
import { asAbort, checkName, resolveWorkDir, type RestoreOptions, type RestoreReport } from './options.js';

/**
 * Restore backup `name` into `target`: the latest backup, or the last one at or before
 * `options.at` (a backup id or a Date).
 *
 * @throws {@link BackupError} `ENOTFOUND` (no such backup or point), `ENOTEMPTY` (target not
 *   empty and no `overwrite`), `EUNSAFEPATH`, `EMISSING`/`ETRUNCATED`/`ECORRUPT` naming the
 *   artifact, `EHASH` naming the file whose restored content does not match the state.
 */
export async function restoreBackup(name: string, target: string, options: RestoreOptions = {}): Promise<RestoreReport> {
  const started = performance.now();
  const at = parseAt(options.at);
  const catalog = await Catalog.open(resolveWorkDir(options.workDir), checkName(name), options.storage);
  const state = await catalog.resolve(at);
  const root = resolve(target);
  await prepareTarget(root, options.overwrite ?? false);
  const job = new RestoreJob(catalog, state, root, options);
  try {
    await job.run();
  } catch (e) {
    throw asAbort(e, root);
  } finally {
    await job.cleanup();
  }
  return { name, id: state.id, target: root, stats: { ...job.stats, durationMs: Math.round(performance.now() - started) } };
}

async function prepareTarget(root: string, overwrite: boolean): Promise<void> {
  const st = await lstat(root).catch(() => undefined);
  if (st && !st.isDirectory()) throw new BackupError('ENOTEMPTY', `restore target ${root} exists and is not a directory`, { path: root });
  if (st && !overwrite && (await readdir(root)).length > 0) {
    throw new BackupError('ENOTEMPTY', `restore target ${root} is not empty (pass overwrite to restore into it)`, { path: root });
  }
  await mkdir(root, { recursive: true }).catch((e) => {
    throw wrapIoError(e, root, 'creating');
  });
}

class RestoreJob {
  readonly stats = { files: 0, directories: 0, symlinks: 0, bytesWritten: 0, deltasApplied: 0 };
  private readonly safe: SafeTarget;
  /** Temporary file holding each file's current version while its deltas are replayed. */
  private readonly pending = new Map<string, string>();
  private readonly isRoot = process.getuid?.() === 0;

  constructor(
    private readonly catalog: Catalog,
    private readonly state: BackupState,
    root: string,
    private readonly options: RestoreOptions,
  ) {
    this.safe = new SafeTarget(root);
  }

  private expect(id: string, role: ArtifactRole): ArchiveSummary & { file: string; compression: 'gzip' | 'none' } {
    const a = this.state.chain.find((l) => l.id === id)?.artifacts.find((x) => x.role === role);
    if (!a) throw new BackupError('EMISSING', `backup state ${this.state.id} names no ${role} archive for backup ${id}`, { path: artifactFile(id, role, this.state.compression) });
    return a;
  }

  async run(): Promise<void> {
    const entries = this.state.entries;
    for (const e of entries) if (e.type === 'dir') await this.makeDir(e.path);
    const wholeFrom = new Map<string, Map<string, FileEntry>>();
    const deltaIn = new Map<string, Map<string, FileEntry>>();
    for (const e of entries) {
      if (e.type !== 'file') continue;
      e.content.forEach((id, i) => {
        const byId = i === 0 ? wholeFrom : deltaIn;
        byId.set(id, (byId.get(id) ?? new Map<string, FileEntry>()).set(e.path, e));
      });
    }
    for (const link of this.state.chain) {
      const wanted = wholeFrom.get(link.id);
      if (wanted) await this.extract(link.id, wanted);
    }
    const engine = selectEngine(this.options.engine, 'patch');
    for (const link of this.state.chain) {
      const wanted = deltaIn.get(link.id);
      if (!wanted) continue;
      await this.eachEntry(link.id, 'deltas', wanted, async (e, entry, artifact) => {
        const basisPath = this.pending.get(e.path)!;
        const basis = await open(basisPath, 'r').catch((err) => {
          throw wrapIoError(err, basisPath, 'opening');
        });
        try {
          const last = e.content[e.content.length - 1] === link.id;
          await this.writeVersion(e, engine.patch(basis, entry.body), last, artifact);
        } finally {
          await basis.close();
          await rm(basisPath, { force: true });
        }
        this.stats.deltasApplied++;
      });
    }
    for (const e of entries) if (e.type === 'symlink') await this.makeSymlink(e.path, e.target);
    for (const e of entries) if (e.type !== 'dir') await this.setMeta(e);
    for (let i = entries.length - 1; i >= 0; i--) if (entries[i]!.type === 'dir') await this.setMeta(entries[i]!);
  }

  private async extract(id: string, wanted: Map<string, FileEntry>): Promise<void> {
    await this.eachEntry(id, 'files', wanted, async (e, entry, artifact) => {
      await this.writeVersion(e, entry.body, e.content.length === 1, artifact);
    });
  }

  /** Read the `role` archive of backup `id`, handing each wanted entry to `use`. */
  private async eachEntry(id: string, role: ArtifactRole, wanted: Map<string, FileEntry>, use: (e: FileEntry, entry: TarEntry, artifact: string) => Promise<void>): Promise<void> {
    const a = this.expect(id, role);
    const path = await this.catalog.fetch(a.file);
    const left = new Map(wanted);
    for await (const entry of readTar(path, a.compression, a)) {
      this.options.signal?.throwIfAborted();
      const e = left.get(entry.name);
      if (!e || entry.type !== 'file') continue;
      left.delete(entry.name);
      await use(e, entry, path);
      this.options.onProgress?.({ phase: 'restore', path: e.path, entries: this.stats.files, bytes: this.stats.bytesWritten });
    }
    const missing = left.keys().next();
    if (!missing.done) throw new BackupError('ECORRUPT', `artifact ${path} has no entry for ${JSON.stringify(missing.value)}`, { path });
  }

  /**
   * Write one version of a file to a temporary name beside it. The final version is checked
   * against the state's hash and renamed into place; an intermediate one waits for its delta.
   */
  private async writeVersion(e: FileEntry, data: AsyncIterable<Uint8Array>, final: boolean, source: string): Promise<void> {
    const dest = await this.safe.resolve(e.path);
    const tmp = join(dirname(dest), tempName(basename(dest)));
    this.pending.set(e.path, tmp);
    const hasher = await createContentHasher();
    let size = 0;
    let fh: FileHandle | undefined;
    try {
      fh = await open(tmp, 'wx', 0o600).catch((err) => {
        throw wrapIoError(err, dest, 'creating');
      });
      for await (const chunk of data) {
        hasher.update(chunk);
        size += chunk.length;
        await fh.write(chunk).catch((err) => {
          throw wrapIoError(err, dest, 'writing');
        });
      }
      await fh.close();
      fh = undefined;
    } catch (err) {
      await fh?.close().catch(() => undefined);
      throw err instanceof BackupError ? err.withPath(source) : archiveError(err, source);
    }
    if (!final) return;
    if (hasher.digest() !== e.hash || size !== e.size) {
      throw new BackupError('EHASH', `restored ${JSON.stringify(e.path)} does not match the backup state (content hash or size differs; last version read from artifact ${source})`, { path: e.path });
    }
    await this.replace(dest);
    await rename(tmp, dest).catch((err) => {
      throw wrapIoError(err, dest, 'renaming into');
    });
    this.pending.delete(e.path);
    this.stats.files++;
    this.stats.bytesWritten += size;
  }

  /** With `overwrite`, clear a path of anything but a plain file before writing there. */
  private async replace(dest: string): Promise<void> {
    const st = await lstat(dest).catch(() => undefined);
    if (st && (st.isDirectory() || st.isSymbolicLink())) await rm(dest, { recursive: true, force: true });
  }

  private async makeDir(path: string): Promise<void> {
    const dest = await this.safe.resolve(path);
    const st = await lstat(dest).catch(() => undefined);
    if (st && !st.isDirectory()) await rm(dest, { force: true });
    if (!st || !st.isDirectory()) {
      await mkdir(dest, { mode: 0o700 }).catch((e) => {
        throw wrapIoError(e, dest, 'creating');
      });
    }
    this.safe.trust(path);
    this.stats.directories++;
  }

  private async makeSymlink(path: string, target: string): Promise<void> {
    const dest = await this.safe.resolve(path);
    const st = await lstat(dest).catch(() => undefined);
    if (st) await rm(dest, { recursive: true, force: true });
    await symlink(target, dest).catch((err) => {
      throw wrapIoError(err, dest, 'creating symlink');
    });
    this.stats.symlinks++;
  }

  private async setMeta(e: StateEntry): Promise<void> {
    const dest = await this.safe.resolve(e.path);
    const t = nsToSeconds(e.mtime);
    try {
      if (this.isRoot) await lchown(dest, e.uid, e.gid);
      if (e.type === 'symlink') {
        await lutimes(dest, t, t);
        return;
      }
      await chmod(dest, e.mode);
      await utimes(dest, t, t);
    } catch (err) {
      throw wrapIoError(err, dest, 'setting attributes of');
    }
  }

  async cleanup(): Promise<void> {
    for (const tmp of this.pending.values()) await rm(tmp, { force: true }).catch(() => undefined);
    this.pending.clear();
  }
}
