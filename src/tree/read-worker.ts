/**
 * A worker thread of `batch-reads.ts`: reads whole small files, a batch per message.
 *
 * Each file is opened, fstat'ed, read, fstat'ed again and closed with synchronous calls:
 * here they block only this thread, and they cost a few microseconds each instead of a round
 * trip through libuv's thread pool and the main thread's event loop. The checks are those of
 * `stable-read.ts` (same open flags, a regular file only, the metadata of the descriptor,
 * exactly its size read, `changed` and `racy` as it defines them), and so is the content
 * hash, computed here so the main thread does not have to.
 *
 * The paths come anchored on directory descriptors the main thread keeps pinned until the
 * reply (`/proc/self/fd/N/name`): a worker shares the process's descriptors.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type BigIntStats } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { createContentHasher } from './content-hash.js';
import { entryTypeOf, metaOf } from './dir-state.js';
import type { ReadReply, ReadRequest, ReadResult } from './read-protocol.js';

const { O_RDONLY, O_NONBLOCK, O_NOFOLLOW, O_NOCTTY } = constants;
const OPEN_FLAGS = O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY;

function moved(a: BigIntStats, b: BigIntStats): boolean {
  return a.size !== b.size || a.mtimeNs !== b.mtimeNs || a.ctimeNs !== b.ctimeNs || a.ino !== b.ino || a.dev !== b.dev;
}

function failure(stage: 'open' | 'read', e: unknown): ReadResult {
  const err = e as NodeJS.ErrnoException;
  return { kind: stage, code: err?.code, message: String(err?.message ?? e) };
}

async function readOne(path: string, maxSize: number, marginNs: bigint): Promise<{ result: ReadResult; transfer?: ArrayBuffer }> {
  const started = BigInt(Date.now()) * 1_000_000n;
  let fd: number;
  let before: BigIntStats;
  try {
    fd = openSync(path, OPEN_FLAGS);
  } catch (e) {
    return { result: failure('open', e) };
  }
  try {
    try {
      before = fstatSync(fd, { bigint: true });
    } catch (e) {
      return { result: failure('open', e) };
    }
    const type = entryTypeOf(before);
    if (type !== 'file') return { result: { kind: 'type', type } };
    const size = Number(before.size);
    if (size > maxSize) return { result: { kind: 'grown' } };
    const bytes = new Uint8Array(size);
    let got = 0;
    try {
      while (got < size) {
        const n = readSync(fd, bytes, got, size - got, got);
        if (n === 0) break;
        got += n;
      }
    } catch (e) {
      return { result: failure('read', e) };
    }
    let after: BigIntStats;
    try {
      after = fstatSync(fd, { bigint: true });
    } catch (e) {
      return { result: failure('read', e) };
    }
    const near = (ns: bigint): boolean => (ns > started ? ns - started : started - ns) < marginNs;
    const hasher = await createContentHasher();
    hasher.update(bytes);
    return {
      result: {
        kind: 'ok',
        meta: metaOf(before, 'file'),
        bytes,
        hash: hasher.digest(),
        changed: got < size || moved(before, after),
        racy: marginNs > 0n && (near(before.ctimeNs) || near(before.mtimeNs)),
      },
      transfer: bytes.buffer as ArrayBuffer,
    };
  } finally {
    try {
      closeSync(fd);
    } catch {
      // A failed close of a read-only descriptor loses nothing.
    }
  }
}

parentPort!.on('message', (msg: ReadRequest) => {
  void (async () => {
    const results: ReadResult[] = [];
    const transfer: ArrayBuffer[] = [];
    for (const path of msg.paths) {
      const r = await readOne(path, msg.maxSize, msg.marginNs);
      results.push(r.result);
      if (r.transfer) transfer.push(r.transfer);
    }
    const reply: ReadReply = { id: msg.id, results };
    parentPort!.postMessage(reply, transfer);
  })();
});
