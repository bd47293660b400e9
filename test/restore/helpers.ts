/**
 * Helpers for the restore tests: real backup chains, states and archives rewritten as an
 * attacker who controls the whole backup would (a consistent, sealed forgery), the process's
 * own I/O counters, to show how many bytes a restore wrote, and what a restore left in a
 * target (temporary files, each entry down to the nanosecond and the allocated block).
 */
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { TarWriter, type TarEntryHeader } from '../../src/archive/index.js';
import { fullBackup, incrementalBackup, type BackupReport, type Compression } from '../../src/index.js';
import { artifactFile, readStateFile, type BackupState, type ChainLink } from '../../src/state/index.js';
import { hashChunks } from '../../src/tree/index.js';
import { tempNameOwner } from '../../src/io/temp-name.js';
import { seal } from '../helpers/seal.js';

/**
 * Back up `src` once per step: `steps[0]` prepares the full backup, each later step changes
 * the tree before an incremental. The backup name is the source's base name.
 */
export async function backupChain(src: string, workDir: string, compression: Compression, steps: (() => Promise<void>)[]): Promise<BackupReport[]> {
  const reports: BackupReport[] = [];
  for (const [i, step] of steps.entries()) {
    await step();
    reports.push(await (i === 0 ? fullBackup : incrementalBackup)(src, { workDir, compression }));
  }
  return reports;
}

/** The state file of backup `id` of `name` in `workDir`. */
export function statePath(workDir: string, name: string, id: string): string {
  return join(workDir, name, artifactFile(id, 'state', 'none'));
}

/** Read backup `id`'s state, let `edit` change it, and write it back sealed (a consistent forgery). */
export async function editState(workDir: string, name: string, id: string, edit: (state: BackupState) => void | Promise<void>): Promise<void> {
  const path = statePath(workDir, name, id);
  const { state } = await readStateFile(path, { id, name });
  await edit(state);
  await writeFile(path, await seal(state));
}

/** One entry of a forged archive. */
export interface ForgedEntry {
  name: string;
  data: Uint8Array;
}

/**
 * Replace the `role` archive of `link` (in `workDir/name/`) with one holding `entries`, and
 * record its size, hash and entry count in the link, as a consistent forgery would.
 */
export async function forgeArchive(workDir: string, name: string, link: ChainLink, role: 'files' | 'deltas', entries: ForgedEntry[]): Promise<void> {
  const artifact = link.artifacts.find((a) => a.role === role);
  if (!artifact) throw new Error(`backup ${link.id} has no ${role} archive to replace`);
  const tar = TarWriter.create(join(workDir, name, artifact.file), artifact.compression);
  for (const e of entries) {
    const header: TarEntryHeader = { name: e.name, type: 'file', mode: 0o644, mtime: '0', size: e.data.length };
    await tar.add(header, (async function* () {
      yield e.data;
    })());
  }
  const summary = await tar.finish();
  Object.assign(artifact, summary, { entries: entries.length });
}

/** Record the size and hash of the archive file now at `workDir/name/<file>` in `link`'s artifact `role`. */
export async function resealArchive(workDir: string, name: string, link: ChainLink, role: 'files' | 'deltas'): Promise<void> {
  const artifact = link.artifacts.find((a) => a.role === role)!;
  const bytes = await readFile(join(workDir, name, artifact.file));
  Object.assign(artifact, { size: bytes.length, hash: await hashChunks([bytes]) });
}

/** The xxHash64 the state records for `bytes`. */
export function hashOf(bytes: Uint8Array): Promise<string> {
  return hashChunks([bytes]);
}

/**
 * Bytes this process's threads other than the main one have passed to write(2) and its kind
 * so far (`wchar` of /proc/self/task/N/io). Every file write of a restore runs on libuv's
 * thread pool; the main thread's own writes are the test runner's (its reports to vitest),
 * which landed in the count at random moments and made a restore of nothing seem to write.
 */
export async function bytesWrittenByThreadPool(): Promise<number> {
  let total = 0;
  for (const tid of await readdir('/proc/self/task')) {
    if (tid === String(process.pid)) continue;
    const io = await readFile(`/proc/self/task/${tid}/io`, 'utf8').catch(() => undefined);
    if (io !== undefined) total += Number(/^wchar: (\d+)$/m.exec(io)![1]);
  }
  return total;
}

/**
 * A ustar header for a regular file `name` of `size` bytes, written by hand so that it can say
 * anything (base-256 for sizes of 8 GiB and more, as GNU tar writes them).
 */
export function ustarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100, 'latin1');
  h.write('0000000\0', 108, 'latin1');
  h.write('0000000\0', 116, 'latin1');
  if (size < 8 * 1024 ** 3) h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  else {
    h[124] = 0x80;
    let rest = BigInt(size);
    for (let i = 135; i > 124; i--, rest >>= 8n) h[i] = Number(rest & 0xffn);
  }
  h.write('00000000000\0', 136, 'latin1');
  h.write('0', 156, 'latin1');
  h.write('ustar\0' + '00', 257, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

/** Every path under `dir`, recursively, without following symlinks, sorted. */
export async function listAll(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, d.name);
    out.push(p);
    if (d.isDirectory()) out.push(...(await listAll(p)));
  }
  return out.sort();
}

/** The temporary files (named as the library names them) anywhere under `dir`. */
export async function temporaryFiles(dir: string): Promise<string[]> {
  return (await listAll(dir)).filter((p) => tempNameOwner(basename(p)) !== undefined);
}

/** One entry of a target, as {@link describeTree} sees it. */
export interface EntryFacts {
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
  /** Modification time in nanoseconds (symlinks: undefined; their times are not compared). */
  mtimeNs?: bigint;
  size?: number;
  /** 512-byte blocks allocated: where the holes are, roughly. */
  blocks?: bigint;
  sha256?: string;
  target?: string;
}

/** Every entry under `root` by relative path, with all a restore sets: for comparing two restores exactly. */
export async function describeTree(root: string): Promise<Map<string, EntryFacts>> {
  const out = new Map<string, EntryFacts>();
  for (const full of await listAll(root)) {
    const st = await lstat(full, { bigint: true });
    const base = { mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid) };
    const rel = full.slice(root.length + 1);
    if (st.isSymbolicLink()) out.set(rel, { type: 'symlink', ...base, target: await readlink(full) });
    else if (st.isDirectory()) out.set(rel, { type: 'dir', ...base, mtimeNs: st.mtimeNs });
    else {
      const sha256 = createHash('sha256').update(await readFile(full)).digest('hex');
      out.set(rel, { type: 'file', ...base, mtimeNs: st.mtimeNs, size: Number(st.size), blocks: st.blocks, sha256 });
    }
  }
  return out;
}
