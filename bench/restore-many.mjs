#!/usr/bin/env node
/**
 * The per-file cost of a restore: a tree of many small files (issue 8, "Speed at real scale":
 * a 49k-file restore spent most of its time in per-file system-call round trips).
 *
 * Generates N files in M directories (sizes 100 B to 16 KiB, text, the same on every run),
 * makes one full backup per build, then restores it R times into an empty target, each
 * restore in a process of its own, and prints per build the median time, files/s, the median
 * voluntary context switches, CPU (user/sys), the event loop's delay while the restore ran
 * (how long a server embedding the library would wait to run anything else) and the largest
 * peak RSS. With strace installed, one more restore per build runs under `strace -f -c`, and
 * the system calls it makes beyond those of a process that only loads the library are
 * printed, in total and per file.
 *
 * Given several dist/ folders (a checkout before a change and one after), the restores take
 * turns, one of each build per round: on a shared, noisy machine a before and an after
 * measured minutes apart compare the machine's load as much as the code. Needs `npm run
 * build` first.
 *
 * Usage: node bench/restore-many.mjs [--files N] [--dirs M] [--runs R] [--compression zstd|gzip|none] [--concurrency K] [--no-strace] [--dir DIR] [DIST...]
 *   --files N        files in the tree (default 20000)
 *   --dirs M         directories they are spread over (default 200)
 *   --runs R         timed restores per build (default 5)
 *   --compression C  of the backup (default zstd)
 *   --concurrency K  the restore's `concurrency` option (default: the library's; builds
 *                    without the option ignore it)
 *   --no-strace      skip the strace round
 *   --dir DIR        where to put the tree, the backups and the targets (default the OS temp dir)
 *   DIST             a built dist/ folder (default this checkout's)
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { prng } from './random.mjs';

const SELF = fileURLToPath(import.meta.url);
const USAGE = 'usage: node bench/restore-many.mjs [--files N] [--dirs M] [--runs R] [--compression zstd|gzip|none] [--concurrency K] [--no-strace] [--dir DIR] [DIST...]';

// A child process: one restore (or, with no target, only loading the library), one JSON line out.
if (process.argv[2] === '--child') {
  const [, , , dist, workDir, concurrency, target] = process.argv;
  const api = await import(join(dist, 'index.js'));
  let ms = 0;
  const loop = monitorEventLoopDelay({ resolution: 5 });
  if (target) {
    loop.enable();
    const t = performance.now();
    await api.restoreBackup('src', target, { workDir, ...(concurrency ? { concurrency: Number(concurrency) } : {}) });
    ms = performance.now() - t;
    loop.disable();
  }
  const u = process.resourceUsage();
  const lag = { lagP99Ms: loop.percentile(99) / 1e6, lagMaxMs: loop.max / 1e6 };
  console.log(JSON.stringify({ ms, rssKiB: u.maxRSS, vcsw: u.voluntaryContextSwitches, userMs: u.userCPUTime / 1000, sysMs: u.systemCPUTime / 1000, ...lag }));
  process.exit(0);
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    files: { type: 'string', default: '20000' },
    dirs: { type: 'string', default: '200' },
    runs: { type: 'string', default: '5' },
    compression: { type: 'string', default: 'zstd' },
    concurrency: { type: 'string' },
    'no-strace': { type: 'boolean', default: false },
    dir: { type: 'string' },
  },
});
const files = Number(values.files);
const dirs = Number(values.dirs);
const runs = Number(values.runs);
const concurrency = values.concurrency === undefined ? 1 : Number(values.concurrency);
if (![files, dirs, runs, concurrency].every((n) => Number.isInteger(n) && n >= 1) || !['zstd', 'gzip', 'none'].includes(values.compression)) {
  console.error(USAGE);
  process.exit(2);
}
const dists = (positionals.length > 0 ? positionals : [join(dirname(SELF), '../dist')]).map((d) => resolve(d));
const strace = !values['no-strace'] && spawnSync('strace', ['-V']).status === 0;

const WORDS = 'the of backup delta signature file restore chain state vault archive block rolling hash const let return async await function export import interface type'.split(' ');

/** Text of `n` bytes: compressible, as most small files are. */
function text(rand, n) {
  let s = '';
  while (s.length < n) s += `${WORDS[Math.floor(rand() * WORDS.length)]}${rand() < 0.1 ? '\n' : ' '}`;
  return s.slice(0, n);
}

async function makeTree(src) {
  const rand = prng(8);
  for (let d = 0; d < dirs; d++) await mkdir(join(src, `d${d}`), { recursive: true });
  const contents = Array.from({ length: files }, () => text(rand, 100 + Math.floor(rand() * (16 * 1024 - 100))));
  // A few writes in flight: creating 20,000 files one at a time takes longer than the restores.
  for (let i = 0; i < files; i += 16) {
    await Promise.all(contents.slice(i, i + 16).map((c, k) => writeFile(join(src, `d${(i + k) % dirs}`, `f${i + k}.txt`), c)));
  }
}

/** Run one child; `wrap` prefixes the command (strace). */
function child(dist, workDir, target, wrap = []) {
  const args = [...wrap, process.execPath, SELF, '--child', dist, workDir, values.concurrency ?? '', ...(target ? [target] : [])];
  const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

/** Calls by name from `strace -c` output. */
function parseStrace(text) {
  const calls = new Map();
  for (const line of text.split('\n')) {
    const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$/.exec(line);
    if (m && m[2] !== 'total') calls.set(m[2], Number(m[1]));
  }
  return calls;
}

async function straced(dist, workDir, target, out) {
  child(dist, workDir, target, ['strace', '-f', '-c', '-o', out]);
  return parseStrace(await readFile(out, 'utf8'));
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const base = await mkdtemp(join(values.dir ?? tmpdir(), 'ibt-restore-many-'));
try {
  const src = join(base, 'src');
  let t = performance.now();
  await makeTree(src);
  console.log(`tree: ${files.toLocaleString('en')} files in ${dirs} directories (${((performance.now() - t) / 1000).toFixed(1)} s)`);
  const builds = dists.map((dist, i) => ({ dist, workDir: join(base, `work${i}`), results: [] }));
  for (const b of builds) {
    t = performance.now();
    const api = await import(join(b.dist, 'index.js'));
    await api.fullBackup(src, { workDir: b.workDir, compression: values.compression });
    console.log(`${b.dist}: full backup ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  for (let k = 0; k < runs; k++) {
    for (const [i, b] of builds.entries()) {
      const target = join(base, `target${i}`);
      b.results.push(child(b.dist, b.workDir, target));
      await rm(target, { recursive: true });
    }
  }
  for (const b of builds) {
    const ms = median(b.results.map((r) => r.ms));
    const line = [
      `restore median ${(ms / 1000).toFixed(2)} s (${Math.round(files / (ms / 1000)).toLocaleString('en')} files/s)`,
      `times ${b.results.map((r) => (r.ms / 1000).toFixed(2)).join(' ')}`,
      `voluntary context switches ${Math.round(median(b.results.map((r) => r.vcsw))).toLocaleString('en')}`,
      `user ${(median(b.results.map((r) => r.userMs)) / 1000).toFixed(2)} s, sys ${(median(b.results.map((r) => r.sysMs)) / 1000).toFixed(2)} s`,
      `peak RSS ${Math.round(Math.max(...b.results.map((r) => r.rssKiB)) / 1024)} MiB`,
      `event loop delay: p99 ${median(b.results.map((r) => r.lagP99Ms)).toFixed(1)} ms, max ${median(b.results.map((r) => r.lagMaxMs)).toFixed(1)} ms (medians over the restores)`,
    ];
    console.log(`${b.dist}:\n  ${line.join('\n  ')}`);
    if (!strace) continue;
    const target = join(base, 'target-strace');
    const idle = await straced(b.dist, b.workDir, undefined, join(base, 'strace-idle'));
    const busy = await straced(b.dist, b.workDir, target, join(base, 'strace-restore'));
    await rm(target, { recursive: true });
    const extra = [...busy].map(([name, n]) => [name, n - (idle.get(name) ?? 0)]).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
    const total = extra.reduce((s, [, n]) => s + n, 0);
    console.log(`  system calls (strace -f -c, beyond loading the library): ${total.toLocaleString('en')}, ${(total / files).toFixed(2)} per file`);
    console.log(`  per file: ${extra.filter(([, n]) => n / files >= 0.05).map(([name, n]) => `${name} ${(n / files).toFixed(2)}`).join(', ')}`);
  }
} finally {
  await rm(base, { recursive: true, force: true });
}
