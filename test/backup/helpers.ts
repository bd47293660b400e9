/**
 * Helpers for the backup tests: an independent snapshot of a tree (plain node:fs, nothing
 * from the library under test) and a comparison that says what differs.
 */
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';

/** One entry of a snapshot. */
export interface Snap {
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  /** mtime in microseconds (restores are exact to the microsecond). */
  mtimeUs: bigint;
  size?: number;
  sha?: string;
  target?: string;
}

/** Everything under `root` except paths `skip` says to leave out. */
export async function snapshot(root: string, skip: (rel: string) => boolean = () => false): Promise<Map<string, Snap>> {
  const out = new Map<string, Snap>();
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(root, rel))).sort()) {
      const p = rel ? `${rel}/${name}` : name;
      if (skip(p)) continue;
      const full = join(root, p);
      const st = await lstat(full, { bigint: true });
      const base = { mode: Number(st.mode & 0o7777n), mtimeUs: st.mtimeNs / 1000n };
      if (st.isSymbolicLink()) out.set(p, { type: 'symlink', ...base, mode: 0, target: await readlink(full) });
      else if (st.isDirectory()) {
        out.set(p, { type: 'dir', ...base });
        await walk(p);
      } else {
        const data = await readFile(full);
        out.set(p, { type: 'file', ...base, size: data.length, sha: createHash('sha256').update(data).digest('hex') });
      }
    }
  };
  await walk('');
  return out;
}

/** Assert two snapshots describe the same tree (mtimes to within 2 µs; symlink mtimes ignored). */
export function expectSameTree(actual: Map<string, Snap>, expected: Map<string, Snap>, label = ''): void {
  const norm = (m: Map<string, Snap>): Record<string, Omit<Snap, 'mtimeUs'>> =>
    Object.fromEntries([...m].map(([k, { mtimeUs: _, ...rest }]) => [k, rest]));
  expect(norm(actual), label).toEqual(norm(expected));
  for (const [k, e] of expected) {
    if (e.type === 'symlink') continue;
    const a = actual.get(k)!;
    const d = a.mtimeUs - e.mtimeUs;
    expect(d <= 2n && d >= -2n, `${label} mtime of ${k}: ${a.mtimeUs} vs ${e.mtimeUs}`).toBe(true);
  }
}

export { collect } from '../helpers/streams.js';
