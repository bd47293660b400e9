#!/usr/bin/env node
/**
 * The fixed and per-file cost of a backup that finds nothing to do: a 2,000-file tree, a full
 * backup, then seven incrementals of the unchanged tree in one process; prints the median and
 * the fastest. Needs `npm run build` first.
 *
 * Usage: node bench/unchanged.mjs [DIST]   (DIST: a built dist/ folder, default this checkout's)
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '../dist'));
const { fullBackup, incrementalBackup } = await import(join(dist, 'index.js'));
const base = await mkdtemp(join(tmpdir(), 'ibt-unchanged-'));
try {
  const src = join(base, 'src');
  for (let d = 0; d < 40; d++) await mkdir(join(src, `m${d}`), { recursive: true });
  for (let i = 0; i < 2000; i++) await writeFile(join(src, `m${i % 40}`, `f${i}.ts`), 'x'.repeat(1000 + ((i * 37) % 19000)));
  // Past the racy margin (src/tree/stable-read.ts): files just written are read again once.
  await new Promise((r) => setTimeout(r, 3500));
  const workDir = join(base, 'work');
  await fullBackup(src, { workDir });
  const times = [];
  for (let k = 0; k < 7; k++) {
    const t = performance.now();
    await incrementalBackup(src, { workDir });
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  console.log(`${dist}: unchanged incremental of 2,000 files, median ${times[3].toFixed(0)} ms, fastest ${times[0].toFixed(0)} ms`);
} finally {
  await rm(base, { recursive: true, force: true });
}
