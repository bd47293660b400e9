/**
 * State files that verify themselves: each regression test is named after the defect it
 * prevents (a swapped, renamed or foreign state restoring the wrong point; a hostile field
 * throwing a raw TypeError or smuggling a path), and checks the error names the file and the
 * field. Hostile states are sealed with a correct digest here, so the checks behind the
 * digest are what is tested.
 */
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BackupError } from '../../src/errors.js';
import {
  artifactFile,
  checkParentDigest,
  readStateDigest,
  readStateFile,
  serializeState,
  type BackupState,
} from '../../src/state/index.js';
import { hashChunks } from '../../src/tree/content-hash.js';
import { seal } from '../helpers/seal.js';
import { useTempDir } from '../helpers/tools.js';

const A = '20260101T080000000Z-000';
const B = '20260102T080000000Z-000';
const C = '20260103T080000000Z-000';
const HASH = '0123456789abcdef';
const stats = { scanned: 3, created: 3, modified: 0, deleted: 0, unchanged: 0, storedWhole: 1, storedDelta: 0, bytesRead: 10, bytesWritten: 900, durationMs: 12 };
const linkA = {
  id: A,
  kind: 'full' as const,
  createdAt: '2026-01-01T08:00:00.000Z',
  artifacts: [
    { role: 'files' as const, file: `${A}.files.tar.gz`, size: 300, hash: HASH, compression: 'gzip' as const, entries: 4 },
    { role: 'sigvault' as const, file: `${A}.sigvault.tar`, size: 200, hash: HASH, compression: 'none' as const, entries: 1 },
  ],
};
const linkB = {
  id: B,
  kind: 'incremental' as const,
  createdAt: '2026-01-02T08:00:00.000Z',
  artifacts: [
    { role: 'deltas' as const, file: `${B}.deltas.tar.gz`, size: 100, hash: HASH, compression: 'gzip' as const, entries: 1 },
    { role: 'sigvault' as const, file: `${B}.sigvault.tar`, size: 200, hash: HASH, compression: 'none' as const, entries: 1 },
  ],
};
const dir = { path: 'a', type: 'dir' as const, mode: 0o755, uid: 1000, gid: 1000, mtime: '1767254400123456789', size: 0 as const };
const file = {
  path: 'a/b',
  type: 'file' as const,
  mode: 0o644,
  uid: 1000,
  gid: 1000,
  mtime: '1767254400123456789',
  size: 20_000,
  ctime: '1767254400123456789',
  ino: '18446744073709551615',
  hash: HASH,
  content: [A],
  sig: A,
};
const link = { path: 'l', type: 'symlink' as const, mode: 0o777, uid: 0, gid: 0, mtime: '-5', size: 0 as const, target: '../elsewhere' };

/** A full backup `A` of name `src`: a directory, a file in it, a symlink. */
function fullState(): BackupState {
  return structuredClone({
    format: 'incremental-backups-tools/state' as const,
    version: 2 as const,
    name: 'src',
    id: A,
    kind: 'full' as const,
    parent: null,
    createdAt: linkA.createdAt,
    source: '/home/me/src',
    compression: 'gzip' as const,
    checksum: false,
    chain: [linkA],
    stats,
    warnings: [{ code: 'ECHANGED', path: 'a/b', message: 'changed while read' }],
    entries: [dir, file, link],
  });
}

/** Incremental `B` on top of `A` (whose state digest is `parentDigest`): a/b changed by a delta. */
function incrementalState(parentDigest: string): BackupState {
  const changed = { ...file, content: [A, B], steps: [{ size: 19_000, hash: 'fedcba9876543210' }], sig: B };
  return structuredClone({
    ...fullState(),
    id: B,
    kind: 'incremental' as const,
    parent: { id: A, digest: parentDigest },
    createdAt: linkB.createdAt,
    chain: [linkA, linkB],
    entries: [dir, changed, link],
  });
}

const tmp = useTempDir();
let serial = 0;

/** A fresh folder for backup name `name`, as a work directory holds it. */
async function nameDir(name = 'src'): Promise<string> {
  const d = join(tmp.path, `w${serial++}`, name);
  await mkdir(d, { recursive: true });
  return d;
}

async function writeState(folder: string, id: string, bytes: Buffer): Promise<string> {
  const path = join(folder, `${id}.state.json`);
  await writeFile(path, bytes);
  return path;
}

/** Read back `value` (sealed as it is) from the file name of backup `id`; return the error. */
async function readBack(value: unknown, id = A): Promise<{ path: string; error: BackupError }> {
  const path = await writeState(await nameDir(), id, await seal(value));
  const error = await readStateFile(path, { id, name: 'src' }).then(
    () => {
      throw new Error('the state was accepted');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BackupError);
  return { path, error: error as BackupError };
}

/** `value` is refused as ECORRUPT, naming the file, the field and the reason. */
async function expectCorrupt(value: unknown, field: string, why: string | RegExp, id = A): Promise<void> {
  const { path, error } = await readBack(value, id);
  expect(error.code).toBe('ECORRUPT');
  expect(error.path).toBe(path);
  expect(error.message.startsWith(`backup state ${path} is invalid: ${field}`)).toBe(true);
  expect(error.message).toMatch(why);
  expect(error.message).not.toContain('\n');
  expect(error.message.length).toBeLessThan(400);
}

describe('state files round-trip', () => {
  it('serializes without spaces, with the digest last, and reads back the same state', async () => {
    const state = fullState();
    const { bytes, digest } = await serializeState(state);
    const text = bytes.toString('utf8');
    expect(text.startsWith('{"format":"incremental-backups-tools/state","version":2,')).toBe(true);
    expect(text.endsWith(`,"digest":"${digest}"}`)).toBe(true);
    expect(bytes).toEqual(await seal(state));
    const path = await writeState(await nameDir(), A, bytes);
    expect(await readStateFile(path, { id: A, name: 'src' })).toEqual({ state, digest });
    expect(await readStateDigest(path)).toBe(digest);
  });

  it('an incremental whose parent digest is its parent file\'s passes the parent check', async () => {
    const folder = await nameDir();
    const parent = await serializeState(fullState());
    const parentPath = await writeState(folder, A, parent.bytes);
    const childPath = await writeState(folder, B, (await serializeState(incrementalState(parent.digest))).bytes);
    const { state } = await readStateFile(childPath, { id: B, name: 'src' });
    expect(() => checkParentDigest(childPath, state, parent.digest)).not.toThrow();
    expect(await readStateDigest(parentPath)).toBe(parent.digest);
  });

  it('serializeState refuses an invalid state with EINTERNAL before anything is written', async () => {
    const state = fullState();
    (state.entries[1] as { mtime: string }).mtime = 'abc';
    await expect(serializeState(state)).rejects.toMatchObject({ code: 'EINTERNAL', message: expect.stringContaining('entries[1].mtime (path "a/b")') });
  });
});

describe('swapped, renamed and foreign states', () => {
  it('a state renamed to another id\'s file name is ECORRUPT naming the file', async () => {
    const folder = await nameDir();
    const path = await writeState(folder, B, (await serializeState(fullState())).bytes);
    await expect(readStateFile(path, { id: B, name: 'src' })).rejects.toMatchObject({
      code: 'ECORRUPT',
      path,
      message: `backup state ${path} is invalid: id: it is the state of backup "${A}", not of "${B}" as its file name says (renamed or swapped)`,
    });
  });

  it('a state of another backup name is ECORRUPT naming the file', async () => {
    const source = await writeState(await nameDir(), A, (await serializeState(fullState())).bytes);
    const path = join(await nameDir('docs'), artifactFile(A, 'state', 'none'));
    await copyFile(source, path);
    await expect(readStateFile(path, { id: A, name: 'docs' })).rejects.toMatchObject({
      code: 'ECORRUPT',
      path,
      message: expect.stringContaining(`backup state ${path} is invalid: name: it is a state of backup name "src", not "docs"`),
    });
  });

  it('a child whose parent digest does not match the parent\'s file is ECORRUPT naming the child', async () => {
    const folder = await nameDir();
    const original = await serializeState(fullState());
    const childPath = await writeState(folder, B, (await serializeState(incrementalState(original.digest))).bytes);
    // The parent is replaced by another valid full backup with the same id (another chain's).
    const impostor = { ...fullState(), source: '/somewhere/else' };
    const parentPath = await writeState(folder, A, (await serializeState(impostor)).bytes);
    const { state: child } = await readStateFile(childPath, { id: B, name: 'src' });
    const { digest } = await readStateFile(parentPath, { id: A, name: 'src' });
    expect(await readStateDigest(parentPath)).toBe(digest);
    let error: unknown;
    try {
      checkParentDigest(childPath, child, digest);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'ECORRUPT', path: childPath, message: expect.stringContaining(`backup state ${childPath} is invalid: parent.digest`) });
  });

  it('a chain reordered (the parent naming another backup than the link before) is ECORRUPT', async () => {
    const state = incrementalState(HASH);
    state.parent = { id: C, digest: HASH };
    await expectCorrupt(state, 'parent.id', `expected "${A}"`, B);
  });
});

describe('damaged files', () => {
  it('a damaged byte that leaves valid JSON is ECORRUPT (digest)', async () => {
    const bytes = (await serializeState(fullState())).bytes;
    const at = bytes.indexOf('"mode":755') + 8;
    bytes[at] = '4'.charCodeAt(0);
    const path = await writeState(await nameDir(), A, bytes);
    await expect(readStateFile(path, { id: A, name: 'src' })).rejects.toMatchObject({ code: 'ECORRUPT', message: `backup state ${path} is invalid: its digest does not match its content (the file is damaged)` });
  });

  it('a truncated file is ECORRUPT, also for readStateDigest', async () => {
    const bytes = (await serializeState(fullState())).bytes;
    for (const cut of [bytes.subarray(0, bytes.length - 1), bytes.subarray(0, 10), Buffer.alloc(0)]) {
      const path = await writeState(await nameDir(), A, cut);
      await expect(readStateFile(path, { id: A, name: 'src' })).rejects.toMatchObject({ code: 'ECORRUPT', path, message: expect.stringContaining('truncated') });
      await expect(readStateDigest(path)).rejects.toMatchObject({ code: 'ECORRUPT', path });
    }
  });

  it('a missing file is EMISSING and an unreadable one EIO, naming it', async () => {
    const folder = await nameDir();
    const missing = join(folder, artifactFile(A, 'state', 'none'));
    await expect(readStateFile(missing, { id: A, name: 'src' })).rejects.toMatchObject({ code: 'EMISSING', path: missing });
    await expect(readStateDigest(missing)).rejects.toMatchObject({ code: 'EMISSING', path: missing });
    // A directory in its place cannot be read as a file, even by root.
    await mkdir(missing);
    await expect(readStateFile(missing, { id: A, name: 'src' })).rejects.toMatchObject({ code: 'EIO', path: missing });
    await expect(readStateDigest(missing)).rejects.toMatchObject({ code: 'EIO', path: missing });
  });

  it('bad JSON and bad UTF-8 behind a correct digest are ECORRUPT, not a raw SyntaxError', async () => {
    const folder = await nameDir();
    const digestOf = (body: Buffer) => hashChunks([body]);
    const json = Buffer.from('{"format":,}');
    const path = await writeState(folder, A, Buffer.from(`{"format":,,"digest":"${await digestOf(json)}"}`));
    await expect(readStateFile(path, { id: A, name: 'src' })).rejects.toMatchObject({ code: 'ECORRUPT', message: expect.stringContaining('is not valid JSON') });
    const latin = Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff]), Buffer.from('"}')]);
    const sealed = Buffer.concat([latin.subarray(0, -1), Buffer.from(`,"digest":"${await digestOf(latin)}"}`)]);
    const path2 = await writeState(await nameDir(), A, sealed);
    await expect(readStateFile(path2, { id: A, name: 'src' })).rejects.toMatchObject({ code: 'ECORRUPT', message: expect.stringContaining('not valid UTF-8') });
  });

  it('a version-1 state (an older release) is ECORRUPT saying to start a new chain', async () => {
    const v1 = { ...fullState(), version: 1, parent: null };
    const { error } = await readBack(v1);
    expect(error.code).toBe('ECORRUPT');
    expect(error.message).toMatch(/schema version 1 is from an older release.*start a new chain with a full backup/);
    await expectCorrupt({ ...fullState(), version: 3 }, 'version', 'expected 2 (the only schema version this release reads), got 3');
    await expectCorrupt({ format: 'something else' }, '', /not a backup state/);
  });
});

describe('hostile fields are ECORRUPT naming the field, never a raw TypeError', () => {
  const entry = (i: number, patch: Record<string, unknown>) => {
    const s = fullState() as unknown as { entries: Record<string, unknown>[] };
    Object.assign(s.entries[i]!, patch);
    return s;
  };

  it('an artifact file "../../elsewhere/x.tar.gz" (a path smuggled into a read or a fetch)', async () => {
    const s = fullState();
    s.chain[0]!.artifacts[0]!.file = '../../elsewhere/x.tar.gz';
    await expectCorrupt(s, `chain[0].artifacts[0].file (backup "${A}")`, `expected "${A}.files.tar.gz", the name derived`);
  });

  it('mtime "abc"', async () => {
    const { path, error } = await readBack(entry(1, { mtime: 'abc' }));
    expect(error.code).toBe('ECORRUPT');
    expect(error.message).toBe(`backup state ${path} is invalid: entries[1].mtime (path "a/b"): expected a decimal string of nanoseconds, got "abc"`);
  });

  it('artifacts null', async () => {
    const s = fullState() as unknown as { chain: { artifacts: unknown }[] };
    s.chain[0]!.artifacts = null;
    await expectCorrupt(s, `chain[0].artifacts (backup "${A}")`, 'expected an array of artifacts, got null');
  });

  it('mode 0o17777', () => expectCorrupt(entry(1, { mode: 0o17777 }), 'entries[1].mode (path "a/b")', 'expected permission bits'));

  it('uid -1', () => expectCorrupt(entry(0, { uid: -1 }), 'entries[0].uid (path "a")', 'expected a user id, an integer from 0 to 4294967295, got -1'));

  it('a duplicate path', async () => {
    const s = fullState();
    s.entries.splice(2, 0, structuredClone(s.entries[1]!));
    await expectCorrupt(s, 'entries[2].path', 'listed twice');
  });

  it('unsorted entries', async () => {
    const s = fullState();
    s.entries.reverse();
    await expectCorrupt(s, 'entries[1].path', 'expected a path after "l"');
  });

  it('a file without hash', async () => {
    const s = fullState() as unknown as { entries: Record<string, unknown>[] };
    delete s.entries[1]!.hash;
    await expectCorrupt(s, 'entries[1].hash (path "a/b")', 'missing (expected 16 lowercase hex digits)');
  });

  it('steps of the wrong length', async () => {
    const s = incrementalState(HASH);
    (s.entries[1] as { steps: unknown[] }).steps.push({ size: 1, hash: HASH });
    await expectCorrupt(s, 'entries[1].steps (path "a/b")', 'expected 1 steps', B);
    delete (s.entries[1] as { steps?: unknown }).steps;
    await expectCorrupt(s, 'entries[1].steps (path "a/b")', 'missing', B);
  });

  it('content naming a backup outside the chain', () => expectCorrupt(entry(1, { content: [C] }), 'entries[1].content[0] (path "a/b")', `backup "${C}" is not in the chain`));

  it('content out of chain order, or naming a backup without the archive it needs', async () => {
    const s = incrementalState(HASH);
    (s.entries[1] as { content: string[] }).content = [B, A];
    await expectCorrupt(s, 'entries[1].content[0] (path "a/b")', `backup "${B}" has no files archive`, B);
    s.chain[1]!.artifacts.push({ role: 'files', file: `${B}.files.tar.gz`, size: 1, hash: HASH, compression: 'gzip', entries: 1 });
    await expectCorrupt(s, 'entries[1].content[1] (path "a/b")', `expected a backup after "${B}"`, B);
  });

  it('sig naming a backup without a SigVault', async () => {
    const s = fullState();
    s.chain[0]!.artifacts.pop();
    await expectCorrupt(s, 'entries[1].sig (path "a/b")', 'has no SigVault');
  });

  it('an entry whose parent directory is not listed, or is a symlink', async () => {
    const s = fullState();
    s.entries.shift();
    await expectCorrupt(s, 'entries[0].path', 'its parent "a" is not a directory entry');
    const t = fullState();
    t.entries.push({ ...link, path: 'l/x' });
    await expectCorrupt(t, 'entries[3].path', 'its parent "l" is not a directory entry');
  });

  it('unsafe paths: absolute, "..", empty segments', async () => {
    for (const path of ['/etc', '..', 'a/../b', 'a//b', '']) {
      const s = fullState();
      s.entries = [{ ...link, path }];
      await expectCorrupt(s, 'entries[0].path', /refused|expected a path after/);
    }
  });

  it('fields a kind of entry does not have, and fields no entry has', async () => {
    await expectCorrupt(entry(0, { hash: HASH }), 'entries[0].hash (path "a")', 'unknown field');
    await expectCorrupt(entry(0, { size: 4096 }), 'entries[0].size (path "a")', 'expected 0 (only files have a size)');
    await expectCorrupt(entry(2, { target: undefined }), 'entries[2].target (path "l")', 'missing');
    await expectCorrupt(entry(1, { type: 'fifo' }), 'entries[1].type (path "a/b")', 'expected "file", "dir" or "symlink", got "fifo"');
    await expectCorrupt(entry(1, { steps: [] }), 'entries[1].steps (path "a/b")', 'expected no steps');
    await expectCorrupt(entry(1, { unstable: false }), 'entries[1].unstable (path "a/b")', 'expected true');
    await expectCorrupt({ ...fullState(), extra: 1 }, 'extra', 'unknown field');
    await expectCorrupt(entry(1, { '': 1 }), 'entries[1][""] (path "a/b")', 'unknown field');
    await expectCorrupt(JSON.parse(JSON.stringify(fullState()).replace('{', '{"__proto__":{"polluted":1},')), '__proto__', 'unknown field');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('a chain that does not start with a full backup or end with this one', async () => {
    const s = incrementalState(HASH);
    s.chain.shift();
    await expectCorrupt(s, `chain[0].kind (backup "${B}")`, 'expected "full"', B);
    const t = incrementalState(HASH);
    t.chain.pop();
    await expectCorrupt(t, 'chain[0].id', `expected "${B}"`, B);
    const u = fullState();
    u.parent = { id: A, digest: HASH };
    await expectCorrupt(u, 'parent', 'a full backup has no parent');
  });

  it('times that are not the instant of the id, and ids naming no instant', async () => {
    await expectCorrupt({ ...fullState(), createdAt: '2026-01-01T08:00:00Z' }, 'createdAt', 'the time in the id');
    const s = fullState();
    s.id = '20261301T080000000Z-000';
    s.chain[0]!.id = s.id;
    await expectCorrupt(s, 'id', 'names no real instant', s.id);
  });

  it('a compressed SigVault', async () => {
    const s = fullState();
    s.chain[0]!.artifacts[1]!.compression = 'gzip';
    await expectCorrupt(s, `chain[0].artifacts[1].compression (backup "${A}")`, 'never compressed');
  });

  it('a name with a slash and stats that are not counts', async () => {
    const { error } = await readBack({ ...fullState(), name: '../x' });
    expect(error.message).toContain('name: expected a backup name');
    await expectCorrupt({ ...fullState(), stats: { ...stats, bytesRead: 2 ** 53 } }, 'stats.bytesRead', 'non-negative safe integer');
  });
});
