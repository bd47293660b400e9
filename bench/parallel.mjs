#!/usr/bin/env node
// node bench/parallel.mjs (after `npm run build` and `npm run build:native`)
//
// What the native engine buys, and where `auto` should use it. librsync runs each job on
// the libuv thread pool, so several files are processed at once on as many cores as there
// are, and the event loop stays free; the TypeScript engine spreads one large file (16 MiB
// and more) over its worker pool but runs smaller ones on the JavaScript thread.
//
// 1. Signatures of PAR_FILES (8) files of PAR_MB (64) MiB each, all at once vs one after the
//    other, per engine, and as separate rdiff processes (the machine's own ceiling): total
//    MB/s and the parallel/serial ratio.
// 2. One SINGLE_MB (256) MiB file: signature, delta when blocks match (scattered edits),
//    delta when nothing matches (an unrelated file), and patch, for native, js and `rdiff`.
// 3. Files of 64 KiB, 1 MiB and 8 MiB one at a time (100 bytes changed in each), native
//    and js: where the cost of starting a job shows.
//
// Every figure is the best of BENCH_RUNS (2) runs; MB/s is 10^6 bytes of input (the basis
// for signature, the new file for delta, the output for patch) per second. Output is
// discarded (rdiff writes to /dev/null) so the figures are the engines', not the disk's.
// Data lives in $TMP (or the OS temp dir) under ibt-bench-parallel and is reused.
import { spawn, spawnSync } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { selectEngine, nativeAvailable } = await import(join(root, 'dist/engine/select.js'));
const { readFileChunks } = await import(join(root, 'dist/io/read-chunks.js'));

const MiB = 1024 * 1024;
const PAR_FILES = Number(process.env.PAR_FILES ?? 8);
const PAR_MB = Number(process.env.PAR_MB ?? 64);
const SINGLE_MB = Number(process.env.SINGLE_MB ?? 256);
const RUNS = Number(process.env.BENCH_RUNS ?? 2);
const dir = join(process.env.TMP ?? tmpdir(), 'ibt-bench-parallel');

if (!nativeAvailable()) {
  console.error('bench/parallel.mjs measures the native engine: run `npm run build:native` first');
  process.exit(1);
}
const haveRdiff = spawnSync('rdiff', ['--version']).error === undefined;

// ---- inputs ----------------------------------------------------------------------------

/** `size` pseudo-random bytes from `seed` (AES-CTR: fast and incompressible). */
function writeRandom(path, size, seed, edit) {
  if (existsSync(path) && statSync(path).size === size) return;
  const cipher = createCipheriv('aes-256-ctr', Buffer.alloc(32, seed), Buffer.alloc(16));
  const zeros = Buffer.alloc(4 * MiB);
  const fd = openSync(path, 'w');
  for (let at = 0; at < size; at += zeros.length) {
    const chunk = cipher.update(zeros).subarray(0, Math.min(zeros.length, size - at));
    edit?.(chunk, at);
    writeSync(fd, chunk);
  }
  closeSync(fd);
}

mkdirSync(dir, { recursive: true });
const parFiles = Array.from({ length: PAR_FILES }, (_, i) => join(dir, `par-${PAR_MB}m-${i}.bin`));
parFiles.forEach((p, i) => writeRandom(p, PAR_MB * MiB, i + 1));
const basis = join(dir, `basis-${SINGLE_MB}m.bin`);
const edited = join(dir, `edited-${SINGLE_MB}m.bin`);
const unrelated = join(dir, `unrelated-${SINGLE_MB}m.bin`);
writeRandom(basis, SINGLE_MB * MiB, 101);
// The basis with 100 bytes overwritten every 4 MiB: nearly every block still matches.
writeRandom(edited, SINGLE_MB * MiB, 101, (chunk) => chunk.fill(7, 1000, 1100));
writeRandom(unrelated, SINGLE_MB * MiB, 202);

// ---- runners ---------------------------------------------------------------------------

async function drain(iterable) {
  let n = 0;
  for await (const chunk of iterable) n += chunk.length;
  return n;
}

function fileSize(path) {
  return statSync(path).size;
}

// Files are read as the file helpers (signatureFile, deltaFile, patchFile) read them.
const READ = { reuse: true };

/** The engine operation `op` on the given files, output discarded. */
async function runEngine(engine, op, files) {
  const e = selectEngine(engine);
  if (op === 'signature') return drain(e.signature(readFileChunks(files.basis, READ), { fileSize: fileSize(files.basis) }));
  if (op === 'delta') return drain(e.delta(readFileChunks(files.sig, READ), readFileChunks(files.newFile, READ)));
  const handle = await open(files.basis, 'r');
  try {
    return await drain(e.patch(handle, readFileChunks(files.delta, READ)));
  } finally {
    await handle.close();
  }
}

const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

/** rdiff's argument list for `op` on `files`, output discarded. */
function rdiffArgs(op, files) {
  return {
    signature: ['-f', 'signature', files.basis, '/dev/null'],
    delta: ['-f', 'delta', files.sig, files.newFile, '/dev/null'],
    patch: ['-f', 'patch', files.basis, files.delta, '/dev/null'],
  }[op];
}

/** Run rdiff; returns `{ cpu }`, its CPU time in ms (user + system; NaN without /usr/bin/time). */
function runRdiff(op, files) {
  const args = rdiffArgs(op, files);
  const r = TIME ? spawnSync(TIME, ['-f', '%U %S', 'rdiff', ...args], { encoding: 'utf8' }) : spawnSync('rdiff', args);
  if (r.status !== 0) throw new Error(`rdiff ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  if (!TIME) return { cpu: NaN };
  const [user, sys] = r.stderr.trim().split('\n').pop().split(' ').map(Number);
  return { cpu: (user + sys) * 1000 };
}

/** rdiff as a child process, resolved when it exits. */
function rdiffAsync(op, files) {
  return new Promise((resolve, reject) => {
    const child = spawn('rdiff', rdiffArgs(op, files), { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`rdiff exited ${code}`))));
  });
}

/**
 * Best wall time and best CPU time (all threads of this process, or the `cpu` that `fn`
 * returns for a child process) over RUNS runs. CPU time is the steadier figure on a shared machine.
 */
async function best(fn) {
  let wall = Infinity;
  let cpu = Infinity;
  for (let i = 0; i < RUNS; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const child = await fn();
    wall = Math.min(wall, performance.now() - t0);
    const used = process.cpuUsage(c0);
    cpu = Math.min(cpu, child?.cpu ?? (used.user + used.system) / 1000);
  }
  return { wall, cpu };
}

const mbps = (bytes, ms) => (Number.isFinite(ms) && ms > 0 ? (bytes / 1e6 / (ms / 1000)).toFixed(0) : '-').padStart(5);

// ---- 1. parallel signatures ------------------------------------------------------------

const uvPool = process.env.UV_THREADPOOL_SIZE ?? '4 (default)';
console.log(`node ${process.version}, ${availableParallelism()} cores, UV_THREADPOOL_SIZE ${uvPool}, best of ${RUNS}`);
console.log(`\n1. signatures of ${PAR_FILES} x ${PAR_MB} MiB files (MB/s of input, all files, wall clock)`);
console.log('engine          one at a time   all at once   ratio');
const parBytes = PAR_FILES * PAR_MB * MiB;
const parallelRuns = {
  native: (f) => runEngine('native', 'signature', { basis: f }),
  js: (f) => runEngine('js', 'signature', { basis: f }),
};
// The machine's own ceiling: the same work as separate rdiff processes.
if (haveRdiff) parallelRuns['rdiff (procs)'] = (f) => rdiffAsync('signature', { basis: f });
for (const [name, one] of Object.entries(parallelRuns)) {
  const serial = await best(async () => {
    for (const f of parFiles) await one(f);
  });
  const parallel = await best(async () => {
    await Promise.all(parFiles.map(one));
  });
  console.log(`${name.padEnd(15)} ${mbps(parBytes, serial.wall)}          ${mbps(parBytes, parallel.wall)}        ${(serial.wall / parallel.wall).toFixed(2)}x`);
}

// ---- 2. one file: native vs js vs rdiff ------------------------------------------------

async function write(path, iterable) {
  const parts = [];
  for await (const chunk of iterable) parts.push(chunk);
  writeFileSync(path, Buffer.concat(parts));
}

const sig = join(dir, `basis-${SINGLE_MB}m.sig`);
const deltaMatch = join(dir, `edited-${SINGLE_MB}m.delta`);
const deltaNoMatch = join(dir, `unrelated-${SINGLE_MB}m.delta`);
const prepare = (args) => spawnSync('rdiff', ['-f', ...args], { stdio: 'inherit' });
if (haveRdiff) {
  prepare(['signature', basis, sig]);
  prepare(['delta', sig, edited, deltaMatch]);
  prepare(['delta', sig, unrelated, deltaNoMatch]);
} else {
  const js = selectEngine('js');
  await write(sig, js.signature(readFileChunks(basis), { fileSize: fileSize(basis) }));
  await write(deltaMatch, js.delta(readFileChunks(sig), readFileChunks(edited)));
  await write(deltaNoMatch, js.delta(readFileChunks(sig), readFileChunks(unrelated)));
}

const cases = [
  { name: 'signature', op: 'signature', files: { basis }, bytes: fileSize(basis) },
  { name: 'delta, blocks match', op: 'delta', files: { sig, newFile: edited }, bytes: fileSize(edited) },
  { name: 'delta, nothing matches', op: 'delta', files: { sig, newFile: unrelated }, bytes: fileSize(unrelated) },
  { name: 'patch (of the matching delta)', op: 'patch', files: { basis, delta: deltaMatch }, bytes: fileSize(edited) },
];
console.log(`\n2. one ${SINGLE_MB} MiB file (MB/s by wall clock | by CPU time)`);
console.log('operation                       native         js             rdiff          native/rdiff  native/js');
const pair = (bytes, t) => `${mbps(bytes, t.wall)} | ${mbps(bytes, t.cpu)}`;
for (const c of cases) {
  const native = await best(async () => void (await runEngine('native', c.op, c.files)));
  const js = await best(async () => void (await runEngine('js', c.op, c.files)));
  const rdiff = haveRdiff ? await best(async () => runRdiff(c.op, c.files)) : undefined;
  console.log(
    `${c.name.padEnd(30)} ${pair(c.bytes, native)}  ${pair(c.bytes, js)}  ${rdiff ? pair(c.bytes, rdiff) : '      -      '}` +
      `  ${rdiff ? (rdiff.wall / native.wall).toFixed(2) : '   -'}          ${(js.wall / native.wall).toFixed(2)}`,
  );
}
console.log('ratios are of wall-clock throughput: above 1 means native is faster');

// ---- 3. smaller files, one at a time --------------------------------------------------

console.log('\n3. files one at a time, by size (MB/s by wall clock)');
console.log('files            signature native | js   delta native | js   patch native | js');
for (const [size, count] of [[64 * 1024, 400], [MiB, 64], [8 * MiB, 8]]) {
  const name = (what) => join(dir, `small-${size}-${what}`);
  const files = { basis: name('basis'), newFile: name('new'), sig: name('sig'), delta: name('delta') };
  writeRandom(files.basis, size, 300);
  writeRandom(files.newFile, size, 300, (chunk, at) => {
    const middle = size / 2 - at;
    if (middle >= 0 && middle < chunk.length) chunk.fill(7, middle, middle + 100);
  });
  const js = selectEngine('js');
  await write(files.sig, js.signature(readFileChunks(files.basis), { fileSize: size }));
  await write(files.delta, js.delta(readFileChunks(files.sig), readFileChunks(files.newFile)));
  const row = [];
  for (const op of ['signature', 'delta', 'patch']) {
    for (const engine of ['native', 'js']) {
      const t = await best(async () => {
        for (let i = 0; i < count; i++) await runEngine(engine, op, files);
      });
      row.push(mbps(size * count, t.wall));
    }
  }
  const label = `${count} x ${size >= MiB ? `${size / MiB} MiB` : `${size / 1024} KiB`}`;
  console.log(`${label.padEnd(16)} ${row[0]}   | ${row[1]}        ${row[2]} | ${row[3]}        ${row[4]} | ${row[5]}`);
}
