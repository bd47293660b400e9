/**
 * Deltas fed chunk by chunk and scanned on every core: the engine as a backup uses it.
 *
 * A backup reads each changed file once and hands every chunk to several consumers (the
 * content hash, the new signature, the delta), so it cannot give the engine a file to read:
 * it pushes chunks into a pipeline (`backup/chunk-channel.ts`) whose delta is stitched from
 * segments scanned elsewhere (`parallel-delta.ts`): by librsync jobs on the libuv pool when
 * the native engine loads, by the TypeScript engine's worker threads otherwise. The session
 * reports the true scan's matches as the stitching finds them, and how far it has decided,
 * so that the new signature can take the old records of matched blocks instead of hashing
 * them again (`rsync/matched-signature.ts`): spread over the cores without that, each block
 * was hashed twice and the backup spent half as much CPU again.
 */
import { availableParallelism } from 'node:os';
import { addonFor, loadAddon } from '../io/native-addon.js';
import { serializeSignature, type Signature } from '../rsync/signature.js';
import type { EngineChoice } from './engine.js';
import { adaptiveScanner, librsyncScanner } from './native-delta.js';
import { MAX_PARALLEL_BLOCK, poolScanner, stitchedDelta, type SegmentScanner } from './parallel-delta.js';
import { workerPoolAvailable } from './worker-pool.js';

/** What a session tells its caller as the delta is made. */
export interface DeltaSessionOptions {
  /** Told of every match of the delta, at its absolute position, in position order. */
  observe?: (pos: number, block: number, len: number) => void;
  /** Told that every window starting before `scanned` has been decided. */
  passed?: (scanned: number) => void;
}

/**
 * The scanner of a session against `sig` for engine `choice`, or undefined when the delta
 * cannot be spread (no blocks, blocks too long to cut segments from, no addon and no worker
 * threads): the caller then encodes on its own thread. `native` where the addon does not
 * load is `ENATIVE`.
 */
export function sessionScanner(sig: Signature, choice: EngineChoice = 'auto'): SegmentScanner | undefined {
  if (sig.count === 0 || sig.blockLength > MAX_PARALLEL_BLOCK) return undefined;
  const threads = choice !== 'native' && workerPoolAvailable() ? poolScanner(sig) : undefined;
  if (choice === 'js') return threads;
  const addon = choice === 'native' ? addonFor(true, 'a delta', 'scanning') : loadAddon().addon;
  if (!addon) return threads;
  return adaptiveScanner(librsyncScanner(addon, serializeSignature(sig), Math.min(availableParallelism(), 8)), threads);
}

/**
 * The delta of the chunks of `input` against `sig`, its scan spread by `scanner` (from
 * {@link sessionScanner}): byte-identical to the one-thread encoder's.
 */
export function deltaSession(sig: Signature, input: AsyncIterable<Uint8Array>, scanner: SegmentScanner, options: DeltaSessionOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
  return stitchedDelta(sig, input, {}, scanner, { tailToScanner: true, observe: options.observe, passed: options.passed });
}
