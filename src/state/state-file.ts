/**
 * The state file: a state as JSON, sealed by a digest, and read back only when every check
 * passes.
 *
 * The text is `JSON.stringify` of the state (no spaces) with one more last field, `digest`:
 * the xxHash64 of the text before it with `}` in place of `,"digest":…`. Any damaged byte,
 * even one that leaves valid JSON (a mode digit), changes it. The digest also pins a chain:
 * an incremental records its parent's `{ id, digest }`, and the parent's digest can be read
 * from the last 29 bytes of its file without reading the rest, so a swapped, replaced or
 * foreign parent is caught when the child is opened (the parent's own body is checked when
 * the parent is read).
 *
 * A state file also says which backup it is twice: in its name and in its `id` (and its
 * backup name in `name`). A reader passes what it expects from the file's place, so a file
 * renamed or copied from another backup is refused instead of restoring the wrong point.
 *
 * Memory: a read holds the file, its text and two copies of the parsed state (the JSON value
 * and the checked copy) for the time of the check: about 1.3 KB per entry at the peak
 * (130 MB for a state of 100,000 files, 27 MB on disk).
 */
import { open, readFile } from 'node:fs/promises';
import { BackupError, wrapIoError } from '../errors.js';
import { hashChunks } from '../tree/content-hash.js';
import type { BackupState } from './schema.js';
import { checkState } from './validate.js';

/** `,"digest":"` + 16 hex digits + `"}`. */
const TAIL_LENGTH = 29;
const TAIL = /^,"digest":"([0-9a-f]{16})"\}$/;
const CLOSE = Buffer.from('}');
/** The tail a serialized state gets before its digest is known and written into it. */
const PLACEHOLDER_TAIL = `,"digest":"${'0'.repeat(16)}"}`;

/** A serialized state. */
export interface SerializedState {
  /** The file's bytes. */
  bytes: Buffer;
  /** Its digest: what a child records as `parent.digest`. */
  digest: string;
}

/** A state read from its file. */
export interface ReadState {
  /** The checked state. */
  state: BackupState;
  /** Its file's digest. */
  digest: string;
}

/** What a reader knows about a state file from where it found it. */
export interface ExpectedState {
  /** The backup id in the file's name. */
  id: string;
  /** The backup name whose folder it is in. */
  name: string;
}

/**
 * The bytes of the state file of `state`, and its digest. `state` is checked as a read would
 * check it: writing a state that no read accepts would commit a backup nobody can restore,
 * so that is `EINTERNAL` (a bug in the backup that built it) before anything is written.
 */
export async function serializeState(state: BackupState): Promise<SerializedState> {
  return encodeState(checkForWrite(state));
}

/**
 * `state` as the schema returns it (its own copy, fields in the schema's order), or
 * `EINTERNAL` when no read would accept it. For a writer that encodes the same state more
 * than once (to record its own size in it): check once, then {@link encodeState} the copy.
 */
export function checkForWrite(state: BackupState): BackupState {
  const checked = checkState(state);
  if (!checked.ok) {
    const id = typeof state?.id === 'string' ? ` ${JSON.stringify(state.id)}` : '';
    throw new BackupError('EINTERNAL', `refusing to write backup state${id}, which is invalid: ${checked.problem}`);
  }
  return checked.state;
}

/** The bytes and digest of a state {@link checkForWrite} returned (not checked again). */
export async function encodeState(state: BackupState): Promise<SerializedState> {
  const body = JSON.stringify(state);
  const bytes = Buffer.from(`${body.slice(0, -1)}${PLACEHOLDER_TAIL}`);
  const digest = await digestOf(bytes);
  bytes.write(digest, bytes.length - '"}'.length - digest.length, 'latin1');
  return { bytes, digest };
}

/**
 * Read and check the state file at `path`, which its place says is backup `expect.id` of
 * name `expect.name`. `EMISSING` when there is no such file, `EIO` when it cannot be read,
 * `ECORRUPT` naming the file (and the field) for a bad digest, bad JSON, a schema or
 * cross-field violation, or a state of another backup or name.
 */
export async function readStateFile(path: string, expect: ExpectedState): Promise<ReadState> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw readError(e, path);
  }
  const digest = tailDigest(bytes, path);
  if ((await digestOf(bytes)) !== digest) corrupt(path, 'its digest does not match its content (the file is damaged)');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(0, bytes.length - TAIL_LENGTH));
  } catch {
    return corrupt(path, 'it is not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(`${text}}`);
  } catch (e) {
    return corrupt(path, `it is not valid JSON (${(e as Error).message})`);
  }
  const checked = checkState(value);
  if (!checked.ok) return corrupt(path, checked.problem);
  const { state } = checked;
  if (state.id !== expect.id) {
    corrupt(path, `id: it is the state of backup ${JSON.stringify(state.id)}, not of ${JSON.stringify(expect.id)} as its file name says (renamed or swapped)`);
  }
  if (state.name !== expect.name) {
    corrupt(path, `name: it is a state of backup name ${JSON.stringify(state.name)}, not ${JSON.stringify(expect.name)} (copied from another backup)`);
  }
  return { state, digest };
}

/**
 * The digest of the state file at `path`, from its last bytes alone. Only a complete file
 * has one (`ECORRUPT` otherwise); whether the body matches it is checked when the file
 * itself is read.
 */
export async function readStateDigest(path: string): Promise<string> {
  const handle = await open(path, 'r').catch((e) => {
    throw readError(e, path);
  });
  try {
    const { size } = await handle.stat();
    const tail = Buffer.alloc(TAIL_LENGTH);
    const { bytesRead } = size < TAIL_LENGTH ? { bytesRead: 0 } : await handle.read(tail, 0, TAIL_LENGTH, size - TAIL_LENGTH);
    return tailDigest(tail.subarray(0, bytesRead), path);
  } catch (e) {
    throw readError(e, path);
  } finally {
    await handle.close().catch(() => undefined);
  }
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

/** The digest a state file's bytes must carry: of everything before the tail, then `}`. */
function digestOf(bytes: Buffer): Promise<string> {
  return hashChunks([bytes.subarray(0, bytes.length - TAIL_LENGTH), CLOSE]);
}

function tailDigest(bytes: Buffer, path: string): string {
  const m = bytes.length < TAIL_LENGTH ? null : TAIL.exec(bytes.toString('latin1', bytes.length - TAIL_LENGTH));
  if (!m) return corrupt(path, 'it is truncated or has no digest');
  return m[1]!;
}

function readError(e: unknown, path: string): BackupError {
  if (e instanceof BackupError) return e;
  if ((e as NodeJS.ErrnoException)?.code === 'ENOENT') return new BackupError('EMISSING', `backup state ${path} is missing`, { path, cause: e });
  return wrapIoError(e, path, 'reading backup state');
}

function corrupt(path: string, why: string): never {
  throw new BackupError('ECORRUPT', `backup state ${path} is invalid: ${why}`, { path });
}
