/**
 * The TypeScript engine as an {@link Engine}: signatures and deltas of large inputs spread
 * over the worker pool (same bytes as one thread), patch on the calling thread (it is bound
 * by I/O, not by computation).
 */
import { patch } from '../rsync/index.js';
import type { Engine } from './engine.js';
import { parallelDelta } from './parallel-delta.js';
import { parallelSignature } from './parallel-signature.js';

/** The TypeScript engine: always available, the reference for every other. */
export const jsEngine: Engine = {
  name: 'js',
  signature: parallelSignature,
  delta: parallelDelta,
  patch,
};
