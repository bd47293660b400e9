/**
 * Which engine runs: the caller's `engine` option, else the `IBT_ENGINE` environment
 * variable, else `auto`. `auto` means the native engine where it is built and faster for the
 * operation, else the TypeScript one; asking for `native` when it cannot load is an error
 * that says how to build it.
 */
import { BackupError } from '../errors.js';
import type { Engine, EngineChoice } from './engine.js';
import { jsEngine } from './js-engine.js';
import { loadNativeEngine } from './native-engine.js';

/** Operations an engine performs, for per-operation choice under `auto`. */
export type EngineOperation = 'signature' | 'delta' | 'patch';

function envChoice(): EngineChoice | undefined {
  const v = process.env.IBT_ENGINE;
  if (v === undefined || v === '') return undefined;
  if (v === 'js' || v === 'native' || v === 'auto') return v;
  throw new BackupError('EPARAM', `IBT_ENGINE must be js, native or auto, not ${JSON.stringify(v)}`);
}

/** Whether the native engine is built and loads. */
export function nativeAvailable(): boolean {
  return loadNativeEngine().engine !== undefined;
}

/**
 * The engine to use for `operation`. `choice` is the caller's option; when absent,
 * `IBT_ENGINE` decides, then `auto`.
 */
export function selectEngine(choice?: EngineChoice, operation?: EngineOperation): Engine {
  const want = choice ?? envChoice() ?? 'auto';
  if (want === 'js') return jsEngine;
  if (want !== 'native' && want !== 'auto') {
    throw new BackupError('EPARAM', `engine must be auto, js or native, not ${JSON.stringify(want)}`);
  }
  const native = loadNativeEngine();
  if (want === 'native') {
    if (native.engine) return native.engine;
    throw new BackupError('ENATIVE', `the native engine is not available: ${native.error}`);
  }
  return native.engine && autoPrefersNative(operation) ? native.engine : jsEngine;
}

/**
 * Under `auto`, the operations where the benchmarks (`bench/parallel.mjs`, `bench/engine.mjs`,
 * figures in `bench/RESULTS.md` sections 1 and 2) show the native engine ahead:
 * - signature: 1.0-2.8x on files up to 8 MiB, 0.8-1.8x on one 256 MiB file (which the
 *   TypeScript engine spreads over its worker pool), 1.2-1.8x with 8 files at once; and a
 *   named file is read by the addon itself, range by range on the thread pool
 *   (`file-signature.ts`), so the JavaScript thread does no reading;
 * - patch: between files, COPYs are copied inside the kernel (`file-patch.ts`); between
 *   streams, librsync `pread`s the basis straight into the output (1.3-3.3x on a 256 MiB file,
 *   2.8x on 64 KiB files);
 * - delta: librsync scans segments on every core of the libuv pool (`native-delta.ts`). On
 *   matching data it needs 0.6-0.7x the CPU of the TypeScript engine (whose BLAKE2 runs in
 *   WASM), so it is ahead whether or not a second core is free (256 MiB, 2 cores shared:
 *   0.79-0.96x rdiff's time against 0.5-0.75x); where nothing matches the TypeScript engine
 *   is faster (1.6-2.2x rdiff against 1.2-1.5x), but both are ahead of rdiff there.
 * Without an operation (a caller that will use the engine for anything), the TypeScript one.
 */
function autoPrefersNative(operation?: EngineOperation): boolean {
  return operation !== undefined;
}
