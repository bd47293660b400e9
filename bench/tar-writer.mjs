#!/usr/bin/env node
/**
 * The tar writer alone, on the shape of a real full backup's files archive (issue 8: 49k files
 * spent their time per entry): N entries of S bytes of source-like text (default 46,000 × 8 KiB)
 * and a few large random files among them (default 4 × 32 MiB), written through the writer of
 * a base revision (default HEAD) and through this checkout's, with gzip and without.
 *
 * Each build is compiled by this script with the checkout's tsc into a temporary folder (the
 * base from `git archive`, read-only for the repository), so nothing here needs `npm run
 * build`. Every measurement runs in a process of its own that first generates the entries in
 * memory (seeded, identical for every build) and then times only the writing; builds take
 * turns, one of each per round, and the median round is printed: wall time, entries/s, MB/s of
 * tar input, CPU (user + system, all threads), CPU/wall (cores kept busy), the event loop's
 * longest stall while writing, and the archive size. Bodies are passed as a stream (what every
 * build accepts) and, where the build accepts it, as a `Uint8Array` (the in-memory fast path).
 *
 * Usage: node bench/tar-writer.mjs [--entries N] [--size S] [--big K] [--big-size B] [--runs R] [--base REV] [--dir DIR]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { bytes, text } from './random.mjs';

const SELF = fileURLToPath(import.meta.url);
const ROOT = resolve(dirname(SELF), '..');

// A child process: generate the entries, write them once, print one JSON line.
if (process.argv[2] === '--child') {
  const [, , , dist, out, compression, style, entries, size, big, bigSize, inFlight] = process.argv;
  const { TarWriter } = await import(join(dist, 'archive', 'tar-writer.js'));
  const rand = bytes(1);
  const pool = text(rand, 64 << 20);
  const bodies = [];
  const bigEvery = Math.floor(Number(entries) / (Number(big) + 1));
  let placed = 0;
  for (let i = 0; i < Number(entries); i++) {
    const at = (i * 7919 * 64) % (pool.length - Number(size));
    bodies.push({ name: `src/d${i % 500}/file-${i}.ts`, body: pool.subarray(at, at + Number(size)) });
    if (placed < Number(big) && (i + 1) % bigEvery === 0) {
      placed++;
      bodies.push({ name: `bin/blob-${i}.bin`, body: rand(Number(bigSize)) });
    }
  }
  const tarBytes = bodies.reduce((n, b) => n + 512 + Math.ceil(b.body.length / 512) * 512, 1024);
  const asStream = (b) =>
    (async function* () {
      yield b;
    })();
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const cpu = process.cpuUsage();
  const t = performance.now();
  const w = TarWriter.create(out, compression, inFlight ? { inFlight: Number(inFlight) } : undefined);
  for (const { name, body } of bodies) {
    await w.add({ name, type: 'file', mode: 0o644, mtime: '1700000000000000000', uid: 1000, gid: 1000, size: body.length }, style === 'memory' ? body : asStream(body));
  }
  const summary = await w.finish();
  const ms = performance.now() - t;
  const used = process.cpuUsage(cpu);
  loop.disable();
  console.log(JSON.stringify({ ms, cpuMs: (used.user + used.system) / 1000, entries: bodies.length, tarBytes, archiveBytes: summary.size, stallMaxMs: loop.max / 1e6 }));
  process.exit(0);
}

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '46000' },
    size: { type: 'string', default: '8192' },
    big: { type: 'string', default: '4' },
    'big-size': { type: 'string', default: String(32 << 20) },
    runs: { type: 'string', default: '3' },
    base: { type: 'string', default: 'HEAD' },
    dir: { type: 'string' },
  },
});

const work = await mkdtemp(join(values.dir ?? tmpdir(), 'ibt-bench-tar-'));
const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/**
 * Compile a source tree's src/ into `<folder>/dist`, with the checkout's node_modules beside
 * it. tsc emits despite type errors, and an error elsewhere in a checkout being worked on does
 * not concern the writer: only a missing writer stops the run.
 */
async function build(folder, sourceRoot) {
  await mkdir(folder, { recursive: true });
  await symlink(join(ROOT, 'node_modules'), join(folder, 'node_modules'));
  const r = spawnSync(process.execPath, [tsc, '-p', join(sourceRoot, 'tsconfig.build.json'), '--outDir', join(folder, 'dist')], { encoding: 'utf8' });
  if (r.status !== 0) console.error(`note: tsc reported errors building ${sourceRoot}:\n${r.stdout}`);
  if (!existsSync(join(folder, 'dist', 'archive', 'tar-writer.js'))) throw new Error(`building ${sourceRoot} gave no archive/tar-writer.js`);
  return join(folder, 'dist');
}

try {
  const baseSrc = join(work, 'base-src');
  await mkdir(baseSrc);
  execFileSync('sh', ['-c', `git -C "${ROOT}" archive "${values.base}" | tar -x -C "${baseSrc}"`]);
  await symlink(join(ROOT, 'node_modules'), join(baseSrc, 'node_modules'));
  const builds = [
    { name: `base (${values.base})`, dist: await build(join(work, 'base'), baseSrc), styles: ['stream'] },
    { name: 'this checkout', dist: await build(join(work, 'new'), ROOT), styles: ['stream', 'memory'] },
  ];
  const rows = new Map();
  for (let round = 0; round < Number(values.runs); round++) {
    for (const compression of ['gzip', 'none']) {
      for (const b of builds) {
        for (const style of b.styles) {
          const out = join(work, `out-${compression}.tar`);
          const r = spawnSync(process.execPath, [SELF, '--child', b.dist, out, compression, style, values.entries, values.size, values.big, values['big-size']], { encoding: 'utf8', maxBuffer: 1 << 20 });
          if (r.status !== 0) throw new Error(`${b.name} ${compression} ${style} failed: ${r.stderr}`);
          await rm(out, { force: true });
          const key = `${compression} | ${b.name} | ${style}`;
          rows.set(key, [...(rows.get(key) ?? []), JSON.parse(r.stdout.trim().split('\n').pop())]);
        }
      }
    }
  }
  console.log(`${values.entries} entries × ${values.size} B text + ${values.big} × ${Number(values['big-size']) >> 20} MiB random; median of ${values.runs} rounds`);
  console.log('| compression | writer | body | wall s | entries/s | MB/s (tar) | CPU s | CPU/wall | event-loop stall max ms | archive MB |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const [key, runs] of rows) {
    const m = runs.sort((a, b) => a.ms - b.ms)[Math.floor(runs.length / 2)];
    const s = m.ms / 1000;
    console.log(`| ${key} | ${s.toFixed(2)} | ${Math.round(m.entries / s)} | ${(m.tarBytes / 1e6 / s).toFixed(0)} | ${(m.cpuMs / 1000).toFixed(2)} | ${(m.cpuMs / m.ms).toFixed(2)} | ${m.stallMaxMs.toFixed(0)} | ${(m.archiveBytes / 1e6).toFixed(1)} |`);
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
