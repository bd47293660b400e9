/**
 * A state of 200,000 entries written and read back through the streamed format: the same
 * state, and the same bytes when written again. Regression for "an unchanged incremental
 * rewrites the whole state as one string" (issue 8): the write and the read go entry by entry
 * through many chunks of text and of compressed bytes, which a small state never does, and the
 * bytes are those the writer before the batched one wrote (`state-bytes.test.ts` for the rest).
 * (How fast and in how much memory is for bench/state.mjs, not for a test.)
 */
import { readFile, stat } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { artifactFile, readStateDigest, readStateFile, writeStateFile, type BackupState, type StateEntry } from '../../src/state/index.js';
import { useTempDir } from '../helpers/tools.js';

const ID = '20260101T080000000Z-000';
const FILES_PER_DIR = 199;

/** A full backup of `dirs` directories of {@link FILES_PER_DIR} small files each. */
function bigState(dirs: number): BackupState {
  const entries: StateEntry[] = [];
  for (let d = 0; d < dirs; d++) {
    const dir = `src/d${String(d).padStart(4, '0')}`;
    entries.push({ path: dir, type: 'dir', mode: 0o755, uid: 1000, gid: 1000, mtime: `${1767254400000000000n + BigInt(d)}`, size: 0 });
    for (let f = 0; f < FILES_PER_DIR; f++) {
      const n = d * FILES_PER_DIR + f;
      entries.push({
        path: `${dir}/file-${String(f).padStart(3, '0')}.ts`,
        type: 'file',
        mode: 0o644,
        uid: 1000,
        gid: 1000,
        mtime: `${1767254400123456789n + BigInt(n) * 1_000_003n}`,
        size: 8000 + (n % 1000),
        ctime: `${1767254400123456789n + BigInt(n) * 1_000_033n}`,
        ino: String(1_000_000 + n),
        hash: ((BigInt(n) * 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn).toString(16).padStart(16, '0'),
        content: [ID],
        ...(n % 10 === 0 ? { sig: ID } : {}),
      });
    }
  }
  const createdAt = '2026-01-01T08:00:00.000Z';
  return {
    format: 'incremental-backups-tools/state',
    version: 3,
    name: 'src',
    id: ID,
    kind: 'full',
    parent: null,
    createdAt,
    source: '/home/me/src',
    compression: 'gzip',
    checksum: false,
    chain: [
      {
        id: ID,
        kind: 'full',
        createdAt,
        artifacts: [
          { role: 'sigvault', file: `${ID}.sigvault.tar`, size: 1, hash: '0123456789abcdef', compression: 'none', entries: 1 },
          { role: 'files', file: `${ID}.files.tar.gz`, size: 1, hash: '0123456789abcdef', compression: 'gzip', entries: 1 },
        ],
      },
    ],
    warnings: [{ code: 'EUNREADABLE', path: 'src/x', message: 'permission denied' }],
    entries: [{ path: 'src', type: 'dir', mode: 0o755, uid: 1000, gid: 1000, mtime: '0', size: 0 }, ...entries],
    stats: { scanned: 0, created: 0, modified: 0, deleted: 0, unchanged: 0, storedWhole: 0, storedDelta: 0, bytesRead: 0, bytesWritten: 0, durationMs: 0 },
  };
}

describe('a large state', () => {
  const tmp = useTempDir();

  it('200,000 entries round-trip through the streamed format, byte for byte', async () => {
    const state = bigState(1005);
    expect(state.entries.length).toBeGreaterThan(200_000);
    const path = tmp.file(artifactFile(ID, 'state', 'none'));
    const written = await writeStateFile(path, state, { artifactBytes: 2 });
    // What the writer of eb3b9e0 (`JSON.stringify` one entry at a time) wrote: many batches, the same bytes.
    expect([written.size, written.hash, written.digest]).toEqual([7_411_629, 'd3c0d48e7ffe67b3', '7ce31570665e288a']);
    expect((await stat(path)).size).toBe(written.size);
    expect(written.state.stats.bytesWritten).toBe(2 + written.size);
    const read = await readStateFile(path, { id: ID, name: 'src' });
    expect(read.digest).toBe(written.digest);
    expect(await readStateDigest(path)).toBe(written.digest);
    expect(read.state.entries.length).toBe(state.entries.length);
    expect(read.state).toEqual(written.state);
    const again = tmp.file('again.state.json.gz');
    expect((await writeStateFile(again, read.state)).hash).toBe(written.hash);
    const bytes = await readFile(path);
    expect((await readFile(again)).equals(bytes)).toBe(true);
    expect(gunzipSync(bytes).toString('utf8').split('\n').length).toBe(state.entries.length + 4);
  });
});
