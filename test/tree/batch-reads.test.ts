/**
 * Small files read by worker threads (`tree/batch-reads.ts`) must give exactly what the main
 * thread's stable read gives: the bytes, metadata and hash of a regular file, and the same
 * warning (and `keepPrevious`) for whatever else stands at its name. A backup large enough to
 * start the workers must restore the tree exactly and warn as a small one does.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fullBackup, incrementalBackup, restoreBackup } from '../../src/index.js';
import { createStrongHasher, signatureParams, SignatureEncoder } from '../../src/rsync/index.js';
import { signatureHeader } from '../../src/rsync/signature.js';
import { DirTree } from '../../src/io/dir-tree.js';
import { BatchReader, createContentHasher, openStable, TreeWorkers, type BatchOutcome } from '../../src/tree/index.js';
import { isTorn } from '../helpers/mtime-keeping-writer.js';
import { collect } from '../helpers/streams.js';
import { distBuilt } from '../helpers/unprivileged.js';
import { onCi, requireTool, withTempDir } from '../helpers/tools.js';
import { CAMPAIGN_FILE_SIZE, tornReadCampaign } from '../helpers/torn-read-campaign.js';

const mkfifo = requireTool('mkfifo');
const skip = !distBuilt && !onCi;
const note = skip ? ' (skipped: run npm run build first: the worker script comes from dist/)' : '';

/** A reader on workers of its own, stopped with it. */
function startReader(tree: DirTree, maxSize: number): (BatchReader & { stop(): void }) | undefined {
  const workers = TreeWorkers.start();
  if (!workers) return undefined;
  return Object.assign(new BatchReader(tree, workers, maxSize), {
    stop(this: BatchReader): void {
      this.close();
      workers.close();
    },
  });
}

/** What openStable and a full read give for `path`, in the batch reader's terms. */
async function mainThreadRead(tree: DirTree, path: string, maxSize: number): Promise<BatchOutcome> {
  const o = await openStable(tree, path);
  if (!o.read) return o;
  try {
    if (o.read.meta.size > maxSize) return { grown: true };
    const bytes = await collect(o.read.chunks);
    const h = await createContentHasher();
    h.update(bytes);
    return { read: { meta: o.read.meta, bytes: new Uint8Array(bytes), hash: h.digest(), changed: o.read.changed, racy: o.read.racy } };
  } finally {
    await o.read.close();
  }
}

describe.skipIf(skip || mkfifo.skip)(`batch reads${note}${mkfifo.note}`, () => {
  it('give what a stable read gives, for files of every size and for everything that is not a file', () =>
    withTempDir(async (tmp) => {
      const root = tmp.path;
      await mkdir(join(root, 'd/sub'), { recursive: true });
      const sizes = [0, 1, 511, 512, 4096, 70_000, 1 << 20];
      for (const s of sizes) await writeFile(join(root, `d/f${s}`), Buffer.alloc(s, s % 251));
      await writeFile(join(root, 'd/big'), Buffer.alloc((1 << 20) + 1, 7));
      await writeFile(join(root, 'top'), 'at the root');
      expect(spawnSync('mkfifo', [join(root, 'd/fifo')]).status).toBe(0);
      await symlink('f1', join(root, 'd/link'));
      await mkdir(join(root, 'd/adir'));
      await writeFile(join(root, 'elsewhere'), 'x');
      await symlink('d', join(root, 'swapped'));
      const paths = [...sizes.map((s) => `d/f${s}`), 'd/big', 'top', 'd/fifo', 'd/link', 'd/adir', 'd/gone', 'swapped/f1', 'nodir/x'];
      const tree = await DirTree.open(root);
      const reader = startReader(tree, 1 << 20);
      try {
        expect(reader, 'worker threads are available').toBeDefined();
        const batched = await Promise.all(paths.map((p) => reader!.read(p, 0)));
        for (const [i, p] of paths.entries()) {
          const want = await mainThreadRead(tree, p, 1 << 20);
          const got = batched[i]!;
          if ('read' in want && want.read) {
            expect(got, p).toHaveProperty('read');
            const r = (got as { read: NonNullable<typeof want.read> }).read;
            expect(Buffer.from(r.bytes).equals(Buffer.from(want.read.bytes)), `${p}: the same bytes`).toBe(true);
            expect({ ...r, bytes: undefined, racy: false }, p).toEqual({ ...want.read, bytes: undefined, racy: false });
          } else {
            expect(got, p).toEqual(want);
          }
        }
        const params = signatureParams({ blockLength: 2048, strongLength: 16, fileSize: 70_000 });
        const signed = await reader!.read('d/f70000', 70_000, params);
        const encoder = new SignatureEncoder(params, await createStrongHasher('blake2'));
        const data = Buffer.alloc(70_000, 70_000 % 251);
        expect(Buffer.from((signed as { read: { signature: Uint8Array } }).read.signature)).toEqual(Buffer.concat([signatureHeader(params), encoder.push(data), encoder.end()]));
        const wrongSize = await reader!.read('d/f70000', 69_999, params);
        expect((wrongSize as { read: { signature?: Uint8Array } }).read.signature, 'no signature for a file that has not the size it was asked for').toBeUndefined();
        expect(batched.filter((o) => 'warning' in o && o.warning).map((o) => (o as { warning: { code: string } }).warning.code)).toEqual([
          'ESPECIAL',
          'EUNREADABLE',
          'EUNREADABLE',
          'EVANISHED',
          'EUNREADABLE',
          'EVANISHED',
        ]);
      } finally {
        reader?.stop();
        await tree.close();
      }
    }));

  it('20+ rounds of a writer that puts the old mtime back: 0 torn reads stored as clean (the worker checks as the main thread does)', () =>
    withTempDir(async (tmp) => {
      const result = await tornReadCampaign(tmp, (tree) => {
        const reader = startReader(tree, CAMPAIGN_FILE_SIZE)!;
        return {
          read: async () => {
            const got = await reader.read('f', CAMPAIGN_FILE_SIZE);
            if (!('read' in got) || !got.read) throw new Error(JSON.stringify(got));
            const { bytes, changed, racy } = got.read;
            return { torn: isTorn(bytes), flagged: changed || racy };
          },
          stop: () => reader.stop(),
        };
      });
      expect(result).toEqual({ enoughRounds: true, tornSeen: true, unflagged: 0 });
    }));

  it('fail reads still pending once closed, instead of leaving them waiting (a hang)', () =>
    withTempDir(async (tmp) => {
      await writeFile(join(tmp.path, 'a'), 'a');
      const tree = await DirTree.open(tmp.path);
      const reader = startReader(tree, 1 << 20)!;
      try {
        const pending = reader.read('a', 1);
        reader.stop();
        await expect(pending).rejects.toMatchObject({ code: 'EINTERNAL' });
      } finally {
        await tree.close();
      }
    }));

  it('a backup with enough small files to start the workers restores the tree exactly and warns as a small one does', () =>
    withTempDir(async (tmp) => {
      const src = join(tmp.path, 'src');
      for (let d = 0; d < 7; d++) {
        await mkdir(join(src, `dir${d}`), { recursive: true });
        for (let f = 0; f < 60; f++) await writeFile(join(src, `dir${d}/f${f}`), `file ${d}/${f} `.repeat(f * 40 + d));
      }
      await writeFile(join(src, 'dir3/sig'), Buffer.alloc(40_000, 3));
      expect(spawnSync('mkfifo', [join(src, 'dir5/pipe')]).status).toBe(0);
      const report = await fullBackup(src, { workDir: join(tmp.path, 'work'), name: 'many' });
      expect(report.stats.storedWhole).toBe(7 * 60 + 1);
      expect(report.warnings.map((w) => [w.code, w.path])).toEqual([['ESPECIAL', 'dir5/pipe']]);
      await rm(join(src, 'dir5/pipe'));
      // The signature the worker computed serves the next backup's delta.
      const changed = Buffer.alloc(40_000, 3);
      changed.fill(9, 20_000, 20_100);
      await writeFile(join(src, 'dir3/sig'), changed);
      const incr = await incrementalBackup(src, { workDir: join(tmp.path, 'work'), name: 'many' });
      expect(incr.stats.storedDelta).toBe(1);
      const out = join(tmp.path, 'out');
      await restoreBackup('many', out, { workDir: join(tmp.path, 'work') });
      for (let d = 0; d < 7; d++) {
        for (let f = 0; f < 60; f++) expect(await readFile(join(out, `dir${d}/f${f}`), 'utf8')).toBe(`file ${d}/${f} `.repeat(f * 40 + d));
      }
      expect(await readFile(join(out, 'dir3/sig'))).toEqual(changed);
    }));
});
