/**
 * The corruption campaign: random damage to every kind of artifact, states included, and
 * every point of the chain restored after each one. Bit flips, truncations, zeroed ranges,
 * appended garbage, deleted artifacts, and artifacts or states swapped with another backup's.
 * Regression for "a swapped or renamed state restores the wrong point with exit 0" and for
 * damage that blocked every later incremental (55 of 240 cases).
 *
 * What must hold, every case: each restore either reproduces its point exactly or fails
 * with a typed error (never a silently wrong tree, never a wrong file left in the target),
 * and the next incremental backup still succeeds (damage is worked around with a warning).
 * `npm test` runs a sample; `npm run test:slow` (IBT_SLOW=1) runs the full campaign.
 */
import { cp, mkdir, open, readdir, readFile, rename, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fullBackup, incrementalBackup, isBackupError, restoreBackup } from '../../src/index.js';
import { Prng } from '../helpers/data.js';
import { useTempDir } from '../helpers/tools.js';
import { snapshot, type Snap } from './helpers.js';

const CASES = process.env.IBT_SLOW === '1' ? 240 : 40;
// A deleted state is a backup that no longer exists: ENOTFOUND is the truth, not a failure to detect.
const TYPED = new Set(['ECORRUPT', 'ETRUNCATED', 'EMISSING', 'EHASH', 'EBADMAGIC', 'ENOTFOUND']);

type Damage = 'flip' | 'truncate' | 'zero' | 'append' | 'delete' | 'swap' | 'replace';
const DAMAGES: Damage[] = ['flip', 'flip', 'flip', 'truncate', 'zero', 'append', 'delete', 'swap', 'replace'];

/** Apply `how` to `file` in `dir`; `others` are the other artifacts of the same role. */
async function damage(dir: string, file: string, others: string[], how: Damage, rng: Prng): Promise<string> {
  const path = join(dir, file);
  const size = (await stat(path)).size;
  const at = rng.int(Math.max(1, size));
  switch (how) {
    case 'flip': {
      const fh = await open(path, 'r+');
      const b = Buffer.alloc(1);
      await fh.read(b, 0, 1, at);
      b[0]! ^= 1 << rng.int(8);
      await fh.write(b, 0, 1, at);
      await fh.close();
      return `bit flip at ${at}`;
    }
    case 'truncate':
      await truncate(path, at);
      return `truncated to ${at}`;
    case 'zero': {
      const fh = await open(path, 'r+');
      const len = 1 + rng.int(Math.min(4096, size - at));
      await fh.write(Buffer.alloc(len), 0, len, at);
      await fh.close();
      return `${len} bytes zeroed at ${at}`;
    }
    case 'append':
      await writeFile(path, rng.bytes(1 + rng.int(600)), { flag: 'a' });
      return 'garbage appended';
    case 'delete':
      await rm(path);
      return 'deleted';
    case 'swap': {
      if (others.length === 0) return damage(dir, file, others, 'flip', rng);
      const other = others[rng.int(others.length)]!;
      await rename(path, join(dir, 'swap.tmp'));
      await rename(join(dir, other), path);
      await rename(join(dir, 'swap.tmp'), join(dir, other));
      return `swapped with ${other}`;
    }
    case 'replace': {
      if (others.length === 0) return damage(dir, file, others, 'truncate', rng);
      const other = others[rng.int(others.length)]!;
      await writeFile(path, await readFile(join(dir, other)));
      return `replaced by a copy of ${other}`;
    }
  }
}

/** The role of an artifact file, from its name. */
function roleOf(file: string): string {
  return file.replace(/^[^.]+\./, '').replace(/\.(?:gz|zst)$/, '');
}

/** Regular files left in `target` all hold what the point had; no temporary file is left. */
async function nothingWrong(target: string, expected: Map<string, Snap>, label: string): Promise<void> {
  const got = await snapshot(target).catch(() => new Map<string, Snap>());
  for (const [p, s] of got) {
    expect(p, `${label}: temporary file left behind`).not.toMatch(/\.tmp$/);
    if (s.type === 'file') expect({ p, sha: s.sha }, label).toEqual({ p, sha: expected.get(p)?.sha });
  }
}

describe('corruption campaign', () => {
  const tmp = useTempDir();
  const points = new Map<string, Map<string, Snap>>();

  beforeAll(async () => {
    const src = tmp.file('src');
    const rng = new Prng(2024);
    await mkdir(join(src, 'd/e'), { recursive: true });
    await writeFile(join(src, 'image.bin'), rng.bytes(300_000));
    await writeFile(join(src, 'log.txt'), 'line\n'.repeat(20_000));
    for (let i = 0; i < 12; i++) await writeFile(join(src, 'd', `${i}.txt`), `file ${i}\n`.repeat(1 + rng.int(4000)));
    await writeFile(join(src, 'd/e/deep.bin'), rng.bytes(40_000));
    for (let step = 0; step < 4; step++) {
      if (step > 0) {
        const image = await readFile(join(src, 'image.bin'));
        image.set(rng.bytes(64), rng.int(image.length - 64));
        await writeFile(join(src, 'image.bin'), image);
        await writeFile(join(src, 'log.txt'), `step ${step}\n`.repeat(500), { flag: 'a' });
        await writeFile(join(src, 'd', `new-${step}.txt`), `new ${step}\n`);
        await rm(join(src, 'd', `${step}.txt`));
        for (const f of ['image.bin', 'log.txt']) await utimes(join(src, f), 1_700_000_000 + step, 1_700_000_000 + step);
      }
      const r = step === 0 ? await fullBackup(src, { workDir: tmp.file('work') }) : await incrementalBackup(src, { workDir: tmp.file('work') });
      points.set(r.id, await snapshot(src));
    }
  });

  it(`${CASES} random damages: every point restores exactly or fails typed, and the next incremental always succeeds`, async () => {
    const dir = join(tmp.file('work'), 'src');
    const artifacts = (await readdir(dir)).filter((f) => /^\d{8}T/.test(f)).sort();
    expect(new Set(artifacts.map(roleOf))).toEqual(new Set(['state.json', 'sigvault.tar', 'files.tar', 'deltas.tar']));
    const rng = new Prng(31337);
    const tally = { exact: 0, typed: 0 };
    for (let n = 0; n < CASES; n++) {
      const copy = tmp.file(`case-${n}`);
      await cp(tmp.file('work'), copy, { recursive: true });
      const cdir = join(copy, 'src');
      // Every kind in turn, so states and vaults are damaged as often as archives.
      const kinds = [...new Set(artifacts.map(roleOf))];
      const kind = kinds[n % kinds.length]!;
      const ofKind = artifacts.filter((f) => roleOf(f) === kind);
      const file = ofKind[rng.int(ofKind.length)]!;
      const how = await damage(cdir, file, ofKind.filter((f) => f !== file), DAMAGES[rng.int(DAMAGES.length)]!, rng);
      const label = `case ${n}: ${file} ${how}`;
      for (const [id, expected] of points) {
        const target = join(copy, `out-${id}`);
        const outcome = await restoreBackup('src', target, { workDir: copy, at: id }).then(
          () => undefined,
          (e: unknown) => e,
        );
        if (outcome === undefined) {
          const got = await snapshot(target);
          expect([...got.keys()], `${label}: restore of ${id} succeeded with another tree`).toEqual([...expected.keys()]);
          for (const [p, s] of expected) expect(got.get(p)?.sha, `${label}: ${id} ${p}`).toBe(s.sha);
          tally.exact++;
        } else {
          expect(isBackupError(outcome), `${label}: ${String(outcome)}`).toBe(true);
          const e = outcome as { code: string; message: string };
          expect(TYPED.has(e.code), `${label}: ${e.code} ${e.message}`).toBe(true);
          await nothingWrong(target, expected, label);
          tally.typed++;
        }
      }
      const next = await incrementalBackup(tmp.file('src'), { workDir: copy }).catch((e: unknown) => e);
      expect(isBackupError(next), `${label}: the next incremental failed: ${String((next as Error)?.message)}`).toBe(false);
      await rm(copy, { recursive: true, force: true });
    }
    expect(tally.typed, 'damage must be detected').toBeGreaterThan(CASES / 2);
  });
});
