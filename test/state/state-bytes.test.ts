/**
 * The bytes of a state file are pinned: a fixed state, with every kind of entry and field and
 * the strings that need escaping (quotes, backslashes, control characters, U+2028, astral and
 * lone surrogates, and a path holding `},{"path":` itself), is written to exactly the bytes the
 * release before the batched writer wrote (eb3b9e0, `JSON.stringify` one entry at a time).
 * Regression for "a faster writer changes the file": a state written before and after must be
 * byte-identical, so that its digest, its hash and every parent link to it stay what they were.
 * (The 200,000-entry state of `large-state.test.ts` pins the same across many batches.)
 */
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { artifactFile, readStateFile, serializeState, writeStateFile, type BackupState, type StateEntry } from '../../src/state/index.js';
import { hashChunks } from '../../src/tree/content-hash.js';
import { useTempDir } from '../helpers/tools.js';

const A = '20260101T080000000Z-000';
const B = '20260102T080000000Z-000';
const HASH = '0123456789abcdef';

const meta = { mode: 0o644, uid: 1000, gid: 100, mtime: '1767254400123456789' };
const file = (path: string, extra: Partial<StateEntry> = {}): StateEntry =>
  ({ path, type: 'file', ...meta, size: 42, ctime: '-1', ino: '18446744073709551615', hash: HASH, content: [A], ...extra }) as StateEntry;
const dir = (path: string): StateEntry => ({ path, type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: '0', size: 0 });

/** Incremental `B` on top of full `A`: one entry of every shape, names that need escaping. */
function fixedState(): BackupState {
  const entries: StateEntry[] = [
    dir('a'),
    file('a/"quoted"'),
    file('a/back\\slash', { sig: A }),
    file('a/ctl\u0001\u001f\u007f', { unstable: true }),
    { path: 'a/line\u2028sep', type: 'symlink', mode: 0o777, uid: 1000, gid: 100, mtime: '-5', size: 0, target: '../\u00e9/"t"\\' },
    file('a/x},{"path":"y', { content: [A, B], steps: [{ size: 7, hash: 'fedcba9876543210' }], sig: B }),
    dir('a/\u00e9'),
    file('a/\u00e9/\u4e2d\u6587.txt', { size: 0, content: [B] }),
    file('a/\ud800lone'),
    file('a/\ud83d\ude00', { size: 9_007_199_254_740_991, content: [A, B], steps: [{ size: 0, hash: HASH }], unstable: true }),
    dir('b'),
  ];
  entries.sort((x, y) => (x.path < y.path ? -1 : 1));
  const link = (id: string, kind: 'full' | 'incremental', createdAt: string, roles: ('sigvault' | 'files' | 'deltas')[]) => ({
    id,
    kind,
    createdAt,
    artifacts: roles.map((role) => ({
      role,
      file: `${id}.${role}.tar${role === 'sigvault' ? '' : '.gz'}`,
      size: 1000,
      hash: HASH,
      compression: role === 'sigvault' ? ('none' as const) : ('gzip' as const),
      entries: 3,
    })),
  });
  return {
    format: 'incremental-backups-tools/state',
    version: 3,
    name: 'src \u00e9',
    id: B,
    kind: 'incremental',
    parent: { id: A, digest: 'fedcba9876543210' },
    createdAt: '2026-01-02T08:00:00.000Z',
    source: '/home/me/"src"',
    compression: 'gzip',
    checksum: true,
    chain: [link(A, 'full', '2026-01-01T08:00:00.000Z', ['sigvault', 'files']), link(B, 'incremental', '2026-01-02T08:00:00.000Z', ['sigvault', 'files', 'deltas'])],
    warnings: [
      { code: 'ECHANGED', path: 'a/"quoted"', message: 'changed while read\nline two' },
      { code: 'EUNREADABLE', path: 'a/\u00e9', message: 'permission denied' },
    ],
    entries,
    stats: { scanned: 11, created: 1, modified: 2, deleted: 3, unchanged: 4, storedWhole: 5, storedDelta: 6, bytesRead: 7, bytesWritten: 0, durationMs: 8 },
  };
}

/** The text of {@link fixedState}'s file, as eb3b9e0 wrote it (`zcat`). */
const TEXT = [
  '{"format":"incremental-backups-tools/state","version":3,"name":"src é","id":"20260102T080000000Z-000","kind":"incremental","parent":{"id":"20260101T080000000Z-000","digest":"fedcba9876543210"},"createdAt":"2026-01-02T08:00:00.000Z","source":"/home/me/\\"src\\"","compression":"gzip","checksum":true,"chain":[{"id":"20260101T080000000Z-000","kind":"full","createdAt":"2026-01-01T08:00:00.000Z","artifacts":[{"role":"sigvault","file":"20260101T080000000Z-000.sigvault.tar","size":1000,"hash":"0123456789abcdef","compression":"none","entries":3},{"role":"files","file":"20260101T080000000Z-000.files.tar.gz","size":1000,"hash":"0123456789abcdef","compression":"gzip","entries":3}]},{"id":"20260102T080000000Z-000","kind":"incremental","createdAt":"2026-01-02T08:00:00.000Z","artifacts":[{"role":"sigvault","file":"20260102T080000000Z-000.sigvault.tar","size":1000,"hash":"0123456789abcdef","compression":"none","entries":3},{"role":"files","file":"20260102T080000000Z-000.files.tar.gz","size":1000,"hash":"0123456789abcdef","compression":"gzip","entries":3},{"role":"deltas","file":"20260102T080000000Z-000.deltas.tar.gz","size":1000,"hash":"0123456789abcdef","compression":"gzip","entries":3}]}],"warnings":[',
  '{"code":"ECHANGED","path":"a/\\"quoted\\"","message":"changed while read\\nline two"},',
  '{"code":"EUNREADABLE","path":"a/é","message":"permission denied"}',
  '],"entries":[',
  '{"path":"a","type":"dir","mode":493,"uid":0,"gid":0,"mtime":"0","size":0},',
  '{"path":"a/\\"quoted\\"","type":"file","mode":420,"uid":1000,"gid":100,"mtime":"1767254400123456789","size":42,"ctime":"-1","ino":"18446744073709551615","hash":"0123456789abcdef","content":["20260101T080000000Z-000"]},',
  '{"path":"a/back\\\\slash","type":"file","mode":420,"uid":1000,"gid":100,"mtime":"1767254400123456789","size":42,"ctime":"-1","ino":"18446744073709551615","hash":"0123456789abcdef","content":["20260101T080000000Z-000"],"sig":"20260101T080000000Z-000"},',
  '{"path":"a/ctl\\u0001\\u001f\u007f","type":"file","mode":420,"uid":1000,"gid":100,"mtime":"1767254400123456789","size":42,"ctime":"-1","ino":"18446744073709551615","hash":"0123456789abcdef","content":["20260101T080000000Z-000"],"unstable":true},',
  '{"path":"a/line\u2028sep","type":"symlink","mode":511,"uid":1000,"gid":100,"mtime":"-5","size":0,"target":"../é/\\"t\\"\\\\"},',
  '{"path":"a/x},{\\"path\\":\\"y","type":"file","mode":420,"uid":1000,"gid":100,"mtime":"1767254400123456789","size":42,"ctime":"-1","ino":"18446744073709551615","hash":"0123456789abcdef","content":["20260101T080000000Z-000","20260102T080000000Z-000"],"steps":[{"size":7,"hash":"fedcba9876543210"}],"sig":"20260102T080000000Z-000"},',
  '{"path":"a/é","type":"dir","mode":493,"uid":0,"gid":0,"mtime":"0","size":0},',
  '{"path":"a/é/中文.txt","type":"file","mode":420,"uid":1000,"gid":100,"mtime":"1767254400123456789","size":0,"ctime":"-1","ino":"18446744073709551615","hash":"0123456789abcdef","content":["20260102T080000000Z-000"]},',
  '{"path":"a/\\ud800lone","type":"file","mode":420,"uid":1000,"gid":100,"mtime":"1767254400123456789","size":42,"ctime":"-1","ino":"18446744073709551615","hash":"0123456789abcdef","content":["20260101T080000000Z-000"]},',
  '{"path":"a/😀","type":"file","mode":420,"uid":1000,"gid":100,"mtime":"1767254400123456789","size":9007199254740991,"ctime":"-1","ino":"18446744073709551615","hash":"0123456789abcdef","content":["20260101T080000000Z-000","20260102T080000000Z-000"],"steps":[{"size":0,"hash":"0123456789abcdef"}],"unstable":true},',
  '{"path":"b","type":"dir","mode":493,"uid":0,"gid":0,"mtime":"0","size":0}',
  '],"stats":{"scanned":11,"created":1,"modified":2,"deleted":3,"unchanged":4,"storedWhole":5,"storedDelta":6,"bytesRead":7,"bytesWritten":124555,"durationMs":8},"digest":"e6d97d2c61968534"}',
];
/** Its size, xxHash64 and digest. */
const SIZE = 1099;
const FILE_HASH = '44aa6f82b20b4f98';
const DIGEST = 'e6d97d2c61968534';

describe('the bytes of a state file', () => {
  const tmp = useTempDir();

  it('a fixed state is written to the same bytes as before the batched writer', async () => {
    const { bytes, digest } = await serializeState(fixedState(), { artifactBytes: 123_456 });
    expect(gunzipSync(bytes).toString('utf8')).toBe(TEXT.join('\n'));
    expect(bytes.length).toBe(SIZE);
    expect(await hashChunks([bytes])).toBe(FILE_HASH);
    expect(digest).toBe(DIGEST);
  });

  it('reads back as the state written, the lines with escapes too', async () => {
    const path = tmp.file(artifactFile(B, 'state', 'none'));
    const written = await writeStateFile(path, fixedState(), { artifactBytes: 123_456 });
    const read = await readStateFile(path, { id: B, name: 'src \u00e9' });
    expect(read.state).toEqual(written.state);
    expect(JSON.stringify(read.state)).toBe(JSON.stringify(written.state));
    expect(read.digest).toBe(DIGEST);
  });
});
