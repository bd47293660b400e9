/**
 * A worker thread of the TypeScript engine's pool: computes signature records of stripes of
 * a basis, and match scans of segments of new data, for `parallel-signature.ts` and
 * `parallel-delta.ts`. It keeps one block index per delta job; everything else comes in the
 * messages.
 */
import { parentPort } from 'node:worker_threads';
import { BlockIndex } from '../rsync/block-index.js';
import type { SignatureParams } from '../rsync/format.js';
import { MatchScanner } from '../rsync/match-scanner.js';
import { SignatureEncoder, type Signature } from '../rsync/signature.js';
import { createStrongHasher } from '../rsync/strong-sum.js';
import type { WorkerReply, WorkerRequest } from './worker-protocol.js';

// Promises, because messages are handled concurrently: a scan may arrive while its job's
// index is still being built.
const scanners = new Map<number, Promise<MatchScanner>>();

async function signatureRecords(params: SignatureParams, data: Uint8Array): Promise<Uint8Array> {
  const encoder = new SignatureEncoder(params, await createStrongHasher(params.strong));
  const body = encoder.push(data);
  const tail = encoder.end();
  if (tail.length === 0) return body;
  const out = new Uint8Array(body.length + tail.length);
  out.set(body);
  out.set(tail, body.length);
  return out;
}

async function handle(msg: WorkerRequest): Promise<WorkerReply | undefined> {
  switch (msg.type) {
    case 'signature': {
      const records = await signatureRecords(msg.params, new Uint8Array(msg.data, 0, msg.length));
      return { id: msg.id, records, data: msg.data };
    }
    case 'delta-open': {
      const sig: Signature = msg.sig;
      scanners.set(msg.job, createStrongHasher(sig.strong).then((h) => new MatchScanner(new BlockIndex(sig), h)));
      return undefined;
    }
    case 'delta-scan': {
      const scanner = await scanners.get(msg.job)!;
      scanner.reset();
      const data = new Uint8Array(msg.data, 0, msg.size);
      const hits: number[] = [];
      const stop = scanner.scan(data, 0, data.length, msg.last, msg.length, (pos, block, len) => {
        hits.push(msg.start + pos, block, len);
      });
      return { id: msg.id, hits: Float64Array.from(hits), end: msg.start + stop, data: msg.data };
    }
    case 'delta-close':
      scanners.delete(msg.job);
      return undefined;
  }
}

parentPort!.on('message', (msg: WorkerRequest) => {
  handle(msg).then(
    (reply) => {
      if (reply) parentPort!.postMessage(reply, 'data' in reply ? [reply.data] : []);
    },
    (e: unknown) => {
      if ('id' in msg) parentPort!.postMessage({ id: msg.id, error: e instanceof Error ? e.message : String(e) });
    },
  );
});
