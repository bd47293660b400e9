import { open, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { DeltaWriter } from '../../src/rsync/delta-writer.js';
import { patch } from '../../src/rsync/patch.js';
import { isBackupError } from '../../src/errors.js';
import { sameBytes } from '../helpers/bytes.js';
import { Prng, randomData } from '../helpers/data.js';
import { forEachEngine } from '../helpers/engines.js';
import { RDIFF_EXIT, runRdiff } from '../helpers/rdiff.js';
import { collect, collectOutcome } from '../helpers/streams.js';
import { requireTool, useTempDir } from '../helpers/tools.js';

const BASIS = randomData(61, 3 << 20);

/** A delta of random COPYs (any offsets, overlapping, backwards) and literals, and its result. */
function randomDelta(seed: number, commands: number, maxLen: number): { delta: Uint8Array; result: Uint8Array } {
  const rng = new Prng(seed);
  const w = new DeltaWriter();
  const parts: Uint8Array[] = [];
  for (let i = 0; i < commands; i++) {
    const len = 1 + rng.int(maxLen);
    if (rng.int(2) === 0) {
      const data = rng.bytes(len);
      w.literal(data, 0, len);
      parts.push(data);
    } else {
      const offset = rng.int(BASIS.length - len);
      w.copy(offset, len);
      parts.push(BASIS.subarray(offset, offset + len));
    }
  }
  w.end();
  return { delta: Buffer.concat(w.take(true)), result: Buffer.concat(parts) };
}

describe('patch', () => {
  forEachEngine((engine) => {
    const dir = useTempDir();

    it.each([
      ['many small commands', 1, 20_000, 100],
      ['a few copies longer than an output chunk', 2, 6, 3 << 20],
    ])('%s: the same result from a buffer and from an open file', async (_, seed, commands, maxLen) => {
      const { delta, result } = randomDelta(seed, commands, Math.min(maxLen, BASIS.length - 1));
      expect(sameBytes(await collect(engine.patch(BASIS, delta)), result)).toBe('same');
      await writeFile(dir.file('basis'), BASIS);
      const handle = await open(dir.file('basis'));
      try {
        expect(sameBytes(await collect(engine.patch(handle, delta)), result)).toBe('same');
      } finally {
        await handle.close();
      }
    });

    // The TypeScript engine let node's EISDIR escape as a plain Error with no exit code.
    it('a basis that cannot be read is EIO (rdiff exits 100)', async () => {
      const handle = await open(dir.path, 'r');
      try {
        const outcome = await collectOutcome(engine.patch(handle, Uint8Array.of(0x72, 0x73, 0x02, 0x36, 0x45, 0, 5, 0)));
        expect(isBackupError(outcome.error, 'EIO'), String(outcome.error)).toBe(true);
        expect((outcome.error as { exitCode: number }).exitCode).toBe(RDIFF_EXIT.EIO);
      } finally {
        await handle.close();
      }
    });

    it('gathers many small commands into few large output chunks', async () => {
      const { delta, result } = randomDelta(3, 50_000, 40);
      let chunks = 0;
      for await (const chunk of engine.patch(BASIS, delta)) if (chunk.length > 0) chunks++;
      expect(chunks).toBeLessThanOrEqual(Math.ceil(result.length / 65536) + 1);
    });
  });
});

describe('patch memory', () => {
  const dir = useTempDir();

  // A COPY was gathered whole before any of it was handed out, so patching a file whose
  // delta is one multi-gigabyte COPY held gigabytes (found by the large-file test).
  it('hands out a long COPY while reading it, not after', async () => {
    const size = 64 << 20;
    await writeFile(dir.file('big'), Buffer.concat([BASIS, BASIS, BASIS, BASIS]).subarray(0, 12 << 20));
    const handle = await open(dir.file('big'), 'r+');
    try {
      await handle.truncate(size);
      let read = 0;
      const counting = {
        read: async (buffer: Uint8Array, offset: number, length: number, position: number) => {
          const r = await handle.read(buffer, offset, length, position);
          read += r.bytesRead;
          return r;
        },
      };
      const w = new DeltaWriter();
      w.copy(0, size);
      w.end();
      let readAtFirstChunk = -1;
      let total = 0;
      for await (const chunk of patch(counting, Buffer.concat(w.take(true)))) {
        if (readAtFirstChunk < 0) readAtFirstChunk = read;
        total += chunk.length;
      }
      expect(total).toBe(size);
      expect(readAtFirstChunk).toBeLessThanOrEqual(4 << 20);
    } finally {
      await handle.close();
    }
  });
});

describe('patch errors', () => {
  const dir = useTempDir();

  // A COPY that started at or past the end printed its own offset as the basis size.
  it.each([
    ['ending past the end', BASIS.length - 10, 20],
    ['starting at the end', BASIS.length, 1],
    ['starting past the end', BASIS.length + 12_345, 10],
    ['starting at 2^53', 2 ** 53, 1],
  ])('a COPY %s names the basis size, not its offset', async (_, offset, len) => {
    const w = new DeltaWriter();
    w.copy(offset, len);
    w.end();
    const delta = Buffer.concat(w.take(true));
    await writeFile(dir.file('basis'), BASIS);
    const handle = await open(dir.file('basis'));
    try {
      for (const basis of [BASIS, handle]) {
        const { error } = await collectOutcome(patch(basis, delta));
        expect(isBackupError(error, 'ETRUNCATED'), String(error)).toBe(true);
        expect((error as Error).message).toBe(`delta copies ${len} bytes at offset ${offset}, past the end of the basis (${BASIS.length} bytes)`);
      }
    } finally {
      await handle.close();
    }
  });
});

const rdiff = requireTool('rdiff');

describe.skipIf(rdiff.skip)(`rdiff patch with an unreadable basis${rdiff.note}`, () => {
  const dir = useTempDir();

  it('exits 100 (EIO) when the basis is a directory', async () => {
    await writeFile(dir.file('delta'), Uint8Array.of(0x72, 0x73, 0x02, 0x36, 0x45, 0, 5, 0));
    const r = await runRdiff(['-f', 'patch', dir.path, dir.file('delta'), dir.file('out')]);
    expect(r.code).toBe(RDIFF_EXIT.EIO);
  });
});
