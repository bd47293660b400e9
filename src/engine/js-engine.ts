/**
 * The TypeScript engine as an {@link Engine}: signatures and deltas of large inputs spread
 * over the worker pool (same bytes as one thread), patch on the calling thread (it is bound
 * by I/O, not by computation).
 *
 * Each operation loads its modules on first use, so choosing an engine costs nothing and a
 * process that only patches (`ibt rdiff patch`) never loads the checksums (hash-wasm alone
 * takes tens of milliseconds to load) nor the worker pool.
 */
import type { ByteSource, DeltaOptions, PatchBasis, SignatureOptions } from '../rsync/index.js';
import type { Engine } from './engine.js';

/** The TypeScript engine: always available, the reference for every other. */
export const jsEngine: Engine = {
  name: 'js',
  async *signature(basis: ByteSource, options?: SignatureOptions) {
    const { parallelSignature } = await import('./parallel-signature.js');
    yield* parallelSignature(basis, options);
  },
  async *delta(sig: ByteSource, newData: ByteSource, options?: DeltaOptions) {
    const { parallelDelta } = await import('./parallel-delta.js');
    yield* parallelDelta(sig, newData, options);
  },
  async *patch(basis: PatchBasis, delta: ByteSource) {
    const { patch } = await import('../rsync/patch.js');
    yield* patch(basis, delta);
  },
};
