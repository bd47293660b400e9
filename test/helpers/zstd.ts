/**
 * zstd in tests: suites that need the zstd-napi binding (an optional dependency) skip, saying
 * why, where it did not build; on CI (`CI=true`) its absence is a failing test, because CI
 * must prove the zstd codec.
 */
import { it } from 'vitest';
import { zstdSupport, type ZstdBinding } from '../../src/archive/zstd-binding.js';
import { onCi, type ToolRequirement } from './tools.js';

/** The binding, when it loads. */
export const zstdBinding: ZstdBinding | undefined = zstdSupport().binding;

/** Whether suites that need zstd-napi run; use as `describe.skipIf(req.skip)(\`title${req.note}\`, …)`. */
export function requireZstdBinding(): ToolRequirement {
  const reason = zstdSupport().reason;
  if (reason === undefined) return { available: true, skip: false, note: '' };
  if (onCi) {
    it('zstd-napi loads (required when CI=true)', () => {
      throw new Error(`zstd-napi must build and load on CI: ${reason}`);
    });
    return { available: false, skip: false, note: '' };
  }
  console.warn(`[tests] zstd-napi does not load: zstd suites are skipped (${reason})`);
  return { available: false, skip: true, note: ` (skipped: ${reason})` };
}
