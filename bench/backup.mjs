#!/usr/bin/env node
/**
 * `npm run bench:backup`: ibt against restic, borg and GNU tar at real scale (issue 8).
 *
 * One run builds a tree from a seed (bench/corpus.mjs: at full scale 49,017 files in 2,213
 * directories, 2.03 GiB — source-like text, binaries, a 512 MiB VM image, a 64 MiB log), and
 * every tool backs up that same copy: a full backup, an incremental of the unchanged tree,
 * then the day of changes (~900 edits, 1 MiB appended to the log, 64 KiB overwritten in the
 * image, 4 KiB inserted in a binary, 490 files deleted, 490 added, a directory renamed), an
 * incremental, and a restore of the latest point into a new directory, verified byte for byte
 * against the tree (bench/manifest.mjs). ibt then goes on to a chain 10 incrementals deep and
 * restores its full and its 10th incremental. With `--million`, the same steps (no chain) run
 * on a tree of a million small files in deep and wide directories (bench/million.mjs).
 *
 * Measured per step, each step its own process under /usr/bin/time (bench/measure.mjs): wall
 * time, user + system CPU, peak RSS; per tool, the size of its repository after the full and
 * what each incremental added. ibt runs as its CLI from the build (`npm run build` first); the
 * peers are set up by bench/peers.mjs and installed with apt-get when missing (as root).
 * Before every step the benchmark runs `sync`, so no step pays for the write-back of the one
 * before; the trees and repositories stay in the page cache (a 2 GiB tree on a 24 GiB machine),
 * so the figures are those of a warm cache.
 *
 * The file system: on ext4, creating many files soon after a large tree was deleted is slow
 * for minutes (the inode allocator skips inodes deleted in the last seconds-to-minutes, and
 * scanning past them costs). So nothing a tool measures follows a large deletion: all
 * restores go to fresh directories that are kept, the million-file tree is written next to
 * the main one, and the only deletions during the run are the day's own (490 files, 0.1 %
 * of the million) and the ones tar's restore makes itself. Everything is removed at the end,
 * in one `rm -rf`, after the last measurement. A second run started right after a first one
 * pays for the first's clean-up while it writes its tree and restores: leave a few minutes
 * between runs, or keep the first with --keep and remove it later.
 *
 * Usage: node bench/backup.mjs [options]
 *   --files N            files of the main tree (default 5000: a ~220 MiB tree of the same
 *                        shape; 49017 is the issue's 2 GiB tree)
 *   --tools LIST         comma-separated, of ibt, ibt-none, restic, borg, tar
 *                        (default ibt,restic,borg,tar)
 *   --chain N            depth of ibt's chain, 0 for none (default 10)
 *   --million            also the million-file tree
 *   --million-files N    its file count (default 1000000)
 *   --million-tools LIST tools for it (default ibt,restic: the others take long there)
 *   --timeout SECS       time limit of one step (default 3600)
 *   --dir DIR            work in DIR (new or empty) instead of a new $TMP/ibt-bench-*
 *   --package DIR        run ibt from the built package at DIR (default this checkout):
 *                        a copy of dist/ (with package.json, node_modules and the addon
 *                        beside it) is not changed by a rebuild during a long run
 *   --keep               leave everything in place
 *
 * The issue's full run: npm run build && node bench/backup.mjs --files 49017 --million
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { FULL_FILES, chainRound, dayOfChanges, makeTree, treeSpec } from './corpus.mjs';
import { compareTree, describeTree, manifest, rest } from './manifest.mjs';
import { dirBytes, flush, load, machineFacts } from './measure.mjs';
import { makeMillionTree, millionChanges } from './million.mjs';
import { TOOL_NAMES, ensureTool, makeTool, toolVersion, usePackage } from './peers.mjs';
import { millionTargets, ratiosTable, size, stepsTable, treeTargets } from './report.mjs';

const started = Date.now();
const log = (msg) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(5)} s] ${msg}\n`);
const print = (text) => process.stdout.write(`${text}\n`);

function options() {
  const { values } = parseArgs({
    options: {
      files: { type: 'string', default: '5000' },
      tools: { type: 'string', default: 'ibt,restic,borg,tar' },
      chain: { type: 'string', default: '10' },
      million: { type: 'boolean', default: false },
      'million-files': { type: 'string', default: '1000000' },
      'million-tools': { type: 'string', default: 'ibt,restic' },
      timeout: { type: 'string', default: '3600' },
      dir: { type: 'string' },
      package: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  });
  const list = (s) => {
    const names = s.split(',').filter(Boolean);
    const bad = names.filter((n) => !TOOL_NAMES.includes(n));
    if (bad.length) throw new Error(`unknown tool ${bad.join(', ')}: choose from ${TOOL_NAMES.join(', ')}`);
    return names;
  };
  return {
    files: Number(values.files),
    tools: list(values.tools),
    chain: Number(values.chain),
    million: values.million,
    millionFiles: Number(values['million-files']),
    millionTools: list(values['million-tools']),
    timeoutSecs: Number(values.timeout),
    dir: values.dir,
    package: values.package,
    keep: values.keep,
  };
}



/**
 * Every step of every tool on one tree, in phases (all fulls, all unchanged incrementals, the
 * changes, all incrementals, all restores), so each tool meets the same copy in the same state.
 */
async function runTree({ title, dir, tools, timeoutSecs, make, change, chain }) {
  const src = join(dir, 'tree');
  mkdirSync(src, { recursive: true });
  log(`${title}: writing the tree in ${src}`);
  make(src);
  let wroteAt = Date.now();
  log(`written in ${((wroteAt - started) / 1000).toFixed(0)} s since start; sync and manifest`);
  flush();
  const before = manifest(src);
  print(`\n## ${title}\n\nTree: ${describeTree(before)}.`);

  const results = tools.map(({ name, skipped }) =>
    skipped ? { name, skipped, steps: {}, stored: {} } : { name, tool: makeTool(name, src, join(dir, `repo-${name}`), timeoutSecs), steps: {}, stored: {} },
  );
  const live = () => results.filter((r) => r.tool && !r.dead);
  const step = async (key, r, run) => {
    flush();
    const s = await run();
    r.steps[key] = s;
    if (!s.ok) r.dead = true;
    log(`${r.name} ${key}: ${s.ok ? `${s.secs.toFixed(2)} s, CPU ${s.cpu.toFixed(1)} s, ${s.rssMiB.toFixed(0)} MiB` : `FAILED ${s.error}`}`);
    return s;
  };
  const backups = async (key) => {
    for (const r of live()) {
      const had = dirBytes(r.tool.repo);
      await step(key, r, r.tool.backup);
      r.stored[key] = dirBytes(r.tool.repo) - had;
    }
  };

  await rest(wroteAt);
  await backups('full');
  await backups('unchanged');
  const day = change(src);
  wroteAt = Date.now();
  flush();
  const after = manifest(src);
  print(`Day of changes: ${day}; after it: ${describeTree(after)}.`);
  await rest(wroteAt);
  await backups('incremental');
  for (const r of live()) {
    const out = join(dir, `restore-${r.name}`);
    await step('restore', r, () => r.tool.restore(out));
    if (r.steps.restore.ok) {
      r.check = compareTree(after, out);
      log(`${r.name} restore check: ${r.check.count === 0 ? 'identical' : `${r.check.count} entries differ`}`);
    }
  }

  const ibt = live().find((r) => r.name === 'ibt');
  if (chain && ibt) {
    ibt.chain = { depth: chain.depth, checks: [] };
    const rounds = chain.depth - 2;
    log(`ibt chain: ${rounds} more incrementals`);
    for (let round = 1; round <= rounds && !ibt.dead; round++) {
      chain.round(src, round);
      await rest(Date.now());
      flush();
      const s = await ibt.tool.backup();
      if (!s.ok) ibt.chain.checks.push(`incremental ${round + 2} failed: ${s.error}`);
      if (!s.ok) ibt.dead = true;
    }
    if (!ibt.dead) {
      const last = manifest(src);
      const restore = async (point, want, label) => {
        const out = join(dir, `chain-${label}`);
        flush();
        const s = await ibt.tool.restore(out, point);
        const c = s.ok ? compareTree(want, out) : undefined;
        if (c?.count) ibt.chain.checks.push(`restore of the ${label} differs in ${c.count} entries, e.g. ${c.examples.join('; ')}`);
        log(`ibt chain restore of the ${label}: ${s.ok ? `${s.secs.toFixed(2)} s, ${c.count === 0 ? 'identical' : 'DIFFERS'}` : `FAILED ${s.error}`}`);
        return s;
      };
      ibt.chain.full = await restore(0, before, 'full');
      ibt.chain.last = await restore(chain.depth, last, `${chain.depth}th incremental`);
    }
  }
  return results;
}

function prepareTools(names) {
  return names.map((name) => {
    const skipped = ensureTool(name);
    return { name, skipped, version: skipped ? undefined : toolVersion(name) };
  });
}

async function main() {
  const o = options();
  if (o.package) usePackage(o.package);
  const base = o.dir ? resolve(o.dir) : mkdtempSync(join(process.env.TMP || tmpdir(), 'ibt-bench-'));
  if (o.dir) {
    mkdirSync(base, { recursive: true });
    if (readdirSync(base).length > 0) throw new Error(`${base} is not empty`);
  }
  print(`# ibt against restic, borg and tar\n`);
  print(`${machineFacts(base)}`);
  print(`Load average before: ${load()}.`);
  print(`Command: node bench/backup.mjs ${process.argv.slice(2).join(' ')}`);
  try {
    const tools = prepareTools([...new Set([...o.tools, ...(o.million ? o.millionTools : [])])]);
    print(`Tools: ${tools.map((t) => (t.skipped ? `${t.name} (skipped: ${t.skipped})` : t.version)).join('; ')}.`);
    const spec = treeSpec(o.files);
    let layout;
    const main = await runTree({
      title: `Main tree (${o.files.toLocaleString('en')} files${o.files === FULL_FILES ? ', the issue\'s' : `, scaled from the issue's ${FULL_FILES.toLocaleString('en')}`})`,
      dir: join(base, 'main'),
      tools: tools.filter((t) => o.tools.includes(t.name)),
      timeoutSecs: o.timeoutSecs,
      make: (src) => {
        layout = makeTree(src, spec);
      },
      change: (src) => dayOfChanges(src, spec, layout),
      chain: o.chain >= 2 && { depth: o.chain, round: (src, round) => chainRound(src, spec, layout, round) },
    });
    print(`\n${stepsTable(main, o.chain)}\n\nRatios ibt/peer (below 1: ibt faster or smaller):\n\n${ratiosTable(main)}\n\nTargets:\n\n${treeTargets(main)}`);

    if (o.million) {
      let m;
      const million = await runTree({
        title: `Million-file tree (${o.millionFiles.toLocaleString('en')} files asked)`,
        dir: join(base, 'million'),
        tools: tools.filter((t) => o.millionTools.includes(t.name)),
        timeoutSecs: o.timeoutSecs,
        make: (src) => {
          m = makeMillionTree(src, o.millionFiles);
        },
        change: (src) => millionChanges(src, m),
      });
      print(`\n${stepsTable(million, 0)}\n\nRatios ibt/peer:\n\n${ratiosTable(million)}\n\nTargets:\n\n${millionTargets(million)}`);
    }
  } finally {
    print(`\nLoad average after: ${load()}. Whole run: ${((Date.now() - started) / 1000).toFixed(0)} s.`);
    if (!o.keep && existsSync(base)) {
      log(`removing ${base}`);
      spawnSync('rm', ['-rf', base]);
    }
  }
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${e.stack ?? e.message}\n`);
  process.exitCode = 1;
});
