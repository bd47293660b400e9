/**
 * The central property: for random trees and random rounds of changes (create, delete,
 * edit in place, append, truncate, rename, chmod, type change, touch), with a backup after
 * each round, restoring any point of the chain gives the tree exactly as it was then.
 */
import { appendFile, chmod, mkdir, open, readdir, rename, rm, symlink, truncate, utimes, writeFile, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fullBackup, incrementalBackup, restoreBackup } from '../../src/index.js';
import { Prng } from '../helpers/data.js';
import { withTempDir } from '../helpers/tools.js';
import { expectSameTree, snapshot, type Snap } from './helpers.js';

const NAMES = ['a', 'b', 'c d', 'ü-ñ', 'new\nline', `long-${'x'.repeat(120)}`, '.hidden'];
const MODES = [0o644, 0o600, 0o755, 0o444, 0o640];

interface Op {
  kind: 'create' | 'mkdir' | 'symlink' | 'delete' | 'edit' | 'append' | 'truncate' | 'rename' | 'chmod' | 'retype' | 'touch';
  a: number;
  b: number;
  size: number;
  seed: number;
}

const opArb = (kinds: Op['kind'][]): fc.Arbitrary<Op> =>
  fc.record({
    kind: fc.constantFrom(...kinds),
    a: fc.nat(1000),
    b: fc.nat(1000),
    size: fc.oneof({ weight: 2, arbitrary: fc.nat(3000) }, { weight: 1, arbitrary: fc.integer({ min: 16 * 1024, max: 70 * 1024 }) }),
    seed: fc.integer(),
  });

const CHANGES: Op['kind'][] = ['edit', 'append', 'create', 'mkdir', 'symlink', 'delete', 'edit', 'append', 'truncate', 'rename', 'chmod', 'retype', 'touch'];

/** Entries of the tree, parents first. */
async function entries(root: string, rel = ''): Promise<{ path: string; dir: boolean }[]> {
  const out: { path: string; dir: boolean }[] = [];
  for (const name of (await readdir(join(root, rel))).sort()) {
    const p = rel ? `${rel}/${name}` : name;
    const dir = (await lstat(join(root, p))).isDirectory();
    out.push({ path: p, dir });
    if (dir) out.push(...(await entries(root, p)));
  }
  return out;
}

/** A fresh, distinct mtime for content edits: coarse kernel clocks could otherwise repeat one. */
let clock = 1_700_000_000;
const nextTime = (): number => (clock += 7.123457);

async function apply(root: string, op: Op): Promise<void> {
  const all = await entries(root);
  const files = all.filter((e) => !e.dir);
  const dirs = ['', ...all.filter((e) => e.dir).map((e) => e.path)];
  const rng = new Prng(op.seed);
  const pick = <T>(xs: T[], i: number): T | undefined => (xs.length === 0 ? undefined : xs[i % xs.length]);
  const fresh = (): string => {
    const d = pick(dirs, op.b)!;
    const p = `${d ? `${d}/` : ''}${NAMES[op.a % NAMES.length]}${op.seed & 7}`;
    return p;
  };
  const exists = (p: string): boolean => all.some((e) => e.path === p);
  const full = (p: string): string => join(root, p);
  switch (op.kind) {
    case 'create': {
      const p = fresh();
      if (exists(p)) return;
      await writeFile(full(p), rng.bytes(op.size));
      await chmod(full(p), MODES[op.b % MODES.length]!);
      return;
    }
    case 'mkdir': {
      const p = fresh();
      if (!exists(p)) await mkdir(full(p));
      return;
    }
    case 'symlink': {
      const p = fresh();
      if (!exists(p)) await symlink(op.a % 2 ? '../outside/target' : `t-${op.b}`, full(p));
      return;
    }
    case 'delete': {
      const e = pick(all, op.a);
      if (e) await rm(full(e.path), { recursive: true });
      return;
    }
    case 'rename': {
      const e = pick(all, op.a);
      const p = fresh();
      if (!e || exists(p) || p.startsWith(`${e.path}/`)) return;
      await rename(full(e.path), full(p));
      return;
    }
    case 'chmod': {
      const e = pick(all, op.a);
      if (e && !(await lstat(full(e.path))).isSymbolicLink()) await chmod(full(e.path), e.dir ? 0o700 | (op.b & 0o55) : MODES[op.b % MODES.length]!);
      return;
    }
    case 'retype': {
      const e = pick(all, op.a);
      if (!e) return;
      const st = await lstat(full(e.path));
      await rm(full(e.path), { recursive: true });
      if (st.isFile()) await mkdir(full(e.path));
      else if (st.isDirectory()) await symlink('was-a-dir', full(e.path));
      else await writeFile(full(e.path), rng.bytes(op.size));
      return;
    }
    case 'touch': {
      const e = pick(all, op.a);
      if (e && !(await lstat(full(e.path))).isSymbolicLink()) {
        const t = nextTime();
        await utimes(full(e.path), t, t);
      }
      return;
    }
    default: {
      const f = pick(files, op.a);
      if (!f || (await lstat(full(f.path))).isSymbolicLink()) return;
      const st = await lstat(full(f.path));
      await chmod(full(f.path), st.mode | 0o200);
      if (op.kind === 'append') await appendFile(full(f.path), rng.bytes(op.size % 5000));
      else if (op.kind === 'truncate') await truncate(full(f.path), Math.floor(st.size / 2));
      else {
        const fh = await open(full(f.path), 'r+');
        const n = 1 + (op.size % 300);
        await fh.write(rng.bytes(n), 0, n, st.size === 0 ? 0 : op.b % st.size);
        await fh.close();
      }
      await chmod(full(f.path), st.mode & 0o7777);
      const t = nextTime();
      await utimes(full(f.path), t, t);
    }
  }
}

describe('backup chain property', () => {
  it('restores every point of a chain of random changes exactly', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb(['create', 'create', 'create', 'mkdir', 'symlink']), { minLength: 1, maxLength: 20 }),
        fc.array(fc.array(opArb(CHANGES), { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 4 }),
        fc.constantFrom<'gzip' | 'none'>('gzip', 'none'),
        async (initial, rounds, compression) =>
          withTempDir(async (tmp) => {
            const src = join(tmp.path, 'src');
            const workDir = join(tmp.path, 'work');
            await mkdir(src);
            const points: { id: string; snap: Map<string, Snap> }[] = [];
            for (const [i, ops] of [initial, ...rounds].entries()) {
              for (const op of ops) await apply(src, op);
              const snap = await snapshot(src);
              const report = i === 0 ? await fullBackup(src, { workDir, compression }) : await incrementalBackup(src, { workDir, compression });
              expect(report.warnings).toEqual([]);
              points.push({ id: report.id, snap });
            }
            for (const [i, p] of points.entries()) {
              const target = join(tmp.path, `restore-${i}`);
              await restoreBackup('src', target, { workDir, at: p.id });
              expectSameTree(await snapshot(target), p.snap, `point ${i}`);
            }
          }),
      ),
      { numRuns: 20 },
    );
  });
});
