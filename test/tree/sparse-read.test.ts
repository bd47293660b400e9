/**
 * Regression: "holes not read at all where the platform can tell where they are". A stable
 * read asks the file system for the data segments and yields zeros for the holes. The bytes
 * that went through read syscalls are counted by the kernel (`rchar` in /proc/self/io),
 * which is deterministic, unlike a time: a 1 GiB file with 1 MiB of data must cost a few MiB
 * of reads, not 1 GiB, and the bytes yielded must be the file's.
 */
import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { DirTree } from '../../src/io/dir-tree.js';
import { loadAddon } from '../../src/io/native-addon.js';
import { openStable } from '../../src/tree/index.js';
import { Prng } from '../helpers/data.js';
import { onCi, withTempDir } from '../helpers/tools.js';

const MiB = 1 << 20;
const GiB = 1 << 30;
const addon = loadAddon();
const canTell = addon.addon !== undefined && process.platform === 'linux';
const note = canTell ? '' : ` (skipped: ${addon.error ?? 'no /proc/self/io here'})`;

/** Bytes this process has passed through read syscalls so far. */
function rchar(): number {
  const m = /^rchar:\s*(\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'));
  if (!m) throw new Error('/proc/self/io has no rchar line');
  return Number(m[1]);
}

describe.skipIf(!canTell && !onCi)(`openStable on a sparse file${note}`, () => {
  it('a 1 GiB sparse file with 1 MiB of data is read with a few MiB of read syscalls, and yields its exact bytes', () =>
    withTempDir(async (tmp) => {
      // 16 pieces of 64 KiB: one at the start, one ending at the end, the rest scattered
      // (some straddling a 1 MiB chunk boundary).
      const rng = new Prng(42);
      const pieces: Array<{ at: number; bytes: Buffer }> = [];
      const size = 64 * 1024;
      const piece = (at: number): { at: number; bytes: Buffer } => ({ at, bytes: Buffer.from(rng.bytes(size)) });
      pieces.push(piece(0));
      for (let i = 1; i < 15; i++) pieces.push(piece(i * 64 * MiB + MiB - 4096 * i));
      pieces.push(piece(GiB - size));
      const fh = await open(tmp.file('disk.img'), 'w');
      try {
        await fh.truncate(GiB);
        for (const p of pieces) await fh.write(p.bytes, 0, size, p.at);
      } finally {
        await fh.close();
      }

      const tree = await DirTree.open(tmp.path);
      try {
        const before = rchar();
        const opened = await openStable(tree, 'disk.img');
        if (!opened.read) throw new Error(JSON.stringify(opened.warning));
        const read = opened.read;
        let pos = 0;
        let chunks = 0;
        const zeros = Buffer.alloc(MiB);
        try {
          for await (const chunk of read.chunks) {
            chunks++;
            expect(chunk.length).toBeLessThanOrEqual(MiB);
            const overlapping = pieces.filter((p) => p.at < pos + chunk.length && p.at + size > pos);
            if (overlapping.length === 0) {
              expect(Buffer.compare(chunk, zeros.subarray(0, chunk.length)), `zeros at ${pos}`).toBe(0);
            } else {
              const want = Buffer.alloc(chunk.length);
              for (const p of overlapping) p.bytes.copy(want, Math.max(0, p.at - pos), Math.max(0, pos - p.at), Math.min(size, pos + chunk.length - p.at));
              expect(Buffer.compare(chunk, want), `bytes at ${pos}`).toBe(0);
            }
            pos += chunk.length;
          }
        } finally {
          await read.close();
        }
        const readBytes = rchar() - before;
        expect(pos).toBe(GiB);
        expect(chunks).toBe(1024);
        expect(read.changed).toBe(false);
        // 1 MiB of data, plus whatever else this process read meanwhile (a few KiB).
        expect(readBytes).toBeGreaterThanOrEqual(pieces.length * size);
        expect(readBytes).toBeLessThan(4 * MiB);
      } finally {
        await tree.close();
      }
    }));
});
