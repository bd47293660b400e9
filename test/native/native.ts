/**
 * The native engine under test, or the reason it is not there. Locally an unbuilt addon
 * skips these suites with the reason in their title; on CI (`CI=true`) it is a failing
 * test, because CI must prove the native engine, not skip it.
 */
import { describe, it } from 'vitest';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import type { Engine } from '../../src/engine/engine.js';
import { loadAddon, type NativeAddon } from '../../src/io/native-addon.js';
import { loadNativeEngine } from '../../src/engine/native-engine.js';
import { onCi } from '../helpers/tools.js';

/** What native tests get: the engine and the raw addon (for its live-job counter). */
export interface NativeUnderTest {
  engine: Engine;
  addon: NativeAddon;
}

/** `describe(title, …)` with the native engine, or a visible skip / a CI failure without it. */
export function describeNative(title: string, fn: (native: NativeUnderTest) => void): void {
  const engine = loadNativeEngine().engine;
  const load = loadAddon();
  if (engine && load.addon) {
    const addon = load.addon;
    describe(title, () => fn({ engine, addon }));
  } else if (onCi) {
    describe(title, () => {
      it('has the native addon built (required when CI=true)', () => {
        throw new Error(`the native engine must load on CI: ${load.error}`);
      });
    });
  } else {
    console.warn(`[tests] ${title}: skipped, ${load.error}`);
    describe.skip(`${title} (skipped: ${load.error})`, () => {
      it('needs the native addon', () => undefined);
    });
  }
}

/** A full garbage collection, so memory measurements see only what is really retained. */
export const gc: () => void = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();
