// The file helpers promise what rdiff does not: an output appears only when complete, an
// existing one is never replaced without `overwrite`, and every failure names its file.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deltaFile, isBackupError, patchFile, signatureFile } from '../../src/index.js';
import { randomData, scatteredOverwrites } from '../helpers/data.js';
import { useTempDir } from '../helpers/tools.js';

describe('signatureFile, deltaFile, patchFile', () => {
  const dir = useTempDir();
  const f = (name: string) => join(dir.path, name);

  it('round-trip a file through signature, delta and patch', async () => {
    const basis = randomData(1, 200_000);
    const next = scatteredOverwrites(basis, 2, 10);
    await writeFile(f('basis'), basis);
    await writeFile(f('new'), next);
    await signatureFile(f('basis'), f('sig'), { engine: 'js' });
    await deltaFile(f('sig'), f('new'), f('delta'), { engine: 'js' });
    await patchFile(f('basis'), f('delta'), f('out'), { engine: 'js', durable: true });
    expect((await readFile(f('out'))).equals(Buffer.from(next))).toBe(true);
  });

  it('refuses an existing output with EEXIST naming it, and keeps it intact', async () => {
    await writeFile(f('basis'), randomData(3, 1000));
    await writeFile(f('taken'), 'precious');
    const e = await signatureFile(f('basis'), f('taken')).catch((x: unknown) => x);
    expect(isBackupError(e, 'EEXIST')).toBe(true);
    expect((e as Error).message).toContain(f('taken'));
    expect(await readFile(f('taken'), 'utf8')).toBe('precious');
  });

  it('a missing basis is EIO naming the file, exit code 100 as rdiff', async () => {
    const e = await signatureFile(f('missing'), f('sig2')).catch((x: unknown) => x);
    expect(isBackupError(e, 'EIO')).toBe(true);
    expect((e as Error).message).toContain(f('missing'));
    expect((e as { exitCode: number }).exitCode).toBe(100);
  });

  it('a corrupt delta fails with its code naming the delta, and leaves neither output nor temporary file', async () => {
    await writeFile(f('basis'), randomData(4, 5000));
    await writeFile(f('bad-delta'), Uint8Array.of(0x72, 0x73, 0x02, 0x36, 0x41, 0x10, 1, 2, 3));
    const before = (await readdir(dir.path)).sort();
    const e = await patchFile(f('basis'), f('bad-delta'), f('never')).catch((x: unknown) => x);
    expect(isBackupError(e, 'ETRUNCATED')).toBe(true);
    expect((e as Error).message).toContain(f('bad-delta'));
    expect((await readdir(dir.path)).sort()).toEqual(before);
  });
});
