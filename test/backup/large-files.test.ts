/**
 * Files large enough for the engine's workers (16 MiB and up): their signature and delta are
 * computed off the main thread from channels of the one read. The signature stored must be
 * the one a single pass computes (the next backup's deltas depend on it), the delta must
 * restore the file, and a backup of such a file must not be slower to finish than it is to
 * read (no consumer may stall the reader forever: a hang is a failure here).
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cp } from 'node:fs/promises';
import { fullBackup, incrementalBackup, restoreBackup } from '../../src/index.js';
import { nativeAvailable } from '../../src/engine/select.js';
import { readSignatures } from '../../src/archive/sigvault.js';
import { signatureOptionsFor } from '../../src/backup/policy.js';
import { serializeSignature, signature } from '../../src/rsync/signature.js';
import { collect } from '../helpers/streams.js';
import { withTempDir } from '../helpers/tools.js';

const MiB = 1 << 20;

describe('backups of files the engine workers sign and diff', () => {
  it('store the single-pass signature, a small delta for a small edit, and restore every byte', () =>
    withTempDir(async (tmp) => {
      const src = join(tmp.path, 'src');
      const work = join(tmp.path, 'work');
      await import('node:fs/promises').then((fs) => fs.mkdir(src));
      const original = randomBytes(40 * MiB);
      await writeFile(join(src, 'image'), original);
      const full = await fullBackup(src, { workDir: work, name: 'big' });
      const vault = full.files.find((f) => f.role === 'sigvault')!;
      const stored = [];
      for await (const s of readSignatures(vault.path, new Set(['image']))) stored.push(s);
      const single = await collect(signature([original], signatureOptionsFor(original.length)));
      expect(Buffer.from(serializeSignature(stored[0]!.signature)).equals(single)).toBe(true);

      const edited = Buffer.concat([original, randomBytes(MiB)]);
      randomBytes(64 * 1024).copy(edited, 17 * MiB + 123);
      await writeFile(join(src, 'image'), edited);
      const incr = await incrementalBackup(src, { workDir: work, name: 'big' });
      expect(incr.stats.storedDelta).toBe(1);
      const deltas = incr.files.find((f) => f.role === 'deltas')!;
      expect(deltas.size).toBeLessThan(3 * MiB);

      await restoreBackup('big', join(tmp.path, 'out'), { workDir: work });
      expect((await readFile(join(tmp.path, 'out/image'))).equals(edited)).toBe(true);
    }));

  it('write the same delta and signature whichever engine scans the delta, copying matched records into the signature', () =>
    withTempDir(async (tmp) => {
      const src = join(tmp.path, 'src');
      await import('node:fs/promises').then((fs) => fs.mkdir(src));
      const original = randomBytes(24 * MiB);
      await writeFile(join(src, 'image'), original);
      await fullBackup(src, { workDir: join(tmp.path, 'base'), name: 'big' });
      const edited = Buffer.concat([original.subarray(0, 5 * MiB), randomBytes(3000), original.subarray(5 * MiB)]);
      randomBytes(70_000).copy(edited, 19 * MiB + 77);
      await writeFile(join(src, 'image'), edited);
      const single = await collect(signature([edited], signatureOptionsFor(edited.length)));
      const engines: ('js' | 'native' | 'auto')[] = nativeAvailable() || process.env.CI === 'true' ? ['js', 'native', 'auto'] : ['js', 'auto'];
      const deltas: Buffer[] = [];
      for (const engine of engines) {
        const work = join(tmp.path, `work-${engine}`);
        await cp(join(tmp.path, 'base'), work, { recursive: true });
        const incr = await incrementalBackup(src, { workDir: work, name: 'big', engine });
        expect(incr.stats.storedDelta).toBe(1);
        const vault = incr.files.find((f) => f.role === 'sigvault')!;
        const stored = [];
        for await (const s of readSignatures(vault.path, new Set(['image']))) stored.push(s);
        expect(Buffer.from(serializeSignature(stored[0]!.signature)).equals(single)).toBe(true);
        deltas.push(await readFile(incr.files.find((f) => f.role === 'deltas')!.path));
        await restoreBackup('big', join(tmp.path, `out-${engine}`), { workDir: work });
        expect((await readFile(join(tmp.path, `out-${engine}/image`))).equals(edited)).toBe(true);
      }
      for (const d of deltas.slice(1)) expect(d.equals(deltas[0]!)).toBe(true);
    }));
});
