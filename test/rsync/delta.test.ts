/**
 * The delta scan's documented consequences (`src/rsync/README.md` §6), as exact command lists: one COPY
 * for an identical file, the short last block matching only at the very end, COPY merging
 * only when contiguous in the basis, the lowest of identical blocks winning, and the slack
 * delta of an empty basis.
 */
import { describe, expect, it } from 'vitest';
import { deltaCommands } from '../helpers/bytes.js';
import { randomData } from '../helpers/data.js';
import { forEachEngine } from '../helpers/engines.js';
import { collect } from '../helpers/streams.js';

const concat = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));
const copy = (offset: number, length: number) => ({ offset, length });

describe('delta commands', () => {
  forEachEngine((engine) => {
    const deltaOf = async (basis: Uint8Array, data: Uint8Array, blockLength = 1000, maxLiteral?: number) =>
      collect(engine.delta(await collect(engine.signature(basis, { blockLength })), data, { maxLiteral }));
    const commandsOf = async (basis: Uint8Array, data: Uint8Array, blockLength = 1000) =>
      deltaCommands(await deltaOf(basis, data, blockLength)).map((c) => ('literal' in c ? { literal: c.literal } : copy(c.offset, c.length)));

    const basis = randomData(41, 10_480);

    it('an identical file is one COPY: 72 73 02 36 46 00 28 f0 00', async () => {
      expect(Buffer.from(await deltaOf(basis, basis)).toString('hex')).toBe('72730236460028f000');
    });

    it('the short last block matches at the very end of the new file', async () => {
      const data = concat(basis.subarray(1000, 3000), basis.subarray(10_000));
      expect(await commandsOf(basis, data)).toEqual([copy(1000, 2000), copy(10_000, 480)]);
    });

    it('the short last block followed by one more byte is literal', async () => {
      const data = concat(basis.subarray(1000, 3000), basis.subarray(10_000), Uint8Array.of(7));
      expect(await commandsOf(basis, data)).toEqual([copy(1000, 2000), { literal: 481 }]);
    });

    it('a full window never matches the short last block', async () => {
      const data = concat(basis.subarray(10_000), basis.subarray(0, 1000));
      expect(await commandsOf(basis, data)).toEqual([{ literal: 480 }, copy(0, 1000)]);
    });

    it('adjacent hits merge only when contiguous in the basis', async () => {
      const data = concat(basis.subarray(2000, 4000), basis.subarray(1000, 2000), basis.subarray(4000, 5000));
      expect(await commandsOf(basis, data)).toEqual([copy(2000, 2000), copy(1000, 1000), copy(4000, 1000)]);
    });

    it('a repeated block gives one COPY per repetition (300 × COPY_N1_N2(0, 1000))', async () => {
      const block = basis.subarray(0, 1000);
      const data = concat(...Array.from({ length: 300 }, () => block));
      const delta = await deltaOf(basis, data);
      expect(delta.length).toBe(4 + 300 * 4 + 1);
      expect(deltaCommands(delta)).toEqual(Array.from({ length: 300 }, () => ({ op: 0x46, offset: 0, length: 1000 })));
    });

    it('among identical basis blocks the lowest index is copied', async () => {
      const x = randomData(42, 1000);
      const twice = concat(randomData(43, 1000), x, x, x);
      expect(await commandsOf(twice, x)).toEqual([copy(1000, 1000)]);
    });

    it('a literal between matches is cut at the match, greedily', async () => {
      const data = concat(basis.subarray(0, 1000), Uint8Array.of(1, 2, 3), basis.subarray(1000, 2000));
      expect(await commandsOf(basis, data)).toEqual([copy(0, 1000), { literal: 3 }, copy(1000, 1000)]);
    });

    it('an empty basis gives 256-byte literals (2.3.2) or one literal (maxLiteral 65533)', async () => {
      const data = randomData(44, 1000);
      const empty = new Uint8Array(0);
      const old = deltaCommands(await deltaOf(empty, data, 0)).map((c) => ('literal' in c ? c.literal : -1));
      expect(old).toEqual([256, 256, 256, 232]);
      const newer = deltaCommands(await deltaOf(empty, data, 0, 65533)).map((c) => ('literal' in c ? c.literal : -1));
      expect(newer).toEqual([1000]);
    });

    it('an empty new file is the 5-byte delta 72 73 02 36 00', async () => {
      expect(Buffer.from(await deltaOf(basis, new Uint8Array(0))).toString('hex')).toBe('7273023600');
    });
  });
});
