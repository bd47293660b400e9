#!/usr/bin/env node
/**
 * `npm run bench:backup`: this library against GNU tar --listed-incremental (and duplicity
 * and rdiff-backup where installed) on one corpus and one day of changes.
 *
 * Corpus (deterministic, ~2,000 files, ~200 MiB): source-like text files, already-compressed
 * media, a 64 MiB disk image and a 24 MiB log. The day: three 100-byte edits inside the
 * image, 1 MiB appended to the log, 60 small files edited, 20 created, 20 deleted, 10
 * renamed, 5 chmods. Measured per tool: full backup time, incremental time, incremental
 * bytes, restore time of the latest point, and peak RSS of each step (each step runs in its
 * own process under /usr/bin/time). Needs `npm run build` first.
 *
 * Usage: node bench/backup.mjs [--dir DIR] [--keep]
 */
import { spawnSync } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, chmod, cp, mkdir, mkdtemp, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const DIST = resolve(here, '../dist/index.js');
const MiB = 1 << 20;
/** Longer than the racy margin of `src/tree/stable-read.ts` (3 s). */
const RACY_WAIT_MS = 3500;

/** A deterministic byte stream (AES-CTR keystream): fast and the same on every run. */
function stream(seed) {
  const key = Buffer.alloc(32, 0);
  key.writeUInt32BE(seed >>> 0, 0);
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16, 0));
  return (n) => cipher.update(Buffer.alloc(n));
}

const WORDS = 'the of backup delta signature file restore chain state vault archive block rolling hash const let return async await function export import interface type'.split(' ');
function text(rand, n) {
  const out = [];
  let len = 0;
  const r = rand(n);
  for (let i = 0; len < n; i++) {
    const line = `${'  '.repeat(r[i % r.length] % 4)}${WORDS[r[(i * 7) % r.length] % WORDS.length]} ${WORDS[r[(i * 13) % r.length] % WORDS.length]}(${i});\n`;
    out.push(line);
    len += line.length;
  }
  return Buffer.from(out.join('')).subarray(0, n);
}

async function makeCorpus(src) {
  const rand = stream(1);
  for (let d = 0; d < 40; d++) await mkdir(join(src, `src/mod-${d}`), { recursive: true });
  await mkdir(join(src, 'media'), { recursive: true });
  await mkdir(join(src, 'logs'), { recursive: true });
  for (let i = 0; i < 1900; i++) {
    const n = 1000 + (rand(2).readUInt16BE(0) % 19_000);
    await writeFile(join(src, `src/mod-${i % 40}/file-${i}.ts`), text(rand, n));
  }
  for (let i = 0; i < 90; i++) await writeFile(join(src, `media/photo-${i}.jpg`), rand(600_000 + i * 10_000));
  const img = await open(join(src, 'disk.img'), 'w');
  for (let i = 0; i < 64; i++) await img.write(rand(MiB));
  await img.close();
  await writeFile(join(src, 'logs/app.log'), text(rand, 24 * MiB));
}

async function dayOfChanges(src) {
  const rand = stream(2);
  const img = await open(join(src, 'disk.img'), 'r+');
  for (const at of [5 * MiB + 123, 31 * MiB + 7, 60 * MiB + 4096]) await img.write(rand(100), 0, 100, at);
  await img.close();
  await appendFile(join(src, 'logs/app.log'), text(rand, MiB));
  for (let i = 0; i < 60; i++) await appendFile(join(src, `src/mod-${i % 40}/file-${i}.ts`), `// edited ${i}\n`);
  for (let i = 0; i < 20; i++) await writeFile(join(src, `src/mod-${i}/new-${i}.ts`), text(rand, 5000));
  for (let i = 100; i < 120; i++) await rm(join(src, `src/mod-${i % 40}/file-${i}.ts`));
  for (let i = 200; i < 210; i++) await rename(join(src, `src/mod-${i % 40}/file-${i}.ts`), join(src, `src/mod-${(i + 1) % 40}/moved-${i}.ts`));
  for (let i = 300; i < 305; i++) await chmod(join(src, `src/mod-${i % 40}/file-${i}.ts`), 0o600);
}

/** Run a command under /usr/bin/time; returns seconds and peak RSS in MiB. */
function timed(cmd, args, opts = {}) {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', cmd, ...args], { encoding: 'utf8', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  const [secs, kb] = r.stderr.trim().split('\n').pop().split(' ').map(Number);
  return { secs, rssMiB: kb / 1024, stdout: r.stdout };
}

function lib(op, ...args) {
  const code = `const m = await import(${JSON.stringify(DIST)}); const r = await m.${op}(${args.map((a) => JSON.stringify(a)).join(', ')}); process.stdout.write(JSON.stringify(r.files ? r.files.reduce((n, f) => n + f.size, 0) : 0));`;
  const t = timed(process.execPath, ['--input-type=module', '-e', code]);
  return { ...t, bytes: Number(t.stdout) };
}

async function dirBytes(dir) {
  let n = 0;
  for (const f of await readdir(dir, { recursive: true })) {
    const st = await stat(join(dir, f));
    if (st.isFile()) n += st.size;
  }
  return n;
}

function has(tool) {
  return spawnSync(tool, ['--version'], { stdio: 'ignore' }).error === undefined;
}

/** One of ten rounds of small changes for the chain measurement (idempotent per round). */
async function chainRound(src, round) {
  const rand = stream(100 + round);
  const img = await open(join(src, 'disk.img'), 'r+');
  await img.write(rand(100), 0, 100, (round * 6 + 1) * MiB);
  await img.close();
  await appendFile(join(src, 'logs/app.log'), text(rand, MiB / 4));
  for (let i = 0; i < 20; i++) await appendFile(join(src, `src/mod-${i % 40}/file-${round * 20 + i}.ts`), `// round ${round}\n`);
  await writeFile(join(src, `src/new-round-${round}.ts`), text(rand, 4000));
}

/** Restore time of the full backup and of the 10th incremental of one chain (ibt, gzip). */
async function restoreAlongChain(src, pristine, base) {
  await rm(src, { recursive: true, force: true });
  await cp(pristine, src, { recursive: true, preserveTimestamps: true });
  const workDir = join(base, 'work-chain');
  lib('fullBackup', src, { workDir });
  for (let round = 1; round <= 10; round++) {
    await chainRound(src, round);
    lib('incrementalBackup', src, { workDir });
  }
  const listed = timed(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(DIST)}); process.stdout.write(JSON.stringify((await m.listBackups('src', { workDir: ${JSON.stringify(workDir)} })).map((b) => b.id)));`]);
  const ids = JSON.parse(listed.stdout);
  const full = lib('restoreBackup', 'src', join(base, 'chain-full'), { workDir, at: ids[0] });
  const tenth = lib('restoreBackup', 'src', join(base, 'chain-10'), { workDir, at: ids[10] });
  return { full: full.secs, tenth: tenth.secs };
}

async function main() {
  if (!existsSync(DIST)) throw new Error('run npm run build first');
  const argv = process.argv.slice(2);
  const base = argv.includes('--dir') ? resolve(argv[argv.indexOf('--dir') + 1]) : await mkdtemp(join(process.env.TMP || tmpdir(), 'ibt-bench-'));
  const src = join(base, 'src');
  await rm(base, { recursive: true, force: true });
  await mkdir(src, { recursive: true });
  process.stdout.write(`corpus in ${base} ... `);
  await makeCorpus(src);
  const files = (await readdir(src, { recursive: true })).length;
  process.stdout.write(`${files} entries, ${(await dirBytes(src) / MiB).toFixed(0)} MiB\n`);
  const pristine = join(base, 'pristine');
  await cp(src, pristine, { recursive: true, preserveTimestamps: true });

  const rows = [];
  const run = async (label, steps) => {
    await rm(src, { recursive: true, force: true });
    await cp(pristine, src, { recursive: true, preserveTimestamps: true });
    const out = join(base, `out-${rows.length}`);
    // A tree at rest, as backups usually meet it: a file written in the last seconds before a
    // read cannot be trusted as clean (coarse timestamps, see src/tree/stable-read.ts) and is
    // read again by the next incremental. The copy above just wrote every file.
    await new Promise((r) => setTimeout(r, RACY_WAIT_MS));
    const full = await steps.full();
    const unchanged = steps.unchanged ? await steps.unchanged() : undefined;
    await dayOfChanges(src);
    const inc = await steps.inc();
    const restore = await steps.restore(out);
    rows.push({ label, full, unchanged, inc, restore });
    await rm(out, { recursive: true, force: true });
    process.stdout.write(`${label}: done\n`);
  };

  for (const compression of ['gzip', 'none']) {
    const workDir = join(base, `work-ibt-${compression}`);
    await run(`ibt (${compression})`, {
      full: async () => lib('fullBackup', src, { workDir, compression }),
      unchanged: async () => lib('incrementalBackup', src, { workDir, compression }),
      inc: async () => lib('incrementalBackup', src, { workDir, compression }),
      restore: async (out) => lib('restoreBackup', 'src', out, { workDir }),
    });
  }
  for (const z of [['-z', 'gzip'], [null, 'none']]) {
    const dir = join(base, `work-tar-${z[1]}`);
    await mkdir(dir, { recursive: true });
    const flag = z[0] ? [z[0]] : [];
    await run(`GNU tar --listed-incremental (${z[1]})`, {
      full: async () => {
        const t = timed('tar', [...flag, '--listed-incremental', join(dir, 'snar'), '-cf', join(dir, 'full.tar'), '-C', src, '.']);
        return { ...t, bytes: (await stat(join(dir, 'full.tar'))).size };
      },
      unchanged: async () => {
        await cp(join(dir, 'snar'), join(dir, 'snar-u'));
        const t = timed('tar', [...flag, '--listed-incremental', join(dir, 'snar-u'), '-cf', join(dir, 'unchanged.tar'), '-C', src, '.']);
        return { ...t, bytes: (await stat(join(dir, 'unchanged.tar'))).size };
      },
      inc: async () => {
        await cp(join(dir, 'snar'), join(dir, 'snar-1'));
        const t = timed('tar', [...flag, '--listed-incremental', join(dir, 'snar-1'), '-cf', join(dir, 'inc.tar'), '-C', src, '.']);
        return { ...t, bytes: (await stat(join(dir, 'inc.tar'))).size };
      },
      restore: async (out) => {
        await mkdir(out, { recursive: true });
        const a = timed('tar', [...flag, '--listed-incremental', '/dev/null', '-xf', join(dir, 'full.tar'), '-C', out]);
        const b = timed('tar', [...flag, '--listed-incremental', '/dev/null', '-xf', join(dir, 'inc.tar'), '-C', out]);
        return { secs: a.secs + b.secs, rssMiB: Math.max(a.rssMiB, b.rssMiB), bytes: 0 };
      },
    });
  }
  if (has('rdiff-backup')) {
    const repo = join(base, 'work-rdiff-backup');
    await run('rdiff-backup', {
      full: async () => ({ ...timed('rdiff-backup', [src, repo]), bytes: await dirBytes(repo) }),
      inc: async () => {
        const data = join(repo, 'rdiff-backup-data');
        const before = await dirBytes(data);
        const t = timed('rdiff-backup', [src, repo]);
        return { ...t, bytes: (await dirBytes(data)) - before };
      },
      restore: async (out) => ({ ...timed('rdiff-backup', ['-r', 'now', repo, out]), bytes: 0 }),
    });
  }
  if (has('duplicity')) {
    const url = `file://${join(base, 'work-duplicity')}`;
    const env = { ...process.env, PASSPHRASE: '' };
    await run('duplicity (no encryption)', {
      full: async () => ({ ...timed('duplicity', ['full', '--no-encryption', src, url], { env }), bytes: await dirBytes(join(base, 'work-duplicity')) }),
      inc: async () => {
        const before = await dirBytes(join(base, 'work-duplicity'));
        const t = timed('duplicity', ['incr', '--no-encryption', src, url], { env });
        return { ...t, bytes: (await dirBytes(join(base, 'work-duplicity'))) - before };
      },
      restore: async (out) => ({ ...timed('duplicity', ['restore', '--no-encryption', url, out], { env }), bytes: 0 }),
    });
  }

  const mb = (n) => `${(n / MiB).toFixed(2)} MiB`;
  const lines = [
    `| tool | full | full size | incremental, unchanged tree | incremental | incremental size | restore latest | peak RSS (full / inc / restore) |`,
    `|---|---|---|---|---|---|---|---|`,
    ...rows.map((r) =>
      `| ${r.label} | ${r.full.secs.toFixed(2)} s | ${mb(r.full.bytes)} | ${r.unchanged ? `${r.unchanged.secs.toFixed(2)} s` : 'n/a'} | ${r.inc.secs.toFixed(2)} s | ${mb(r.inc.bytes)} | ${r.restore.secs.toFixed(2)} s | ` +
      `${r.full.rssMiB.toFixed(0)} / ${r.inc.rssMiB.toFixed(0)} / ${r.restore.rssMiB.toFixed(0)} MiB |`),
  ];
  process.stdout.write(`\n${new Date().toISOString()}, node ${process.version}, ${files} entries\n${lines.join('\n')}\n`);
  const chain = await restoreAlongChain(src, pristine, base);
  process.stdout.write(
    `\nchain of a full and 10 incrementals: restore of the full ${chain.full.toFixed(2)} s, of the 10th incremental ${chain.tenth.toFixed(2)} s ` +
      `(${(chain.tenth / chain.full).toFixed(2)}x)\n`,
  );
  for (const tool of ['duplicity', 'rdiff-backup']) if (!has(tool)) process.stdout.write(`(${tool} not installed: not measured)\n`);
  if (!argv.includes('--keep')) await rm(base, { recursive: true, force: true });
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${e.message}\n`);
  process.exitCode = 1;
});
