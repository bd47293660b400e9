#!/usr/bin/env node
/**
 * Restore of a long chain against restore of the full (issue 8, "Restore of a long chain":
 * after 10 incrementals, restoring the latest point must cost at most 1.2× restoring the full;
 * replaying every delta wrote a changed file once per version).
 *
 * Generates a tree (seeded, the same on every run): a 256 MiB disk-image-like file of random
 * bytes, a 16 MiB log, and a few hundred small text files; makes a full backup, then 10
 * incrementals, each overwriting 64 KiB of the image at a new place and appending 256 KiB to
 * the log. The chain is made once, with the first build. Then, per build and in turns (one
 * restore of each build per round, so that a noisy, shared machine loads them alike), it
 * restores the full backup and the latest point, each in a process of its own into an empty
 * target, verifies both against the tree as it was (SHA-256 of every file), and prints the
 * median times and the ratio latest / full, of wall time and of CPU time (user + sys: on a
 * machine others share, the steadier of the two).
 *
 * Usage: node bench/chain-restore.mjs [--runs R] [--image MiB] [--incrementals N] [--compression zstd|gzip|none] [--dir DIR] [--keep] [DIST...]
 *   --runs R           timed restores of each point per build (default 3)
 *   --image MiB        size of the image (default 256)
 *   --incrementals N   incrementals after the full (default 10)
 *   --compression C    of the backups (default: the library's)
 *   --dir DIR          where the tree, the backups and the targets go (default the OS temp dir)
 *   --keep             leave the tree and the backups there (for profiling a restore), and say where
 *   DIST               a built dist/ folder (default this checkout's; `npm run build` first)
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bytes, prng } from './random.mjs';

const SELF = fileURLToPath(import.meta.url);
const MiB = 1 << 20;
const USAGE = 'usage: node bench/chain-restore.mjs [--runs R] [--image MiB] [--incrementals N] [--compression zstd|gzip|none] [--dir DIR] [--keep] [DIST...]';

// A child process: one restore, one JSON line out.
if (process.argv[2] === '--child') {
  const [, , , dist, workDir, at, target] = process.argv;
  const api = await import(join(dist, 'index.js'));
  const t = performance.now();
  const report = await api.restoreBackup('src', target, { workDir, ...(at ? { at } : {}) });
  const ms = performance.now() - t;
  const u = process.resourceUsage();
  console.log(JSON.stringify({ ms, rssKiB: u.maxRSS, userMs: u.userCPUTime / 1000, sysMs: u.systemCPUTime / 1000, deltas: report.stats.deltasApplied }));
  process.exit(0);
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    runs: { type: 'string', default: '3' },
    image: { type: 'string', default: '256' },
    incrementals: { type: 'string', default: '10' },
    compression: { type: 'string' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
const imageSize = Number(values.image) * MiB;
const incrementals = Number(values.incrementals);
if (![runs, imageSize, incrementals].every((n) => Number.isInteger(n) && n >= 1) || (values.compression && !['zstd', 'gzip', 'none'].includes(values.compression))) {
  console.error(USAGE);
  process.exit(2);
}
const dists = (positionals.length > 0 ? positionals : [join(dirname(SELF), '../dist')]).map((d) => resolve(d));

const WORDS = 'the of backup delta signature file restore chain state vault archive block rolling hash const let return async await function export import interface type'.split(' ');

function text(rand, n) {
  let s = '';
  while (s.length < n) s += `${WORDS[Math.floor(rand() * WORDS.length)]}${rand() < 0.1 ? '\n' : ' '}`;
  return s.slice(0, n);
}

function logLines(rand, n, round) {
  let s = '';
  for (let i = 0; s.length < n; i++) s += `2026-12-01T00:${String(round).padStart(2, '0')}:${String(i % 60).padStart(2, '0')} worker-${Math.floor(rand() * 16)} ${text(rand, 40 + Math.floor(rand() * 80))}\n`;
  return s.slice(0, n);
}

async function makeTree(src) {
  const rand = prng(17);
  const random = bytes(17);
  await mkdir(join(src, 'var'), { recursive: true });
  const image = await open(join(src, 'var/disk.img'), 'w');
  for (let at = 0; at < imageSize; at += 16 * MiB) await image.write(random(Math.min(16 * MiB, imageSize - at)), 0, undefined, at);
  await image.close();
  await writeFile(join(src, 'var/app.log'), logLines(rand, 16 * MiB, 0));
  for (let d = 0; d < 10; d++) {
    await mkdir(join(src, `src${d}`), { recursive: true });
    for (let f = 0; f < 30; f++) await writeFile(join(src, `src${d}`, `f${f}.txt`), text(rand, 1000 + Math.floor(rand() * 15000)));
  }
}

async function change(src, round) {
  const rand = prng(1000 + round);
  const random = bytes(1000 + round);
  const image = await open(join(src, 'var/disk.img'), 'r+');
  await image.write(random(64 * 1024), 0, undefined, Math.floor(rand() * (imageSize / 4096 - 16)) * 4096);
  await image.close();
  await writeFile(join(src, 'var/app.log'), logLines(rand, 256 * 1024, round), { flag: 'a' });
}

/** SHA-256 of every file under `root`, by relative path. */
async function manifest(root, rel = '', out = new Map()) {
  for (const d of (await readdir(join(root, rel), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = rel ? `${rel}/${d.name}` : d.name;
    if (d.isDirectory()) await manifest(root, p, out);
    else out.set(p, createHash('sha256').update(await readFile(join(root, p))).digest('hex'));
  }
  return out;
}

function same(a, b) {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

function child(dist, workDir, at, target) {
  const r = spawnSync(process.execPath, [SELF, '--child', dist, workDir, at, target], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`restore with ${dist} failed (${r.status}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const base = await mkdtemp(join(values.dir ?? tmpdir(), 'ibt-chain-restore-'));
try {
  const src = join(base, 'src');
  const workDir = join(base, 'work');
  let t = performance.now();
  await makeTree(src);
  console.log(`tree: a ${imageSize / MiB} MiB image, a 16 MiB log, 300 small files (${((performance.now() - t) / 1000).toFixed(1)} s)`);
  const api = await import(join(dists[0], 'index.js'));
  const options = { workDir, ...(values.compression ? { compression: values.compression } : {}) };
  t = performance.now();
  const full = await api.fullBackup(src, options);
  const fullTree = await manifest(src);
  for (let round = 1; round <= incrementals; round++) {
    await change(src, round);
    await api.incrementalBackup(src, options);
  }
  const latestTree = await manifest(src);
  console.log(`chain: a full and ${incrementals} incrementals (${((performance.now() - t) / 1000).toFixed(1)} s, made with ${dists[0]})`);
  const points = [
    { label: 'full', at: full.id, tree: fullTree },
    { label: 'latest', at: '', tree: latestTree },
  ];
  const results = dists.map(() => ({ full: [], latest: [] }));
  for (let k = 0; k < runs; k++) {
    for (const [i, dist] of dists.entries()) {
      for (const p of points) {
        const target = join(base, 'target');
        const r = child(dist, workDir, p.at, target);
        if (!same(await manifest(target), p.tree)) throw new Error(`${dist}: the restore of the ${p.label} point differs from the tree`);
        results[i][p.label].push(r);
        await rm(target, { recursive: true });
      }
    }
  }
  for (const [i, dist] of dists.entries()) {
    const line = (label) => {
      const rs = results[i][label];
      const ms = median(rs.map((r) => r.ms));
      return {
        ms,
        cpuMs: median(rs.map((r) => r.userMs + r.sysMs)),
        text: `${label}: median ${(ms / 1000).toFixed(2)} s (${rs.map((r) => (r.ms / 1000).toFixed(2)).join(' ')}), user ${(median(rs.map((r) => r.userMs)) / 1000).toFixed(2)} s, sys ${(median(rs.map((r) => r.sysMs)) / 1000).toFixed(2)} s, peak RSS ${Math.round(Math.max(...rs.map((r) => r.rssKiB)) / 1024)} MiB, ${rs[0].deltas} deltas applied`,
      };
    };
    const f = line('full');
    const l = line('latest');
    console.log(`${dist}:\n  ${f.text}\n  ${l.text}\n  latest / full: ${(l.ms / f.ms).toFixed(2)}× wall (target ≤ 1.2×), ${(l.cpuMs / f.cpuMs).toFixed(2)}× CPU (user + sys)`);
  }
} finally {
  if (values.keep) console.log(`kept: ${base} (the tree in src/, the backups in work/)`);
  else await rm(base, { recursive: true, force: true });
}
