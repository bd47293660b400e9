/**
 * Loading the addon: it is optional, so every way it can be unusable — not built, not
 * loadable, built from other sources (another ABI) — is a reason string, never an exception,
 * and the callers fall back (the engine to TypeScript, patches to copies through memory).
 */
import { writeFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { loadAddonFrom } from '../../src/io/native-addon.js';
import { useTempDir } from '../helpers/tools.js';

const dir = useTempDir();

it('a missing build: "not built", with the command that builds it', () => {
  const load = loadAddonFrom(dir.file('none.node'));
  expect(load.addon).toBeUndefined();
  expect(load.error).toMatch(/not built.*npm run build:native/);
});

// A build left from before copyFileRange (ABI 2) has none of it: the patch would call a
// function that is not there. It must be refused as a whole, with the fix.
it('a build of another ABI (a stale build) is refused with the fix', async () => {
  for (const abi of [2, 4]) {
    const path = dir.file(`stale-${abi}.cjs`);
    await writeFile(path, `module.exports = { abi: ${abi}, librsyncVersion: 'librsync 2.3.2' };\n`);
    const load = loadAddonFrom(path);
    expect(load.addon).toBeUndefined();
    expect(load.error).toMatch(/another version of this package.*npm run build:native/);
  }
});

it('a file that does not load is refused with the loader’s reason', async () => {
  const path = dir.file('broken.node');
  await writeFile(path, 'not a shared object');
  const load = loadAddonFrom(path);
  expect(load.addon).toBeUndefined();
  expect(load.error).toMatch(/does not load .*npm run build:native/);
});
