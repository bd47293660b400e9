/**
 * The native engine: librsync through the N-API addon in `native/`. Loaded lazily and never
 * required; see `native/README.md`.
 */
import type { Engine } from './engine.js';

/** The outcome of trying to load the addon: the engine, or why it is not there. */
export type NativeLoad = { engine: Engine; error?: undefined } | { engine?: undefined; error: string };

/** Try to load the native engine (the result is cached). */
export function loadNativeEngine(): NativeLoad {
  return { error: 'the native engine is not built yet (run `npm run build:native`)' };
}
