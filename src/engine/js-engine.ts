/** The TypeScript engine as an {@link Engine}. */
import { delta, patch, signature } from '../rsync/index.js';
import type { Engine } from './engine.js';

/** The TypeScript engine: always available, the reference for every other. */
export const jsEngine: Engine = {
  name: 'js',
  signature,
  delta,
  patch,
};
