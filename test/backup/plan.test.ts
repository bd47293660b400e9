/**
 * The plan of a backup, decided from metadata alone: what each walked entry needs. Each rule
 * here is one a regression once depended on (a touch -r rewrite must be read, an untrusted
 * read must be read again, an unchanged file must cost nothing but its lstat).
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { planStep } from '../../src/backup/plan.js';
import type { FileEntry, StateEntry } from '../../src/state/index.js';
import type { EntryMeta } from '../../src/tree/index.js';

const ID = '20261130T000000000Z-000';
const meta: EntryMeta = { type: 'file', mode: 0o644, uid: 1, gid: 1, mtime: '1700000000000000000', size: 100_000, ctime: '1700000000000000001', ino: '42' };
const record: FileEntry = { path: 'f', type: 'file', mode: 0o644, uid: 1, gid: 1, mtime: meta.mtime, size: meta.size, ctime: meta.ctime!, ino: meta.ino!, hash: '0123456789abcdef', content: [ID], sig: ID };

describe('planStep', () => {
  it('an unchanged file is carried over unread', () => {
    expect(planStep(meta, record, { checksum: false })).toEqual({ action: 'carry', prev: record, tally: 'unchanged' });
  });

  it('a rewrite that put back size and mtime (touch -r) is read: its ctime moved', () => {
    expect(planStep({ ...meta, ctime: '1800000000000000000' }, record, { checksum: false })).toMatchObject({ action: 'delta', vault: ID });
  });

  it('a file replaced by another (a new inode) is read', () => {
    expect(planStep({ ...meta, ino: '43' }, record, { checksum: false }).action).toBe('delta');
  });

  it('a file whose last read was not trusted is read again, and stored only if its bytes differ', () => {
    const unstable = { ...record, unstable: true as const };
    expect(planStep(meta, { ...unstable, sig: undefined }, { checksum: false })).toEqual({ action: 'recheck', prev: { ...unstable, sig: undefined }, vault: undefined });
  });

  it('a file whose last read was not trusted is hashed before any delta (regression: 520 unchanged files delta-encoded against themselves)', () => {
    const unstable = { ...record, unstable: true as const };
    expect(planStep(meta, unstable, { checksum: false })).toEqual({ action: 'recheck', prev: unstable, vault: ID });
    expect(planStep(meta, record, { checksum: true })).toEqual({ action: 'recheck', prev: record, vault: ID });
    expect(planStep({ ...meta, mtime: '1800000000000000000' }, unstable, { checksum: false })).toMatchObject({ action: 'delta', vault: ID });
  });

  it('checksum mode reads files with unchanged metadata', () => {
    const noSig = { ...record, sig: undefined };
    expect(planStep(meta, noSig, { checksum: true }).action).toBe('recheck');
  });

  it('a small or signature-less changed file, or one whose chain is full, is stored whole', () => {
    const changed = { ...meta, mtime: '1800000000000000000' };
    expect(planStep({ ...changed, size: 1000 }, record, { checksum: false }).action).toBe('store');
    expect(planStep(changed, { ...record, sig: undefined }, { checksum: false }).action).toBe('store');
    const long = { ...record, content: Array.from({ length: 33 }, () => ID) };
    expect(planStep(changed, long, { checksum: false }).action).toBe('store');
  });

  it('a new entry, or one whose type changed, is created or stored', () => {
    expect(planStep(meta, undefined, { checksum: false })).toEqual({ action: 'store', prev: undefined });
    const dir: StateEntry = { path: 'f', type: 'dir', mode: 0o755, uid: 1, gid: 1, mtime: meta.mtime, size: 0 };
    expect(planStep(meta, dir, { checksum: false })).toEqual({ action: 'store', prev: undefined });
    expect(planStep({ ...meta, type: 'dir', size: 0 }, undefined, { checksum: false })).toEqual({ action: 'record', tally: 'created', archived: true });
  });

  test.prop([fc.record({ mode: fc.integer({ min: 0, max: 0o7777 }), uid: fc.nat(), mtime: fc.bigInt({ min: 0n, max: 2n ** 62n }) })])(
    'a directory is archived exactly when an attribute a restore reproduces changed',
    ({ mode, uid, mtime }) => {
      const prev: StateEntry = { path: 'd', type: 'dir', mode: 0o755, uid: 1, gid: 1, mtime: '5', size: 0 };
      const now: EntryMeta = { type: 'dir', mode, uid, gid: 1, mtime: mtime.toString(), size: 0 };
      const same = mode === 0o755 && uid === 1 && mtime === 5n;
      expect(planStep(now, prev, { checksum: false })).toEqual({ action: 'record', tally: same ? 'unchanged' : 'modified', archived: !same });
    },
  );
});
