#!/usr/bin/env node
/**
 * `npm run bench:storage`: ibt against restic, both backing up to an S3 server over loopback
 * (issue 9's storage benchmark).
 *
 * One run builds the peer benchmark's tree from its seed (bench/corpus.mjs: at full scale
 * 49,017 files, 2.0 GiB), and each tool, in the same run, backs it up into a bucket of its own
 * moto server (bench/moto.mjs): a full backup, then the day of changes (the same as
 * bench/backup.mjs's), an incremental, and a restore of the latest point from an empty cache
 * (as a new machine would) into a new directory, verified byte for byte against the tree
 * (bench/manifest.mjs). The steps run in phases (every tool's full, the changes, every tool's
 * incremental, every restore), so each tool meets the same tree in the same state.
 *
 * Measured per tool and step: wall time, CPU and peak RSS of the tool's process (each step its
 * own process under /usr/bin/time, bench/measure.mjs), and what went over the wire: requests
 * by method and the bytes of request and response bodies, counted by a small HTTP proxy of
 * this benchmark between each tool and its server (bench/s3-proxy.mjs; with --keep, every
 * request is in `requests-TOOL.tsv`). Then the ibt/restic ratios and the issue's targets: full
 * and incremental faster than restic's, incremental uploads smaller, restore no slower, and
 * the requests of an incremental.
 *
 * What the figures include: moto is a Python server, and a slow one for big bodies (it joins a
 * multipart upload in memory, and serves objects from spooled files): both tools pay for it,
 * but a tool that moves more bytes or makes more requests pays more, as it would on a real
 * service. The proxy runs in this process, on the same 2 cores; its CPU is in neither tool's
 * figures. Before every step the benchmark runs `sync`; trees and caches stay in the page
 * cache, so the figures are those of a warm cache. Set-up (`ibt init`, `restic init`) is not
 * timed and its requests are not counted.
 *
 * The benchmark's own memory does not grow with the data: the proxy streams bodies and keeps
 * a few counters per step. What grows with the file count is the tree's layout and manifest
 * (one entry per file, as in bench/backup.mjs). Its peak RSS once the tree is written and at
 * the end are printed: the steps should add nothing to the first.
 *
 * Usage: node bench/storage.mjs [options]       (npm run build first)
 *   --files N        files of the tree (default 49017: the issue's 2 GiB tree; 2000 is a
 *                    ~90 MiB tree of the same shape, for a quick check)
 *   --tools LIST     comma-separated, of ibt, restic (default ibt,restic)
 *   --timeout SECS   time limit of one step (default 3600)
 *   --dir DIR        work in DIR (new or empty) instead of a new $TMP/ibt-bench-storage-*
 *   --package DIR    run ibt from the built package at DIR instead of this checkout
 *   --keep           leave everything in place (with the request logs)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FULL_FILES, dayOfChanges, makeTree, treeSpec } from './corpus.mjs';
import { compareTree, describeTree, manifest, rest } from './manifest.mjs';
import { flush, load, machineFacts } from './measure.mjs';
import { startMoto } from './moto.mjs';
import { ensureTool, toolVersion, usePackage } from './peers.mjs';
import { size } from './report.mjs';
import { startCountingProxy } from './s3-proxy.mjs';
import { S3_TOOLS, makeS3Tool } from './s3-tools.mjs';
import { s3RatiosTable, s3StepsTable, s3Targets } from './storage-report.mjs';

const BUCKET = 'bench';

const started = Date.now();
const log = (msg) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(5)} s] ${msg}\n`);
const print = (text) => process.stdout.write(`${text}\n`);

function options() {
  const { values } = parseArgs({
    options: {
      files: { type: 'string', default: String(FULL_FILES) },
      tools: { type: 'string', default: S3_TOOLS.join(',') },
      timeout: { type: 'string', default: '3600' },
      dir: { type: 'string' },
      package: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  });
  const tools = values.tools.split(',').filter(Boolean);
  const bad = tools.filter((n) => !S3_TOOLS.includes(n));
  if (bad.length) throw new Error(`unknown tool ${bad.join(', ')}: choose from ${S3_TOOLS.join(', ')}`);
  const files = Number(values.files);
  if (!Number.isInteger(files) || files < 100) throw new Error(`--files takes a whole number of at least 100, not ${values.files}`);
  return { files, tools, timeoutSecs: Number(values.timeout), dir: values.dir, package: values.package, keep: values.keep };
}



/**
 * Each tool's server, proxy and set-up, pushed onto `results` as they start (so that a failure
 * half-way still stops the servers started); a tool that cannot run is kept as skipped.
 */
async function setUp(results, names, { base, src, cli, timeoutSecs }) {
  for (const name of names) {
    const skipped = ensureTool(name);
    if (skipped) {
      results.push({ name, skipped, steps: {} });
      continue;
    }
    const moto = await startMoto(join(base, `moto-${name}`), BUCKET);
    const r = { name, version: toolVersion(name), moto, steps: {} };
    results.push(r);
    r.proxy = await startCountingProxy(moto.endpoint, join(base, `requests-${name}.tsv`));
    r.tool = makeS3Tool({ name, cli, src, base: join(base, name), endpoint: r.proxy.endpoint, bucket: BUCKET, timeoutSecs });
    r.proxy.step('init');
    await r.tool.init();
    r.proxy.take();
  }
}

/** Run `run` as step `key` of `r`, counting its traffic. */
async function step(r, key, run) {
  flush();
  r.proxy.take();
  r.proxy.step(key);
  const s = await run();
  const traffic = r.proxy.take();
  r.steps[key] = { step: s, traffic };
  if (!s.ok) r.dead = true;
  log(
    `${r.name} ${key}: ${s.ok ? `${s.secs.toFixed(2)} s, CPU ${s.cpu.toFixed(1)} s, ${s.rssMiB.toFixed(0)} MiB` : `FAILED ${s.error}`}; ` +
      `${traffic.requests} requests, up ${size(traffic.uploaded)}, down ${size(traffic.downloaded)}`,
  );
}

async function main() {
  const o = options();
  if (o.package) usePackage(o.package);
  const cli = join(o.package ? resolve(o.package) : resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'dist/cli/main.js');
  const base = o.dir ? resolve(o.dir) : mkdtempSync(join(process.env.TMP || tmpdir(), 'ibt-bench-storage-'));
  if (o.dir) {
    mkdirSync(base, { recursive: true });
    if (readdirSync(base).length > 0) throw new Error(`${base} is not empty`);
  }
  print('# ibt against restic, to S3 (moto) over loopback\n');
  print(machineFacts(base));
  print(`Load average before: ${load()}.`);
  print(`Command: node bench/storage.mjs ${process.argv.slice(2).join(' ')}`);
  const results = [];
  let treeRss;
  try {
    const src = join(base, 'tree');
    mkdirSync(src);
    const spec = treeSpec(o.files);
    log(`writing the tree (${o.files} files) in ${src}`);
    const layout = makeTree(src, spec);
    let wroteAt = Date.now();
    flush();
    print(`\nTree: ${describeTree(manifest(src))}${o.files === FULL_FILES ? " (the issue's)" : `, scaled from the issue's ${FULL_FILES.toLocaleString('en')} files`}.`);
    treeRss = maxRssMiB();

    await setUp(results, o.tools, { base, src, cli, timeoutSecs: o.timeoutSecs });
    print(`Tools: ${results.map((r) => (r.skipped ? `${r.name} (skipped: ${r.skipped})` : r.version)).join('; ')}; moto ${motoVersion()}.`);
    const live = () => results.filter((r) => r.tool && !r.dead);

    await rest(wroteAt);
    for (const r of live()) await step(r, 'full', r.tool.backup);
    const day = dayOfChanges(src, spec, layout);
    wroteAt = Date.now();
    flush();
    const after = manifest(src);
    print(`Day of changes: ${day}; after it: ${describeTree(after)}.`);
    await rest(wroteAt);
    for (const r of live()) await step(r, 'incremental', r.tool.backup);
    for (const r of live()) {
      const out = join(base, `restore-${r.name}`);
      await step(r, 'restore', () => r.tool.restore(out));
      if (r.steps.restore.step.ok) {
        r.check = compareTree(after, out);
        log(`${r.name} restore check: ${r.check.count === 0 ? 'identical' : `${r.check.count} entries differ`}`);
      }
    }
    for (const r of results) if (r.moto) r.motoRssMiB = r.moto.peakRssMiB();
    print(`\n${s3StepsTable(results)}\n\nRatios ibt/restic (below 1: ibt faster or smaller):\n\n${s3RatiosTable(results)}\n\nTargets:\n\n${s3Targets(results)}`);
  } finally {
    for (const r of results) {
      await r.proxy?.close();
      await r.moto?.stop();
    }
    print(`\nLoad average after: ${load()}. Whole run: ${((Date.now() - started) / 1000).toFixed(0)} s. Peak RSS of the benchmark itself: ${treeRss?.toFixed(0) ?? '—'} MiB once the tree was written, ${maxRssMiB().toFixed(0)} MiB at the end.`);
    if (!o.keep && existsSync(base)) {
      log(`removing ${base}`);
      spawnSync('rm', ['-rf', base]);
    } else log(`kept ${base}`);
  }
}

function maxRssMiB() {
  return process.resourceUsage().maxRSS / 1024;
}

function motoVersion() {
  return spawnSync('python3', ['-c', 'import moto; print(moto.__version__)'], { encoding: 'utf8' }).stdout.trim() || '?';
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${e.stack ?? e.message}\n`);
  process.exitCode = 1;
});
