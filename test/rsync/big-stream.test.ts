import { describe, expect, it } from 'vitest';
import { bigStream, spliced, StreamHash } from '../helpers/big-stream.js';
import { applyEdits } from '../helpers/data.js';
import { collect, inChunks } from '../helpers/streams.js';

// The large-file test trusts these helpers for its expected results, so they are checked
// against the small, obviously correct applyEdits first.
describe('large-file test helpers', () => {
  const size = 3 * (1 << 20) + 5;
  const base = Buffer.concat([...bigStream(1, size)]);

  it('bigStream is deterministic, exactly `size` bytes, with no repeated 64 KiB block', () => {
    expect(base.length).toBe(size);
    expect(Buffer.concat([...bigStream(1, size)]).equals(base)).toBe(true);
    const blocks = new Set<string>();
    for (let at = 0; at + 65536 <= size; at += 65536) blocks.add(base.subarray(at, at + 65536).toString('base64'));
    expect(blocks.size).toBe(Math.floor(size / 65536));
  });

  it('spliced equals applyEdits, whatever the chunking, including edits at both ends', () => {
    const splices = [
      { at: 0, remove: 3, insert: Uint8Array.of(1, 2) },
      { at: 1 << 20, remove: 0, insert: Uint8Array.of(9) },
      { at: (1 << 20) + 10, remove: 1 << 20, insert: new Uint8Array(0) },
      { at: size, remove: 0, insert: Uint8Array.of(7, 7, 7) },
    ];
    // applyEdits positions are in the current data, so apply from the end backwards.
    const want = applyEdits(base, [...splices].reverse());
    expect(Buffer.concat([...spliced(bigStream(1, size), splices)]).equals(want)).toBe(true);
  });

  it('StreamHash gives one digest however the stream is cut', async () => {
    const a = await (await StreamHash.create()).consume([base]);
    const b = await (await StreamHash.create()).consume(inChunks(base, [1, 777, 3 << 20]));
    expect(a).toBe(b);
    const c = await (await StreamHash.create()).consume([await collect(inChunks(base.subarray(1), [5000]))]);
    expect(c).not.toBe(a);
  });
});
