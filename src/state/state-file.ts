/**
 * The state file: a state sealed by a digest, and read back only when every check passes.
 *
 * Version 3, what this release writes (`state-writer.ts`), is compressed and streamed: a
 * gzip file (`state-container.ts`) whose text is one JSON document laid out one entry per
 * line (`state-layout.ts`), so that neither a write nor a read ever holds the state's text
 * or bytes whole, and each entry is checked as it comes (`state-assembly.ts`). Version 2,
 * plain JSON (`state-file-plain.ts`), is still read; which one a file is, its first bytes say.
 *
 * The digest is the xxHash64 of the text before its `,"digest":…` field with `}` in its place,
 * so any damaged byte, even one that leaves valid JSON (a mode digit), changes it. The digest
 * also pins a chain: an incremental records its parent's `{ id, digest }`, and the parent's
 * digest is read from the last bytes of its file without reading the rest, so a swapped,
 * replaced or foreign parent is caught when the child is opened (the parent's own body is
 * checked when the parent is read).
 *
 * A state file also says which backup it is twice: in its name and in its `id` (and its
 * backup name in `name`). A reader passes what it expects from the file's place, so a file
 * renamed or copied from another backup is refused instead of restoring the wrong point.
 *
 * Damage comes first: a read that finds a problem in the text goes on decompressing and
 * hashing (without parsing) to the end, and a file whose digest does not match is reported
 * as damaged, whatever else it broke; a problem is reported as such only in a file whose
 * digest holds (a state written invalid, or forged).
 *
 * The text is read as bytes: lines are found in them, checked to be UTF-8 a chunk at a time,
 * and an entry line this release wrote is read from its bytes (`entry-parse.ts`) without a
 * string of the line or a second check of its fields; other lines go through `JSON.parse`.
 *
 * Memory of a version-3 read: the entries as objects (the state it returns; a file's content
 * of one backup id is one frozen array shared by every such file), the set of directory
 * paths, one line (at most 64 MiB; under 1 KB in practice) and about 1 MiB of buffers — about
 * 400 bytes per entry in all. Measured (bench/state.mjs), a state of 1,000,000 entries, each
 * file its own times, inode and hash: 52 MB on disk, read at a peak of 0.47 GB RSS (0.53 GB
 * with every line through `JSON.parse`); written with no growth at all (2.54 GB peak as
 * version 2, plain JSON).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { BackupError, wrapIoError } from '../errors.js';
import { createContentHasher } from '../tree/content-hash.js';
import { StateProblem } from './problem.js';
import type { BackupState } from './schema.js';
import { StateAssembly, type ExpectedState } from './state-assembly.js';
import { digestOfSeal, isGzip, SEAL_SIZE } from './state-container.js';
import { parsePlainState, plainDigest, PLAIN_TAIL_LENGTH } from './state-file-plain.js';
import { LineDocument } from './state-layout.js';

const TRUNCATED = 'it is truncated or has no digest';
const DAMAGED = 'its digest does not match its content (the file is damaged)';
const CLOSE = Buffer.from('}');
/** Bytes read from the file, and decompressed, at a time. */
const CHUNK = 256 * 1024;

/** A state read from its file. */
export interface ReadState {
  /**
   * The checked state. Its entries are records to read, not to change in place: a file's
   * `content` of one backup id is mostly one frozen array, shared by every file it is the
   * content of (changing it throws).
   */
  state: BackupState;
  /** Its file's digest. */
  digest: string;
}

/**
 * Read and check the state file at `path`, which its place says is backup `expect.id` of
 * name `expect.name`. `EMISSING` when there is no such file, `EIO` when it cannot be read,
 * `ECORRUPT` naming the file (and the field) for damaged or truncated bytes, a bad digest,
 * bad JSON, a schema or cross-field violation, or a state of another backup or name.
 */
export async function readStateFile(path: string, expect: ExpectedState): Promise<ReadState> {
  return withFile(path, async (handle, size) => {
    if (!isGzip(await readAt(handle, 0, 2))) return parsePlainState(await handle.readFile(), expect);
    return readCompressed(handle, size, expect);
  });
}

/**
 * The digest of the state file at `path`, from its last bytes alone. Only a complete file
 * has one (`ECORRUPT` otherwise); whether the body matches it is checked when the file
 * itself is read.
 */
export async function readStateDigest(path: string): Promise<string> {
  return withFile(path, async (handle, size) => {
    const compressed = isGzip(await readAt(handle, 0, 2));
    const length = compressed ? SEAL_SIZE : PLAIN_TAIL_LENGTH;
    const tail = await readAt(handle, Math.max(0, size - length), Math.min(size, length));
    const digest = compressed ? digestOfSeal(tail) : plainDigest(tail);
    if (digest === undefined) throw new StateProblem(TRUNCATED);
    return digest;
  });
}

/**
 * Check that `child` (read from `childPath`) was made on top of the parent state whose
 * digest is `parentDigest`: `ECORRUPT` naming the child's file when the parent was replaced,
 * restored from another chain or reordered. `EINTERNAL` for a full backup, which has none.
 */
export function checkParentDigest(childPath: string, child: BackupState, parentDigest: string): void {
  if (child.parent === null) throw new BackupError('EINTERNAL', `backup state ${childPath} is a full backup and has no parent to check`, { path: childPath });
  if (child.parent.digest !== parentDigest) {
    corrupt(
      childPath,
      `parent.digest: it was made on top of a state of ${JSON.stringify(child.parent.id)} with digest ${child.parent.digest}, but that backup's state has digest ${parentDigest} (the parent was replaced, or is from another chain)`,
    );
  }
}

/** A version-3 file: the seal from its last bytes, then the rest streamed, checked as it comes. */
async function readCompressed(handle: FileHandle, size: number, expect: ExpectedState): Promise<ReadState> {
  const digest = size > SEAL_SIZE ? digestOfSeal(await readAt(handle, size - SEAL_SIZE, SEAL_SIZE)) : undefined;
  if (digest === undefined) throw new StateProblem(TRUNCATED);
  const hasher = await createContentHasher();
  const assembly = new StateAssembly(expect);
  const doc = new LineDocument(assembly);
  let problem: string | undefined;
  /** Run `step` unless a problem was found; keep the first problem it finds. */
  const attempt = (step: () => void): void => {
    if (problem !== undefined) return;
    try {
      step();
    } catch (e) {
      if (!(e instanceof StateProblem)) throw e;
      problem = e.message;
    }
  };
  const gunzip = createGunzip({ chunkSize: CHUNK });
  pipeline(handle.createReadStream({ start: 0, end: size - SEAL_SIZE - 1, autoClose: false, highWaterMark: CHUNK }), gunzip, () => undefined);
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      hasher.update(chunk);
      attempt(() => doc.write(chunk));
    }
  } catch (e) {
    if (isZlibError(e)) throw new StateProblem(`its compressed data is damaged (${e.message})`);
    throw e;
  }
  hasher.update(CLOSE);
  if (hasher.digest() !== digest) throw new StateProblem(DAMAGED);
  let state: BackupState | undefined;
  attempt(() => {
    doc.write(CLOSE);
    doc.end();
    state = assembly.finish();
  });
  if (problem !== undefined) throw new StateProblem(problem);
  return { state: state!, digest };
}

/** Run `read` on the open file at `path`; its problems become `ECORRUPT` naming the file, its failures `EMISSING` or `EIO`. */
async function withFile<T>(path: string, read: (handle: FileHandle, size: number) => Promise<T>): Promise<T> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    return await read(handle, (await handle.stat()).size);
  } catch (e) {
    if (e instanceof StateProblem) return corrupt(path, e.message);
    throw readError(e, path);
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buffer, 0, length, position);
  return buffer.subarray(0, bytesRead);
}

function isZlibError(e: unknown): e is Error {
  const code = (e as NodeJS.ErrnoException)?.code;
  return e instanceof Error && typeof code === 'string' && code.startsWith('Z_');
}

function readError(e: unknown, path: string): BackupError {
  if (e instanceof BackupError) return e;
  if ((e as NodeJS.ErrnoException)?.code === 'ENOENT') return new BackupError('EMISSING', `backup state ${path} is missing`, { path, cause: e });
  return wrapIoError(e, path, 'reading backup state');
}

function corrupt(path: string, why: string): never {
  throw new BackupError('ECORRUPT', `backup state ${path} is invalid: ${why}`, { path });
}
