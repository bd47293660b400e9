/**
 * The engines every conformance suite runs over: always the TypeScript engine, and the
 * native (librsync) engine when its addon is built. Locally an unbuilt addon shows up as a
 * skipped test that says so; on CI (`CI=true`) it is a failing test, because CI must prove
 * both engines.
 */
import { describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';
import { nativeAvailable, selectEngine } from '../../src/engine/select.js';
import { onCi } from './tools.js';

/**
 * Declare the suite `fn` once per engine, inside a `describe` named after the engine.
 * `fn` runs at collection time, like a `describe` body.
 */
export function forEachEngine(fn: (engine: Engine) => void): void {
  describe('js engine', () => fn(selectEngine('js')));
  if (nativeAvailable()) {
    describe('native engine', () => fn(selectEngine('native')));
  } else if (onCi) {
    describe('native engine', () => {
      it('is built (required when CI=true)', () => {
        expect(nativeAvailable(), 'npm run build:native must succeed on CI').toBe(true);
      });
    });
  } else {
    describe('native engine', () => {
      it.skip('skipped: the native addon is not built (npm run build:native)', () => undefined);
    });
  }
}
