/**
 * Helpers for the restore tests: real backup chains, states and archives rewritten as an
 * attacker who controls the whole backup would (a consistent, sealed forgery), and the
 * process's own I/O counters, to show how many bytes a restore wrote.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TarWriter, type TarEntryHeader } from '../../src/archive/index.js';
import { fullBackup, incrementalBackup, type BackupReport, type Compression } from '../../src/index.js';
import { readStateFile, type BackupState, type ChainLink } from '../../src/state/index.js';
import { hashChunks } from '../../src/tree/index.js';
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
  return join(workDir, name, `${id}.state.json`);
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

/** Bytes this process has passed to write(2) and its kind so far (`wchar` of /proc/self/io, all threads). */
export async function bytesWrittenByProcess(): Promise<number> {
  const io = await readFile('/proc/self/io', 'utf8');
  return Number(/^wchar: (\d+)$/m.exec(io)![1]);
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
