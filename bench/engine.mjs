#!/usr/bin/env node
// npm run bench:engine — the rsync engine against the real rdiff, on the same files in the
// same run, alternating tools so a noisy machine hurts every column alike.
//
// Inputs (BENCH_MB, default 512 MiB each): a random basis; that basis with 100 scattered
// 100-byte overwrites; with 10 inserts of 4 KiB; an identical copy; an unrelated random file
// (no block matches); a log-like text file and the same log with edits and an appended tail.
// Columns: `rdiff`, `ibt rdiff` as a whole process (node's start-up included) with the engine
// it picks by default (`auto`) and with each engine forced, the API in-process
// (`signatureFile`, `deltaFile`, `patchFile`) on the js engine, and on the native engine where
// it is built. Each figure is the best of BENCH_RUNS (default 2) runs. Prints MB/s (10^6
// bytes/s), peak RSS, the ratio ours/rdiff, and whether our output is byte-identical to
// rdiff's. First a start-up row (`ibt rdiff --version` against `rdiff --version` and a bare
// `node`), last the patches against `cp` of the same file (the goal: patch >= 0.9x cp).
import { spawnSync } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const api = await import(join(root, 'dist/index.js'));
const CLI = join(root, 'dist/cli/main.js');
const MB = Number(process.env.BENCH_MB ?? 512);
const RUNS = Number(process.env.BENCH_RUNS ?? 2);
const SIZE = MB * 1024 * 1024;
const dir = join(process.env.TMP ?? tmpdir(), 'ibt-bench-engine');
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}
if (!have('rdiff')) {
  console.error('bench:engine needs rdiff (apt-get install rdiff)');
  process.exit(1);
}

// ---- inputs --------------------------------------------------------------------------

function keystream(seed) {
  const key = Buffer.alloc(32, seed);
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(4 << 20);
  return () => cipher.update(zeros);
}

function writeRandom(path, size, seed) {
  const next = keystream(seed);
  const fd = openSync(path, 'w');
  for (let left = size; left > 0; ) {
    const chunk = next();
    const n = Math.min(left, chunk.length);
    writeSync(fd, chunk, 0, n);
    left -= n;
  }
  closeSync(fd);
}

function* prng(seed) {
  let x = seed >>> 0 || 1;
  for (;;) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    yield x;
  }
}

function writeLog(path, size, seed, edit = false) {
  const r = prng(seed);
  const levels = ['INFO', 'WARN', 'DEBUG', 'ERROR'];
  const paths = ['/api/users', '/api/orders', '/health', '/api/items/search', '/static/app.js'];
  const fd = openSync(path, 'w');
  let written = 0;
  let line = 0;
  let parts = [];
  let partLen = 0;
  const target = edit ? size + (1 << 20) : size;
  while (written + partLen < target) {
    const a = r.next().value;
    const b = r.next().value;
    let text = `2026-11-22T${String(line % 24).padStart(2, '0')}:${String((a >>> 8) % 60).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}.${String(b % 1000).padStart(3, '0')}Z ${levels[a % 4]} worker-${b % 32} GET ${paths[b % 5]} id=${a.toString(16)} took ${b % 997}ms\n`;
    // The edited log changes one line in 5000 after the first tenth, then grows by 1 MiB.
    if (edit && line % 5000 === 2500 && written > size / 10 && written < size) text = `EDITED ${text}`;
    line++;
    parts.push(text);
    partLen += text.length;
    if (partLen > 1 << 20) {
      const buf = Buffer.from(parts.join(''));
      writeSync(fd, buf);
      written += buf.length;
      parts = [];
      partLen = 0;
    }
  }
  if (parts.length) writeSync(fd, Buffer.from(parts.join('')));
  closeSync(fd);
}

function overwriteScattered(src, dst, count, len, seed) {
  copyFileSync(src, dst);
  const r = prng(seed);
  const fd = openSync(dst, 'r+');
  const size = statSync(dst).size;
  for (let i = 0; i < count; i++) {
    const at = Math.floor((size / count) * i + (r.next().value % Math.floor(size / count - len)));
    writeSync(fd, Buffer.alloc(len, 0x5a + i), 0, len, at);
  }
  closeSync(fd);
}

function insertBlocks(src, dst, count, len) {
  const size = statSync(src).size;
  const input = openSync(src, 'r');
  const out = openSync(dst, 'w');
  const buf = Buffer.alloc(4 << 20);
  let pos = 0;
  for (let i = 0; i <= count; i++) {
    const until = i < count ? Math.floor((size / (count + 1)) * (i + 1)) : size;
    while (pos < until) {
      const n = readSync(input, buf, 0, Math.min(buf.length, until - pos), pos);
      writeSync(out, buf, 0, n);
      pos += n;
    }
    if (i < count) writeSync(out, Buffer.alloc(len, 0x30 + i));
  }
  closeSync(input);
  closeSync(out);
}

// ---- measuring ------------------------------------------------------------------------

function runProcess(cmd, args) {
  const full = TIME ? [TIME, ['-f', '%e %M', cmd, ...args]] : [cmd, args];
  const started = process.hrtime.bigint();
  const res = spawnSync(full[0], full[1], { encoding: 'utf8', maxBuffer: 1 << 20 });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${res.stderr}`);
  let rss;
  if (TIME) {
    const last = res.stderr.trim().split('\n').pop().split(' ');
    rss = Number(last[1]) / 1024;
  }
  return { seconds, rss };
}

async function runApi(fn) {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  const started = process.hrtime.bigint();
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  peak = Math.max(peak, process.memoryUsage().rss);
  return { seconds, rss: peak / 1048576 };
}

function same(a, b) {
  return spawnSync('cmp', ['-s', a, b]).status === 0;
}

const fmt = (x, d = 0) => (x === undefined || Number.isNaN(x) ? 'n/a' : x.toFixed(d));

// ---- the run --------------------------------------------------------------------------

async function main() {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const f = (name) => join(dir, name);
  console.log(`bench:engine — ${MB} MiB inputs in ${dir}, best of ${RUNS}; ${new Date().toISOString()}`);
  console.log(`node ${process.version}; native engine: ${api.nativeAvailable() ? 'built' : 'not built'}`);
  const t0 = Date.now();
  writeRandom(f('basis'), SIZE, 1);
  writeRandom(f('unrelated'), SIZE, 2);
  overwriteScattered(f('basis'), f('scattered'), 100, 100, 3);
  insertBlocks(f('basis'), f('inserts'), 10, 4096);
  copyFileSync(f('basis'), f('identical'));
  writeLog(f('log'), SIZE, 4);
  writeLog(f('log-edited'), SIZE, 4, true);
  console.log(`inputs generated in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);

  const bare = join(dir, 'empty.mjs');
  writeFileSync(bare, '');
  const startup = { rdiff: Infinity, 'ibt rdiff': Infinity, node: Infinity };
  for (let run = 0; run < 10 * RUNS; run++) {
    startup.rdiff = Math.min(startup.rdiff, runProcess('rdiff', ['--version']).seconds);
    startup['ibt rdiff'] = Math.min(startup['ibt rdiff'], runProcess('node', [CLI, 'rdiff', '--version']).seconds);
    startup.node = Math.min(startup.node, runProcess('node', [bare]).seconds);
  }
  console.log(`start-up (--version, best of ${10 * RUNS}): ${Object.entries(startup).map(([k, v]) => `${k} ${fmt(v * 1000, 1)} ms`).join(' | ')}\n`);

  const engines = ['js', ...(api.nativeAvailable() ? ['native'] : [])];
  const cli = ['auto', ...engines];
  const columns = ['rdiff', ...cli.map((e) => `ibt rdiff (${e})`), ...engines.map((e) => `API (${e})`)];
  const rows = [];

  async function measure(label, bytes, rdiffArgs, ourArgs, apiFn, outputs) {
    const best = {};
    // Each output is removed before its run, so that no run pays for dropping the pages of
    // the previous run's output (256 MiB of page cache takes tens of milliseconds to free),
    // as `cp` below, which writes a new file, does not.
    const fresh = (path) => rmSync(path, { force: true });
    for (let run = 0; run < RUNS; run++) {
      fresh(rdiffArgs.at(-1));
      const results = { rdiff: runProcess('rdiff', ['-f', ...rdiffArgs]) };
      for (const e of cli) {
        fresh(ourArgs(e).at(-1));
        results[`ibt rdiff (${e})`] = runProcess('node', [CLI, 'rdiff', '-f', '--engine', e, ...ourArgs(e)]);
      }
      for (const e of engines) {
        fresh(outputs.ours(e));
        results[`API (${e})`] = await runApi(() => apiFn(e));
      }
      for (const [k, v] of Object.entries(results)) {
        if (!best[k] || v.seconds < best[k].seconds) best[k] = v;
      }
    }
    const check = (name, path) => `${name}:${same(outputs.rdiff, path) ? 'same' : 'DIFFERENT'}`;
    const identical = outputs
      ? [...engines.map((e) => check(`API ${e}`, outputs.ours(e))), ...cli.map((e) => check(`CLI ${e}`, outputs.cli(e)))].join(' ')
      : '';
    rows.push({ label, bytes, best, identical });
    const mbs = (k) => bytes / 1e6 / best[k].seconds;
    console.log(
      `${label.padEnd(22)} ` +
        columns.map((k) => `${k} ${fmt(mbs(k))} MB/s ${fmt(best[k].rss)} MiB`).join(' | ') +
        ` | ratio auto ${fmt(mbs('ibt rdiff (auto)') / mbs('rdiff'), 2)}× ` +
        `${engines.map((e) => `${e} ${fmt(mbs(`ibt rdiff (${e})`) / mbs('rdiff'), 2)}×/${fmt(mbs(`API (${e})`) / mbs('rdiff'), 2)}×`).join(' ')}` +
        (identical ? ` | ${identical}` : ''),
    );
  }

  for (const basis of ['basis', 'log']) {
    await measure(
      `signature ${basis}`,
      SIZE,
      ['signature', f(basis), f(`${basis}.sig.rdiff`)],
      (e) => ['signature', f(basis), f(`${basis}.sig.cli.${e}`)],
      (e) => api.signatureFile(f(basis), f(`${basis}.sig.api.${e}`), { overwrite: true, engine: e }),
      { rdiff: f(`${basis}.sig.rdiff`), ours: (e) => f(`${basis}.sig.api.${e}`), cli: (e) => f(`${basis}.sig.cli.${e}`) },
    );
  }
  const cases = [
    ['identical', 'basis'],
    ['scattered', 'basis'],
    ['inserts', 'basis'],
    ['unrelated', 'basis'],
    ['log-edited', 'log'],
  ];
  for (const [name, basis] of cases) {
    const sig = f(`${basis}.sig.rdiff`);
    await measure(
      `delta ${name}`,
      statSync(f(name)).size,
      ['delta', sig, f(name), f(`${name}.delta.rdiff`)],
      (e) => ['delta', sig, f(name), f(`${name}.delta.cli.${e}`)],
      (e) => api.deltaFile(sig, f(name), f(`${name}.delta.api.${e}`), { overwrite: true, engine: e }),
      { rdiff: f(`${name}.delta.rdiff`), ours: (e) => f(`${name}.delta.api.${e}`), cli: (e) => f(`${name}.delta.cli.${e}`) },
    );
  }
  for (const [name, basis] of cases) {
    const delta = f(`${name}.delta.rdiff`);
    await measure(
      `patch ${name}`,
      statSync(f(name)).size,
      ['patch', f(basis), delta, f(`${name}.patched.rdiff`)],
      (e) => ['patch', f(basis), delta, f(`${name}.patched.cli.${e}`)],
      (e) => api.patchFile(f(basis), delta, f(`${name}.patched.api.${e}`), { overwrite: true, engine: e }),
      { rdiff: f(name), ours: (e) => f(`${name}.patched.api.${e}`), cli: (e) => f(`${name}.patched.cli.${e}`) },
    );
  }
  let cp = Infinity;
  for (let run = 0; run < RUNS; run++) {
    rmSync(f('cp.out'), { force: true });
    cp = Math.min(cp, runProcess('cp', [f('identical'), f('cp.out')]).seconds);
  }
  const cpMBs = SIZE / 1e6 / cp;
  console.log(`\ncp of one ${MB} MiB file: ${fmt(cpMBs)} MB/s`);
  for (const row of rows.filter((r) => r.label.startsWith('patch'))) {
    const vsCp = (k) => fmt(row.bytes / 1e6 / row.best[k].seconds / cpMBs, 2);
    console.log(
      `${row.label.padEnd(22)} vs cp: ` +
        [...cli.map((e) => `ibt rdiff (${e}) ${vsCp(`ibt rdiff (${e})`)}×`), ...engines.map((e) => `API (${e}) ${vsCp(`API (${e})`)}×`)].join(', ') +
        `, rdiff ${vsCp('rdiff')}×`,
    );
  }
  if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
}

await main();
