/**
 * With the addon built, `auto` picks the native engine for every operation it measured
 * faster for (signature, delta, patch) and the TypeScript engine when no operation is named;
 * `native` and `IBT_ENGINE=native` always get the native engine.
 */
import { afterEach, expect, it } from 'vitest';
import { nativeAvailable, selectEngine } from '../../src/engine/select.js';
import { describeNative } from './native.js';

describeNative('native engine: selection', ({ engine }) => {
  const saved = process.env.IBT_ENGINE;
  afterEach(() => {
    if (saved === undefined) delete process.env.IBT_ENGINE;
    else process.env.IBT_ENGINE = saved;
  });

  it('auto: native for signature, delta and patch, js for no stated operation', () => {
    delete process.env.IBT_ENGINE;
    expect(nativeAvailable()).toBe(true);
    expect(selectEngine('auto', 'signature')).toBe(engine);
    expect(selectEngine(undefined, 'patch')).toBe(engine);
    expect(selectEngine('auto', 'delta')).toBe(engine);
    expect(selectEngine('auto').name).toBe('js');
  });

  it('native, by option or IBT_ENGINE, for every operation', () => {
    expect(selectEngine('native', 'delta')).toBe(engine);
    process.env.IBT_ENGINE = 'native';
    expect(selectEngine(undefined, 'delta')).toBe(engine);
    expect(selectEngine('js', 'signature').name).toBe('js');
  });
});
