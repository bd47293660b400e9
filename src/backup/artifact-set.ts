/**
 * The archives one backup writes — SigVault, files, deltas — opened on first use, so an
 * archive that would hold no entry is never written, and removed whole when the backup does
 * not commit. With a repository that has a cache, each is uploaded as it is written
 * (`live-upload.ts`).
 */
import { rm } from 'node:fs/promises';
import { TarWriter, type TarEntryHeader } from '../archive/index.js';
import type { EntryMeta } from '../tree/index.js';
import type { LiveUpload } from './live-upload.js';
import { artifactFile, type ArtifactRole, type ArtifactSummary, type Compression } from '../state/index.js';

/** Starts the upload of an archive as it is written, when the repository has a cache. */
export type LiveUploads = (role: ArtifactRole, file: string) => LiveUpload | undefined;

/** The archives of one backup, in the backup name's folder. */
export class ArtifactSet {
  private readonly open = new Map<ArtifactRole, { writer: TarWriter; file: string; compression: Compression; live?: LiveUpload }>();
  /** The archives finished so far, as the state records them. */
  readonly done: ArtifactSummary[] = [];
  /** The roles of the finished archives whose upload as they were written stored them whole. */
  readonly uploaded = new Set<ArtifactRole>();
  /** The ends of those uploads. */
  private readonly uploads: Promise<void>[] = [];
  /** Every upload started, of open and finished archives alike. */
  private readonly lives: LiveUpload[] = [];
  /** The file names of every archive started, open or finished. */
  readonly started: string[] = [];

  constructor(
    private readonly dir: string,
    private readonly id: string,
    private readonly compression: Compression,
    private readonly live: LiveUploads = () => undefined,
  ) {}

  /** The writer of the `role` archive (SigVaults are never compressed: signatures are hashes). */
  writer(role: ArtifactRole): TarWriter {
    let o = this.open.get(role);
    if (!o) {
      const compression = role === 'sigvault' ? 'none' : this.compression;
      const file = artifactFile(this.id, role, compression);
      const live = this.live(role, file);
      if (live) this.lives.push(live);
      this.started.push(file);
      o = { writer: TarWriter.create(`${this.dir}/${file}`, compression, live ? { tap: (b) => live.tap(b) } : {}), file, compression, live };
      this.open.set(role, o);
    }
    return o.writer;
  }

  /** Finish every open archive (each appears under its name only now), in a fixed order. */
  async finish(): Promise<void> {
    for (const role of ['sigvault', 'files', 'deltas'] as const) {
      const o = this.open.get(role);
      if (!o) continue;
      const summary = await o.writer.finish();
      this.open.delete(role);
      this.done.push({ role, file: o.file, ...summary, compression: o.compression, entries: o.writer.entries });
      const live = o.live;
      if (live) this.uploads.push(live.finish().then((stored) => void (stored && this.uploaded.add(role))));
    }
  }

  /** Settles once every upload made while an archive was written has ended, stored or not. */
  async uploadsEnded(): Promise<void> {
    await Promise.all(this.uploads);
  }

  /** Remove everything written: open archives and finished ones alike, and stop their uploads. */
  async abort(): Promise<void> {
    // Uploads first: a writer waiting on an upload's full queue is released by its failure.
    for (const live of this.lives) await live.abort();
    for (const o of this.open.values()) await o.writer.abort();
    this.open.clear();
    for (const a of this.done.splice(0)) await rm(`${this.dir}/${a.file}`, { force: true }).catch(() => undefined);
  }
}

/** The tar header of an entry: names and best-effort metadata (the state is authoritative). */
export function tarHeader(path: string, meta: EntryMeta): TarEntryHeader {
  return {
    name: path,
    type: meta.type === 'dir' ? 'directory' : meta.type,
    mode: meta.mode,
    mtime: meta.mtime,
    uid: meta.uid,
    gid: meta.gid,
    size: meta.size,
    linkname: meta.target,
  };
}
