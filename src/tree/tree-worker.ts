/**
 * A worker thread of the tree layer (`tree-workers.ts`): reads whole small files for
 * `batch-reads.ts`, and lstats the entries of a directory for `walk.ts`, a batch per message.
 *
 * Each file is opened, fstat'ed, read, fstat'ed again and closed with synchronous calls:
 * here they block only this thread, and they cost a few microseconds each instead of a round
 * trip through libuv's thread pool and the main thread's event loop. The checks are those of
 * `stable-read.ts` (same open flags, a regular file only, the metadata of the descriptor,
 * exactly its size read, `changed` and `racy` as it defines them), and so is the content
 * hash and, when asked, the signature, computed here so the main thread does not have to.
 *
 * A write is what a restore makes for a small file (`restore/target.ts`): on any failure the
 * temporary file is removed and the step reported, and the restore takes the file over on
 * the main thread, where what is in the way is handled and errors are named.
 *
 * An lstat is what `walk.ts` makes per entry, with a readlink for a symlink; the metadata
 * comes back as `dir-state.ts` records it, so both ways of walking judge the same values.
 *
 * The paths come anchored on directory descriptors the main thread keeps pinned until the
 * reply (`/proc/self/fd/N/name`): a worker shares the process's descriptors.
 */
import { closeSync, constants, fchmodSync, fchownSync, fstatSync, lstatSync, openSync, readlinkSync, readSync, renameSync, unlinkSync, writeSync, type BigIntStats } from 'node:fs';
import { setFdTimesSync } from '../io/file-times.js';
import { parentPort } from 'node:worker_threads';
import type { SignatureParams } from '../rsync/format.js';
import { signatureHeader, SignatureEncoder } from '../rsync/signature.js';
import { createStrongHasher, type StrongHasher } from '../rsync/strong-sum.js';
import { createContentHasher } from './content-hash.js';
import { entryTypeOf, metaOf } from './dir-state.js';
import type { ReadRequest, ReadResult, StatResult, TreeReply, TreeRequest, WriteFile, WriteResult } from './worker-protocol.js';

const { O_RDONLY, O_NONBLOCK, O_NOFOLLOW, O_NOCTTY } = constants;
const OPEN_FLAGS = O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY;
const { O_WRONLY, O_CREAT, O_EXCL } = constants;
const CREATE = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;

let blake2: Promise<StrongHasher> | undefined;

/** The signature file of `bytes` (header and records). */
async function sign(params: SignatureParams, bytes: Uint8Array): Promise<Uint8Array> {
  blake2 ??= createStrongHasher('blake2');
  const encoder = new SignatureEncoder(params, params.strong === 'blake2' ? await blake2 : await createStrongHasher(params.strong));
  return Buffer.concat([signatureHeader(params), encoder.push(bytes), encoder.end()]);
}

function moved(a: BigIntStats, b: BigIntStats): boolean {
  return a.size !== b.size || a.mtimeNs !== b.mtimeNs || a.ctimeNs !== b.ctimeNs || a.ino !== b.ino || a.dev !== b.dev;
}

function failure(stage: 'open' | 'read', e: unknown): ReadResult {
  const err = e as NodeJS.ErrnoException;
  return { kind: stage, code: err?.code, message: String(err?.message ?? e) };
}

async function readOne(path: string, want: ReadRequest['signs'][number], maxSize: number, marginNs: bigint): Promise<{ result: ReadResult; transfer: ArrayBuffer[] }> {
  const started = BigInt(Date.now()) * 1_000_000n;
  let fd: number;
  let before: BigIntStats;
  try {
    fd = openSync(path, OPEN_FLAGS);
  } catch (e) {
    return { result: failure('open', e), transfer: [] };
  }
  try {
    try {
      before = fstatSync(fd, { bigint: true });
    } catch (e) {
      return { result: failure('open', e), transfer: [] };
    }
    const type = entryTypeOf(before);
    if (type !== 'file') return { result: { kind: 'type', type }, transfer: [] };
    const size = Number(before.size);
    if (size > maxSize) return { result: { kind: 'grown' }, transfer: [] };
    const bytes = new Uint8Array(size);
    let got = 0;
    try {
      while (got < size) {
        const n = readSync(fd, bytes, got, size - got, got);
        if (n === 0) break;
        got += n;
      }
    } catch (e) {
      return { result: failure('read', e), transfer: [] };
    }
    let after: BigIntStats;
    try {
      after = fstatSync(fd, { bigint: true });
    } catch (e) {
      return { result: failure('read', e), transfer: [] };
    }
    const near = (ns: bigint): boolean => (ns > started ? ns - started : started - ns) < marginNs;
    const hasher = await createContentHasher();
    hasher.update(bytes);
    const signature = want && want.size === size ? await sign(want.params, bytes) : undefined;
    return {
      result: {
        kind: 'ok',
        meta: metaOf(before, 'file'),
        bytes,
        hash: hasher.digest(),
        changed: got < size || moved(before, after),
        racy: marginNs > 0n && (near(before.ctimeNs) || near(before.mtimeNs)),
        ...(signature ? { signature } : {}),
      },
      transfer: signature ? [bytes.buffer as ArrayBuffer, signature.buffer as ArrayBuffer] : [bytes.buffer as ArrayBuffer],
    };
  } finally {
    try {
      closeSync(fd);
    } catch {
      // A failed close of a read-only descriptor loses nothing.
    }
  }
}

function statOne(path: string): StatResult {
  let st: BigIntStats;
  try {
    st = lstatSync(path, { bigint: true });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { kind: 'error', code: err?.code, message: String(err?.message ?? e) };
  }
  const type = entryTypeOf(st);
  if (type === 'socket' || type === 'fifo' || type === 'device') return { kind: 'other', type, dev: st.dev, ino: st.ino };
  if (type !== 'symlink') return { kind: 'entry', meta: metaOf(st, type), dev: st.dev, ino: st.ino, nlink: st.nlink };
  try {
    return { kind: 'entry', meta: metaOf(st, type, readlinkSync(path)), dev: st.dev, ino: st.ino, nlink: st.nlink };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { kind: 'link-error', code: err?.code, message: String(err?.message ?? e) };
  }
}

function writeOne(f: WriteFile, native: boolean | undefined): WriteResult {
  let fd: number;
  try {
    fd = openSync(f.temp, CREATE, 0o600);
  } catch (e) {
    return failed('create', e);
  }
  let step: 'write' | 'attributes' = 'write';
  try {
    for (let at = 0; at < f.bytes.length; ) at += writeSync(fd, f.bytes, at, f.bytes.length - at);
    step = 'attributes';
    if (f.chown) fchownSync(fd, f.uid, f.gid);
    fchmodSync(fd, f.mode);
    setFdTimesSync(fd, f.mtimeNs, f.mtimeNs, native);
    closeSync(fd);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      // Already closed, or closing failed: the unlink below is what matters.
    }
    removeQuietly(f.temp);
    return failed(step, e);
  }
  try {
    renameSync(f.temp, f.final);
  } catch (e) {
    removeQuietly(f.temp);
    return failed('rename', e);
  }
  return { ok: true };
}

function failed(step: 'create' | 'write' | 'attributes' | 'rename', e: unknown): WriteResult {
  const err = e as NodeJS.ErrnoException;
  return { ok: false, step, code: err?.code, message: String(err?.message ?? e) };
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Gone already, or its directory with it: nothing is left at a final name either way.
  }
}

async function handle(msg: TreeRequest): Promise<{ reply: TreeReply; transfer: ArrayBuffer[] }> {
  if (msg.op === 'stat') return { reply: { id: msg.id, stats: msg.paths.map(statOne) }, transfer: [] };
  if (msg.op === 'write') return { reply: { id: msg.id, written: msg.files.map((f) => writeOne(f, msg.native)) }, transfer: [] };
  const results: ReadResult[] = [];
  const transfer: ArrayBuffer[] = [];
  for (const [i, path] of msg.paths.entries()) {
    const r = await readOne(path, msg.signs[i] ?? null, msg.maxSize, msg.marginNs);
    results.push(r.result);
    transfer.push(...r.transfer);
  }
  return { reply: { id: msg.id, results }, transfer };
}

parentPort!.on('message', (msg: TreeRequest) => {
  handle(msg).then(
    ({ reply, transfer }) => parentPort!.postMessage(reply, transfer),
    (e: unknown) => parentPort!.postMessage({ id: msg.id, error: String((e as Error)?.stack ?? e) }),
  );
});
