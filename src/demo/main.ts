/**
 * `npm run demo`: the engine on one file, then a day in the life of a backed-up folder.
 *
 * Builds a sample tree in the work directory (`$TMP` or the OS temp dir) and a repository
 * beside it (a local directory, as a mounted disk would be; its cache in the work directory
 * too), makes a full backup, applies a realistic day of changes (an edit inside a large
 * binary, an appended log, new, deleted and renamed files, a chmod), makes an incremental
 * backup, restores both points into fresh folders, the second from an empty cache as a new
 * machine would, and checks each against the tree as it was. Prints sizes, times, what the
 * incremental saved and what moved to and from the repository. Everything it creates is
 * removed at the end.
 */
import { randomBytes } from 'node:crypto';
import { appendFile, chmod, mkdir, mkdtemp, open, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fullBackup, incrementalBackup, initRepository, listBackups, openRepository, type BackupReport, type TransferEvent } from '../backup/index.js';
import { restoreBackup } from '../restore/index.js';
import { selectEngine } from '../engine/select.js';
import { resolveWorkDir } from '../catalog/index.js';
import { compileSelection, hashChunks, walkTree } from '../tree/index.js';
import { DirTree } from '../io/dir-tree.js';
import { readFileChunks } from '../io/read-chunks.js';

const MiB = 1 << 20;
const fmt = (n: number): string => (n >= MiB ? `${(n / MiB).toFixed(2)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);
const say = (s = ''): void => void process.stdout.write(`${s}\n`);

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

/** The engine alone: signature of a file, delta of an edited copy, patch back. */
async function engineDemo(): Promise<void> {
  const engine = selectEngine(undefined, 'signature');
  const basis = randomBytes(8 * MiB);
  const edited = Buffer.from(basis);
  edited.write('a small edit in the middle of the file', 3 * MiB);
  const t0 = performance.now();
  const sig = await collect(engine.signature(basis));
  const delta = await collect(selectEngine(undefined, 'delta').delta(sig, edited));
  const out = await collect(selectEngine(undefined, 'patch').patch(basis, delta));
  const ms = performance.now() - t0;
  say(`Engine (${engine.name}): an 8 MiB file with a 38-byte edit`);
  say(`  signature ${fmt(sig.length)}, delta ${fmt(delta.length)}, patched copy ${out.equals(edited) ? 'identical' : 'DIFFERENT'} (${ms.toFixed(0)} ms for all three)`);
  say();
}

/** What a tree holds (as a backup selects it: `cache/` is excluded), to compare a restore with the original. */
async function manifest(root: string): Promise<Map<string, string>> {
  const m = new Map<string, string>();
  const tree = await DirTree.open(root, { follow: true });
  try {
    const ignoreWarning = (): void => undefined;
    for await (const { path, meta } of walkTree(tree, await compileSelection(tree, {}, ignoreWarning), ignoreWarning)) {
      const content = meta.type === 'file' ? await hashChunks(readFileChunks(join(root, path))) : meta.target ?? '';
      m.set(path, `${meta.type} ${meta.mode.toString(8)} ${meta.size} ${content} ${BigInt(meta.mtime) / 1000000n}`);
    }
  } finally {
    await tree.close();
  }
  return m;
}

function sameTree(a: Map<string, string>, b: Map<string, string>): boolean {
  return a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);
}

async function makeTree(src: string): Promise<void> {
  await mkdir(join(src, 'docs/drafts'), { recursive: true });
  await mkdir(join(src, 'photos/2026'), { recursive: true });
  await mkdir(join(src, 'logs'), { recursive: true });
  await mkdir(join(src, 'empty'), { recursive: true });
  await writeFile(join(src, 'disk.img'), randomBytes(48 * MiB));
  for (let i = 0; i < 40; i++) await writeFile(join(src, `photos/2026/img-${i}.jpg`), randomBytes(100_000 + i * 1000));
  for (let i = 0; i < 200; i++) {
    await writeFile(join(src, `docs/note-${i}.md`), `# Note ${i}\n\n${'Lorem ipsum dolor sit amet. '.repeat(20 + (i % 50))}\n`);
  }
  await writeFile(join(src, 'docs/drafts/plan.txt'), 'a plan\n');
  await writeFile(join(src, 'logs/app.log'), Array.from({ length: 20_000 }, (_, i) => `2026-11-21 line ${i} ok\n`).join(''));
  await symlink('docs/note-1.md', join(src, 'latest-note'));
  await writeFile(join(src, '.exclude'), 'cache/\n');
  await mkdir(join(src, 'cache'));
  await writeFile(join(src, 'cache/tmp.bin'), randomBytes(MiB));
}

async function dayOfChanges(src: string): Promise<void> {
  const fh = await open(join(src, 'disk.img'), 'r+');
  await fh.write(randomBytes(100), 0, 100, 20 * MiB + 12345);
  await fh.close();
  await appendFile(join(src, 'logs/app.log'), Array.from({ length: 500 }, (_, i) => `2026-11-22 line ${i} ok\n`).join(''));
  for (let i = 0; i < 5; i++) await writeFile(join(src, `photos/2026/new-${i}.jpg`), randomBytes(120_000));
  for (let i = 0; i < 10; i++) await rm(join(src, `docs/note-${100 + i}.md`));
  await rename(join(src, 'docs/drafts/plan.txt'), join(src, 'docs/plan-final.txt'));
  await chmod(join(src, 'docs/note-1.md'), 0o600);
  await writeFile(join(src, 'docs/note-2.md'), (await readFile(join(src, 'docs/note-2.md'), 'utf8')) + '\nEdited.\n');
}

function sizeOf(r: BackupReport): number {
  return r.files.reduce((n, f) => n + f.size, 0);
}

async function main(): Promise<void> {
  await engineDemo();
  const root = resolveWorkDir();
  await mkdir(root, { recursive: true });
  const base = await mkdtemp(join(root, 'ibt-demo-'));
  const src = join(base, 'projects');
  const moved: TransferEvent = { uploaded: 0, fetched: 0, requests: 0, key: '' };
  const track = (e: TransferEvent): void => void Object.assign(moved, e);
  try {
    const repository = await initRepository(join(base, 'repository'), { cacheDir: join(base, 'cache'), onTransfer: track });
    say(`Repository ${repository.location} (cache ${repository.cacheRoot})`);
    await makeTree(src);
    const before = await manifest(src);
    let t = performance.now();
    const full = await fullBackup(src, { repository });
    say(`Full backup ${full.id}: ${full.stats.scanned} entries, ${fmt(full.stats.bytesRead)} read, ${fmt(sizeOf(full))} written in ${(performance.now() - t).toFixed(0)} ms`);
    for (const f of full.files) say(`  ${f.role.padEnd(8)} ${fmt(f.size).padStart(10)}`);

    await new Promise((r) => setTimeout(r, 20));
    await dayOfChanges(src);
    const after = await manifest(src);
    t = performance.now();
    const inc = await incrementalBackup(src, { repository });
    const s = inc.stats;
    say(`Incremental ${inc.id}: ${s.created} created, ${s.modified} modified, ${s.deleted} deleted, ${s.unchanged} unchanged; ` +
      `${s.storedDelta} deltas, ${s.storedWhole} whole; ${fmt(sizeOf(inc))} written in ${(performance.now() - t).toFixed(0)} ms`);
    for (const f of inc.files) say(`  ${f.role.padEnd(8)} ${fmt(f.size).padStart(10)}`);
    say(`  saved ${(100 * (1 - sizeOf(inc) / sizeOf(full))).toFixed(2)} % against a second full backup (${fmt(sizeOf(full))})`);
    say(`  uploaded to the repository so far: ${fmt(moved.uploaded)} in ${moved.requests} requests`);

    let ok = true;
    const elsewhere = await openRepository(join(base, 'repository'), { cacheDir: join(base, 'new-machine') });
    const points = [['full', full.id, before, repository], ['incremental (empty cache)', inc.id, after, elsewhere]] as const;
    for (const [label, id, want, repo] of points) {
      const target = join(base, `restore-${label.split(' ')[0]}`);
      t = performance.now();
      const r = await restoreBackup('projects', target, { repository: repo, at: id });
      const same = sameTree(await manifest(target), want);
      ok &&= same;
      say(`Restore of the ${label} backup: ${r.stats.files} files, ${r.stats.deltasApplied} deltas applied, ` +
        `${fmt(r.stats.bytesWritten)} written, ${fmt(r.stats.bytesFetched)} fetched, in ${(performance.now() - t).toFixed(0)} ms — ${same ? 'identical to the tree as it was' : 'DIFFERENT from the tree as it was'}`);
    }
    const list = await listBackups('projects', { repository: elsewhere });
    say(`Chain: ${list.map((b) => `${b.id} (${b.kind})`).join(' <- ')}`);
    if (!ok) process.exitCode = 1;
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
