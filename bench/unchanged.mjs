#!/usr/bin/env node
/**
 * The fixed and per-file cost of a backup that finds nothing to do: a tree of N files (50 to a
 * directory), a full backup, then seven incrementals of the unchanged tree in one process;
 * prints the median and the fastest. Needs `npm run build` first.
 *
 * Given several dist/ folders (a checkout before a change and one after), every build gets
 * its own full backup of the same tree and the incrementals take turns, one of each build per
 * round: on a shared, noisy machine a before and an after measured minutes apart compare the
 * machine's load as much as the code. The process's CPU time (all threads) is printed beside
 * the wall time: the machine's load moves it less.
 *
 * Usage: node bench/unchanged.mjs [--files N] [--runs R] [DIST...]
 *   --files N  files in the tree (default 2000)
 *   --runs R   incrementals per build (default 7)
 *   DIST       a built dist/ folder (default this checkout's)
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const PER_DIR = 50;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { files: { type: 'string', default: '2000' }, runs: { type: 'string', default: '7' } },
});
const files = Number(values.files);
const runs = Number(values.runs);
if (!Number.isInteger(files) || files < 1 || !Number.isInteger(runs) || runs < 1) {
  console.error('usage: node bench/unchanged.mjs [--files N] [--runs R] [DIST...] (N and R positive integers)');
  process.exit(2);
}
const dists = (positionals.length > 0 ? positionals : [join(dirname(fileURLToPath(import.meta.url)), '../dist')]).map((d) => resolve(d));
const builds = [];
for (const dist of dists) builds.push({ dist, api: await import(join(dist, 'index.js')), times: [], cpu: [] });

const base = await mkdtemp(join(tmpdir(), 'ibt-unchanged-'));
try {
  const src = join(base, 'src');
  const dirs = Math.ceil(files / PER_DIR);
  for (let d = 0; d < dirs; d++) await mkdir(join(src, `m${d}`), { recursive: true });
  // A few writes in flight: creating 50,000 files one at a time takes longer than the runs.
  const write = async (i) => writeFile(join(src, `m${i % dirs}`, `f${i}.ts`), 'x'.repeat(1000 + ((i * 37) % 19000)));
  for (let i = 0; i < files; i += 16) await Promise.all(Array.from({ length: Math.min(16, files - i) }, (_, k) => write(i + k)));
  // Past the racy margin (src/tree/stable-read.ts): files just written are read again once.
  await new Promise((r) => setTimeout(r, 3500));
  for (const [i, b] of builds.entries()) {
    b.workDir = join(base, `work${i}`);
    await b.api.fullBackup(src, { workDir: b.workDir });
  }
  for (let k = 0; k < runs; k++) {
    for (const b of builds) {
      const t = performance.now();
      const c = process.cpuUsage();
      await b.api.incrementalBackup(src, { workDir: b.workDir });
      b.times.push(performance.now() - t);
      const { user, system } = process.cpuUsage(c);
      b.cpu.push((user + system) / 1000);
    }
  }
  for (const { dist, times, cpu } of builds) {
    times.sort((a, b) => a - b);
    console.log(
      `${dist}: unchanged incremental of ${files.toLocaleString('en')} files, median ${median(times).toFixed(0)} ms, fastest ${times[0].toFixed(0)} ms, median CPU ${median(cpu).toFixed(0)} ms (${runs} runs)`,
    );
  }
} finally {
  await rm(base, { recursive: true, force: true });
}
