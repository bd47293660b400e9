/**
 * State files that verify themselves: each regression test is named after the defect it
 * prevents (a swapped, renamed or foreign state restoring the wrong point; a hostile field
 * throwing a raw TypeError or smuggling a path), and checks the error names the file and the
 * field. Hostile states are sealed with a correct digest here, so the checks behind the
 * digest are what is tested.
 */
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BackupError } from '../../src/errors.js';
import {
  artifactFile,
  checkParentDigest,
  plainStateFile,
  readStateDigest,
  readStateFile,
  serializeState,
  type BackupState,
} from '../../src/state/index.js';
import { hashChunks } from '../../src/tree/content-hash.js';
import { seal, sealPlain, sealText } from '../helpers/seal.js';
import { requireTool, useTempDir } from '../helpers/tools.js';

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
    version: 3 as const,
    name: 'src',
    id: A,
    kind: 'full' as const,
    parent: null,
    createdAt: linkA.createdAt,
    source: '/home/me/src',
    compression: 'gzip' as const,
    checksum: false,
    chain: [linkA],
    warnings: [{ code: 'ECHANGED', path: 'a/b', message: 'changed while read' }],
    entries: [dir, file, link],
    stats,
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

/** What `JSON.parse` says of `text`. */
function jsonError(text: string): string {
  try {
    JSON.parse(text);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error(`${text} is valid JSON`);
}

const tmp = useTempDir();
let serial = 0;
const jq = requireTool('jq');

/** A fresh folder for backup name `name`, as a work directory holds it. */
async function nameDir(name = 'src'): Promise<string> {
  const d = join(tmp.path, `w${serial++}`, name);
  await mkdir(d, { recursive: true });
  return d;
}

async function writeState(folder: string, id: string, bytes: Buffer): Promise<string> {
  const path = join(folder, `${id}.state.json.gz`);
  await writeFile(path, bytes);
  return path;
}

/** Read back `value` (sealed as it is) from the file name of backup `id`; return the error. */
async function readBack(value: object, id = A, sealer: (value: object) => Promise<Buffer> = seal): Promise<{ path: string; error: BackupError }> {
  const path = await writeState(await nameDir(), id, await sealer(value));
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
async function expectCorrupt(value: object, field: string, why: string | RegExp, id = A): Promise<void> {
  const { path, error } = await readBack(value, id);
  expect(error.code).toBe('ECORRUPT');
  expect(error.path).toBe(path);
  expect(error.message.startsWith(`backup state ${path} is invalid: ${field}`)).toBe(true);
  expect(error.message).toMatch(why);
  expect(error.message).not.toContain('\n');
  expect(error.message.length).toBeLessThan(400);
}

describe('state files round-trip', () => {
  it('is gzip of one JSON document, one entry per line, the digest last, and reads back the same state', async () => {
    const state = fullState();
    const { bytes, digest } = await serializeState(state);
    const text = gunzipSync(bytes).toString('utf8');
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^\{"format":"incremental-backups-tools\/state","version":3,"name":"src",.*,"warnings":\[$/);
    expect(lines.slice(1)).toEqual([
      JSON.stringify(state.warnings[0]),
      '],"entries":[',
      `${JSON.stringify(dir)},`,
      `${JSON.stringify(file)},`,
      JSON.stringify(link),
      `],"stats":${JSON.stringify(stats)},"digest":"${digest}"}`,
    ]);
    expect(JSON.parse(text)).toEqual({ ...state, digest });
    expect(bytes).toEqual(await seal(state));
    const path = await writeState(await nameDir(), A, bytes);
    expect(await readStateFile(path, { id: A, name: 'src' })).toEqual({ state, digest });
    expect(await readStateDigest(path)).toBe(digest);
  });

  it('records its own size in stats.bytesWritten, also where that adds a digit', async () => {
    const plainSize = (await serializeState(fullState(), { artifactBytes: 0 })).bytes.length;
    for (const artifactBytes of [0, 1234, 999_999 - plainSize, 1_000_000 - plainSize, 1_000_001 - plainSize, 2 ** 40]) {
      const { bytes } = await serializeState(fullState(), { artifactBytes });
      const path = await writeState(await nameDir(), A, bytes);
      const { state } = await readStateFile(path, { id: A, name: 'src' });
      expect(state.stats.bytesWritten).toBe(artifactBytes + bytes.length);
    }
  });

  it('a version-2 state file (plain JSON, written by an older release) is still read, its digest from its last bytes', async () => {
    const { entries, stats: counters, ...fields } = fullState();
    const v2 = { ...fields, version: 2, stats: counters, entries };
    const bytes = await sealPlain(v2);
    const path = join(await nameDir(), plainStateFile(A));
    await writeFile(path, bytes);
    const digest = await hashChunks([Buffer.from(JSON.stringify(v2))]);
    expect(await readStateFile(path, { id: A, name: 'src' })).toEqual({ state: v2, digest });
    expect(await readStateDigest(path)).toBe(digest);
    // The version goes with the container: plain JSON holds 2, gzip 3.
    await writeFile(path, await sealPlain(fullState()));
    await expect(readStateFile(path, { id: A, name: 'src' })).rejects.toMatchObject({ code: 'ECORRUPT', message: expect.stringContaining('version: expected 2 (the version of a state file in plain JSON), got 3') });
    await expectCorrupt({ ...fullState(), version: 2 }, 'version', 'expected 3 (the version of a compressed state file), got 2');
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

describe.skipIf(jq.skip)(`a state file read without this library${jq.note}`, () => {
  it('zcat and jq read it as the README says (manual recovery)', async () => {
    const state = incrementalState(HASH);
    const path = await writeState(await nameDir(), B, (await serializeState(state)).bytes);
    const run = (filter: string) => execFileSync('sh', ['-c', `zcat "$1" | jq -r '${filter}'`, 'sh', path], { encoding: 'utf8' });
    expect(run('.chain[].id')).toBe(`${A}\n${B}\n`);
    expect(run('.entries[].path')).toBe('a\na/b\nl\n');
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
  it('a changed byte of the text that leaves valid JSON is ECORRUPT (digest)', async () => {
    const bytes = (await serializeState(fullState())).bytes;
    const text = gunzipSync(bytes.subarray(0, -52)).toString('utf8');
    expect(text).toContain('"mode":493');
    const damaged = Buffer.concat([gzipSync(text.replace('"mode":493', '"mode":484')), bytes.subarray(-52)]);
    const path = await writeState(await nameDir(), A, damaged);
    await expect(readStateFile(path, { id: A, name: 'src' })).rejects.toMatchObject({ code: 'ECORRUPT', message: `backup state ${path} is invalid: its digest does not match its content (the file is damaged)` });
  });

  it('a bit flipped anywhere is ECORRUPT naming the file in one line (never a zlib error), or changes nothing the file says', async () => {
    const state = fullState();
    const { bytes, digest } = await serializeState(state);
    const folder = await nameDir();
    const tailText = `],"stats":${JSON.stringify(stats)}`;
    const members = [0, bytes.length - 52 - (tailText.length + 23), bytes.length - 52];
    const accepted: number[] = [];
    for (let at = 0; at < bytes.length; at++) {
      const damaged = Buffer.from(bytes);
      damaged[at]! ^= 1 << at % 8;
      const path = await writeState(folder, A, damaged);
      const read = await readStateFile(path, { id: A, name: 'src' }).catch((e: unknown) => e);
      if (read instanceof BackupError) {
        expect(read).toMatchObject({ code: 'ECORRUPT', path });
        expect(read.message.startsWith(`backup state ${path} is invalid: `)).toBe(true);
        expect(read.message).not.toContain('\n');
      } else {
        expect(read, `bit flipped at byte ${at}`).toEqual({ state, digest });
        accepted.push(at);
      }
    }
    // Covered by no check: the gzip headers' text flag, time and system bytes (3 to 9), the
    // padding bits of a stored block's first byte (10) and of the body's last deflate byte.
    const unchecked = (at: number) => members.some((m) => at - m >= 3 && at - m <= 10) || at === members[1]! - 9;
    expect(accepted.filter((at) => !unchecked(at))).toEqual([]);
    expect(accepted.length).toBeLessThan(3 * 8);
  });

  it('a truncated file is ECORRUPT, also for readStateDigest', async () => {
    const bytes = (await serializeState(fullState())).bytes;
    for (const cut of [bytes.subarray(0, bytes.length - 1), bytes.subarray(0, bytes.length - 52), bytes.subarray(0, 60), bytes.subarray(0, 10), Buffer.alloc(0)]) {
      const path = await writeState(await nameDir(), A, cut);
      await expect(readStateFile(path, { id: A, name: 'src' })).rejects.toMatchObject({ code: 'ECORRUPT', path, message: expect.stringContaining('truncated') });
      await expect(readStateDigest(path)).rejects.toMatchObject({ code: 'ECORRUPT', path });
    }
  });

  it('bytes after the seal, or between its members, are ECORRUPT', async () => {
    const bytes = (await serializeState(fullState())).bytes;
    for (const extra of [Buffer.from('x'), gzipSync('{}'), Buffer.alloc(52)]) {
      const path = await writeState(await nameDir(), A, Buffer.concat([bytes, extra]));
      await expect(readStateFile(path, { id: A, name: 'src' })).rejects.toMatchObject({ code: 'ECORRUPT', path, message: expect.stringContaining('truncated') });
      await expect(readStateDigest(path)).rejects.toMatchObject({ code: 'ECORRUPT', path });
    }
    const inside = Buffer.concat([bytes.subarray(0, -52), Buffer.from('junk'), bytes.subarray(-52)]);
    const path = await writeState(await nameDir(), A, inside);
    await expect(readStateFile(path, { id: A, name: 'src' })).rejects.toMatchObject({ code: 'ECORRUPT', path, message: `backup state ${path} is invalid: its compressed data is damaged (incorrect header check)` });
  });

  it('a seal whose digest was changed is ECORRUPT: without its CRC fixed the file has no digest, with it the digest does not match', async () => {
    const { bytes, digest } = await serializeState(fullState());
    const other = digest.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    const edited = Buffer.from(bytes);
    edited.write(other, bytes.length - 8 - 2 - 16, 'latin1');
    let path = await writeState(await nameDir(), A, edited);
    await expect(readStateFile(path, { id: A, name: 'src' })).rejects.toMatchObject({ code: 'ECORRUPT', message: expect.stringContaining('truncated or has no digest') });
    await expect(readStateDigest(path)).rejects.toMatchObject({ code: 'ECORRUPT', path });
    const resealed = Buffer.concat([bytes.subarray(0, -52), gzipSync(`,"digest":"${other}"}`, { level: 0 })]);
    path = await writeState(await nameDir(), A, resealed);
    expect(await readStateDigest(path)).toBe(other);
    await expect(readStateFile(path, { id: A, name: 'src' })).rejects.toMatchObject({ code: 'ECORRUPT', message: `backup state ${path} is invalid: its digest does not match its content (the file is damaged)` });
  });

  it('damage wins over what it broke: an invalid entry in a file whose digest does not match is reported as damage', async () => {
    const bad = fullState();
    (bad.entries[1] as { mtime: string }).mtime = 'abc';
    const text = gunzipSync(await seal(bad)).toString('utf8').slice(0, -29);
    const path = await writeState(await nameDir(), A, await sealText(text, '0123456789abcdef'));
    await expect(readStateFile(path, { id: A, name: 'src' })).rejects.toMatchObject({ code: 'ECORRUPT', message: expect.stringContaining('its digest does not match') });
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
    // The same in a compressed file.
    const path3 = await writeState(await nameDir(), A, await sealText('{"format":,'));
    await expect(readStateFile(path3, { id: A, name: 'src' })).rejects.toMatchObject({ code: 'ECORRUPT', message: `backup state ${path3} is invalid: line 1 is not valid JSON (${jsonError('{"format":,}')})` });
    const path4 = await writeState(await nameDir(), A, await sealText(latin.subarray(0, -1)));
    await expect(readStateFile(path4, { id: A, name: 'src' })).rejects.toMatchObject({ code: 'ECORRUPT', message: `backup state ${path4} is invalid: it is not valid UTF-8` });
  });

  it('a version-1 state (an older release) is ECORRUPT saying to start a new chain', async () => {
    const v1 = { ...fullState(), version: 1, parent: null };
    const { error } = await readBack(v1);
    expect(error.code).toBe('ECORRUPT');
    expect(error.message).toMatch(/schema version 1 is from an older release.*start a new chain with a full backup/);
    const { error: plain } = await readBack(v1, A, sealPlain);
    expect(plain.message).toMatch(/schema version 1 is from an older release.*start a new chain with a full backup/);
    await expectCorrupt({ ...fullState(), version: 4 }, 'version', 'expected 3 (the version of a compressed state file), got 4');
    await expectCorrupt({ format: 'something else' }, '', /not a backup state/);
  });
});

describe('the layout of a version-3 file', () => {
  it('fields out of schema order are ECORRUPT naming the field', async () => {
    const { chain, warnings, entries, stats: counters, ...head } = fullState();
    await expectCorrupt({ ...head, chain, warnings, stats: counters, entries }, 'entries', 'expected before stats (a version-3 state lists its fields in schema order)');
    await expectCorrupt({ ...head, warnings, chain, entries, stats: counters }, 'chain', 'expected before warnings');
  });

  it('a file whose entries are not one per line is checked whole, as one value', async () => {
    const state = fullState();
    const path = await writeState(await nameDir(), A, await sealText(JSON.stringify(state).slice(0, -1)));
    expect((await readStateFile(path, { id: A, name: 'src' })).state).toEqual(state);
    await expectCorrupt({ ...fullState(), entries: null }, 'entries', 'expected an array of entries, got null');
    await expectCorrupt({ ...fullState(), entries: undefined }, 'entries', 'missing');
  });

  it('a list with a comma after its last element, or text after the end, is ECORRUPT naming the line', async () => {
    const text = gunzipSync(await seal(fullState())).toString('utf8').slice(0, -29);
    for (const [bad, why] of [
      [text.replace(/("target":"\.\.\/elsewhere"\})\n/, '$1,\n'), 'line 7: "]" after a comma (the list\'s last element has none)'],
      [`${text}}\n{"a":1`, 'line 8: text after the end of the document'],
    ] as const) {
      expect(bad).not.toBe(text);
      const path = await writeState(await nameDir(), A, await sealText(bad));
      await expect(readStateFile(path, { id: A, name: 'src' })).rejects.toMatchObject({ code: 'ECORRUPT', message: `backup state ${path} is invalid: ${why}` });
    }
  });

  it('a state of another backup is refused as soon as its entries begin: its fields before them say so', async () => {
    const { error } = await readBack({ ...fullState(), entries: [{ not: 'an entry' }] }, B);
    expect(error.message).toContain(`id: it is the state of backup "${A}", not of "${B}"`);
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
