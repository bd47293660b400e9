#!/usr/bin/env node
/**
 * The state file at scale: a synthetic state of N entries (a realistic source tree: 50 files
 * to a directory, paths ~70 characters, a few files with deltas or signatures), written and
 * read by each build given, each step in a child process of its own so that its peak RSS is
 * its own. Prints the bytes on disk, wall and CPU time (all threads; the median, and the least,
 * which on a shared machine is the closest to the cost itself), the child's RSS before
 * the step (the state built, or nothing loaded but the library) and its peak RSS during the
 * step (on Linux; elsewhere the process's peak). Needs `npm run build`.
 *
 * A build before state version 3 (plain JSON, written the way its commit.ts did: checked
 * whole, then encoded until the size it records is its own) and one after compare directly:
 * `node bench/state.mjs --entries 1000000 /path/to/old/dist dist`.
 *
 * Usage: node bench/state.mjs [--entries N] [--links L] [--runs R] [DIST...]
 *   --entries N  entries in the state (default 50000)
 *   --links L    backups in its chain, 2 to 1000 (default 2): the files name the first and the
 *                last, so a longer chain shows what finding an id among many costs
 *   --runs R     write and read R times per build, the median shown (default 3)
 *   DIST         a built dist/ folder (default this checkout's)
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const PER_DIR = 50;
const FULL = '20260101T080000000Z-000';
const INC = '20260102T080000000Z-000';

if (process.argv[2] === '--child') await child(process.argv[3], process.argv[4], process.argv[5], Number(process.argv[6]), Number(process.argv[7]));
else await main();

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { entries: { type: 'string', default: '50000' }, links: { type: 'string', default: '2' }, runs: { type: 'string', default: '3' } },
  });
  const entries = Number(values.entries);
  const links = Number(values.links);
  const runs = Number(values.runs);
  if (!Number.isInteger(entries) || entries < 1 || !Number.isInteger(runs) || runs < 1 || !Number.isInteger(links) || links < 2 || links > 1000) {
    console.error('usage: node bench/state.mjs [--entries N] [--links L] [--runs R] [DIST...] (N and R positive integers, L from 2 to 1000)');
    process.exit(2);
  }
  const dists = (positionals.length > 0 ? positionals : [join(dirname(fileURLToPath(import.meta.url)), '../dist')]).map((d) => resolve(d));
  const dir = await mkdtemp(join(tmpdir(), 'ibt-bench-state-'));
  try {
    console.log(`state of ${entries.toLocaleString('en')} entries, ${links} backups in its chain; median of ${runs} runs (best cpu: the least); RSS in MiB, times in ms`);
    console.log('build'.padEnd(34), 'step ', 'bytes'.padStart(13), 'wall'.padStart(8), 'cpu'.padStart(8), 'best cpu'.padStart(9), 'RSS before'.padStart(11), 'peak RSS'.padStart(9));
    for (const dist of dists) {
      const file = join(dir, `${dists.indexOf(dist)}.state`);
      for (const step of ['write', 'read']) {
        const results = [];
        for (let r = 0; r < runs; r++) {
          const out = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--child', step, dist, file, String(entries), String(links)], { encoding: 'utf8', maxBuffer: 1 << 20 });
          if (out.status !== 0) throw new Error(`${step} with ${dist} failed:\n${out.stderr}`);
          results.push(JSON.parse(out.stdout));
        }
        const m = (key) => median(results.map((x) => x[key]));
        const size = (await stat(file)).size;
        console.log(
          dist.slice(-34).padEnd(34),
          step.padEnd(5),
          size.toLocaleString('en').padStart(13),
          m('wallMs').toFixed(0).padStart(8),
          m('cpuMs').toFixed(0).padStart(8),
          Math.min(...results.map((x) => x.cpuMs)).toFixed(0).padStart(9),
          (m('rssBefore') / 2 ** 20).toFixed(0).padStart(11),
          (m('maxRss') / 2 ** 20).toFixed(0).padStart(9),
        );
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** One step in this process: `write` the state of `n` entries and `links` backups to `file` with build `dist`, or `read` it back. */
async function child(step, dist, file, n, links) {
  const state = await import(join(dist, 'state/index.js'));
  const draft = step === 'write' ? syntheticState(n, links, state.STATE_VERSION) : undefined;
  if (step === 'write') await rm(file, { force: true });
  globalThis.gc();
  const rssBefore = process.memoryUsage().rss;
  const peakFromHere = resetPeakRss();
  const cpu = process.cpuUsage();
  const t = performance.now();
  let kept;
  if (step === 'write') kept = await write(state, draft, file);
  else kept = await state.readStateFile(file, { id: INC, name: 'src' });
  const wallMs = performance.now() - t;
  const used = process.cpuUsage(cpu);
  if (kept === undefined) throw new Error('nothing written or read');
  process.stdout.write(JSON.stringify({ wallMs, cpuMs: (used.user + used.system) / 1000, rssBefore, maxRss: peakFromHere ? peakRss() : process.resourceUsage().maxRSS * 1024 }));
}

/**
 * Start the peak RSS over (Linux: 5 to /proc/self/clear_refs resets VmHWM), so that the peak
 * is the step's, not the building of the state's. False where that is not possible.
 */
function resetPeakRss() {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/** The peak RSS since {@link resetPeakRss}, in bytes. */
function peakRss() {
  return Number(/^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
}

/** Write `draft` as the build's commit does: streamed (version 3), or checked whole and encoded until its size is stable (before). */
async function write(state, draft, file) {
  const artifactBytes = 123_456_789;
  if (state.writeStateFile) return state.writeStateFile(file, draft, { artifactBytes });
  const checked = state.checkForWrite(draft);
  let bytes = Buffer.alloc(0);
  for (let own = 0; ; own = bytes.length) {
    checked.stats.bytesWritten = artifactBytes + own;
    ({ bytes } = await state.encodeState(checked));
    if (bytes.length === own) break;
  }
  await writeFile(file, bytes);
  return checked;
}

/**
 * A deterministic incremental state of `n` entries of a source tree, with a full backup and
 * `links - 2` other incrementals before it (the full one's instant, numbered). Every file has
 * its own times, inode and hash (a 32-bit LCG, multiplied with `Math.imul`:
 * in doubles the product loses bits and the generator cycled every ~1,800 values, which made
 * inode numbers repeat, and `JSON.parse` shares repeated short strings).
 */
function syntheticState(n, links, version) {
  let seed = 42;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const hex = () => Math.floor(rand() * 2 ** 32).toString(16).padStart(8, '0') + Math.floor(rand() * 2 ** 32).toString(16).padStart(8, '0');
  const ns = (base) => String(base + BigInt(Math.floor(rand() * 1e15)));
  const entries = [{ path: 'project', type: 'dir', mode: 0o755, uid: 1000, gid: 1000, mtime: ns(1767000000000000000n), size: 0 }];
  let files = 0;
  for (let p = 0; files < n; p++) {
    const pkg = `project/packages/pkg-${String(p).padStart(4, '0')}`;
    entries.push({ path: 'project/packages', type: 'dir', mode: 0o755, uid: 1000, gid: 1000, mtime: ns(1767000000000000000n), size: 0 });
    entries.push({ path: pkg, type: 'dir', mode: 0o755, uid: 1000, gid: 1000, mtime: ns(1767000000000000000n), size: 0 });
    for (let m = 0; m < 20 && files < n; m++) {
      const dir = `${pkg}/src/module-${String(m).padStart(3, '0')}`;
      if (m === 0) entries.push({ path: `${pkg}/src`, type: 'dir', mode: 0o755, uid: 1000, gid: 1000, mtime: ns(1767000000000000000n), size: 0 });
      entries.push({ path: dir, type: 'dir', mode: 0o755, uid: 1000, gid: 1000, mtime: ns(1767000000000000000n), size: 0 });
      for (let f = 0; f < PER_DIR && files < n; f++, files++) {
        const size = Math.floor(rand() * rand() * 4e6);
        const delta = rand() < 0.05;
        entries.push({
          path: `${dir}/component-${String(m).padStart(3, '0')}-${String(f).padStart(2, '0')}.tsx`,
          type: 'file',
          mode: 0o644,
          uid: 1000,
          gid: 1000,
          mtime: ns(1767000000000000000n),
          size,
          ctime: ns(1767000000000000000n),
          ino: String(1_000_000 + Math.floor(rand() * 9e7)),
          hash: hex(),
          content: delta ? [FULL, INC] : [FULL],
          ...(delta ? { steps: [{ size: size + 17, hash: hex() }] } : {}),
          ...(size >= 1 << 20 ? { sig: delta ? INC : FULL } : {}),
        });
      }
    }
  }
  const unique = [...new Map(entries.map((e) => [e.path, e])).values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const link = (id, kind, roles) => ({
    id,
    kind,
    createdAt: `${id.slice(0, 4)}-${id.slice(4, 6)}-${id.slice(6, 8)}T${id.slice(9, 11)}:${id.slice(11, 13)}:${id.slice(13, 15)}.${id.slice(15, 18)}Z`,
    artifacts: roles.map((role) => ({ role, file: `${id}.${role}.tar${role === 'sigvault' ? '' : '.gz'}`, size: 1000, hash: '0123456789abcdef', compression: role === 'sigvault' ? 'none' : 'gzip', entries: 1 })),
  });
  const between = Array.from({ length: links - 2 }, (_, i) => link(`${FULL.slice(0, -3)}${String(i + 1).padStart(3, '0')}`, 'incremental', ['sigvault', 'deltas']));
  const chain = [link(FULL, 'full', ['sigvault', 'files']), ...between, link(INC, 'incremental', ['sigvault', 'deltas'])];
  return {
    format: 'incremental-backups-tools/state',
    version,
    name: 'src',
    id: INC,
    kind: 'incremental',
    parent: { id: chain.at(-2).id, digest: 'fedcba9876543210' },
    createdAt: chain.at(-1).createdAt,
    source: '/home/me/project',
    compression: 'gzip',
    checksum: false,
    chain,
    warnings: [],
    entries: unique,
    stats: { scanned: unique.length, created: 0, modified: 0, deleted: 0, unchanged: unique.length, storedWhole: 0, storedDelta: 0, bytesRead: 0, bytesWritten: 0, durationMs: 0 },
  };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
