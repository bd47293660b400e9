/**
 * The benchmark's main tree and its day of changes, generated from a seed (issue 8's
 * description is the spec).
 *
 * At the default scale (49,017 files) the tree has 2,213 directories and 2.0 GiB: 46,000
 * source-like text files of ~8 KiB under a random `src/` hierarchy (up to 12 deep), 3,000
 * binaries of 16 KiB–2 MiB (log-uniform, incompressible) under `assets/`, 15 symlinks (one
 * dangling, one to a directory), a 512 MiB VM-image-like file (1 MiB runs of zeros, random
 * bytes and text) and a 64 MiB log. The day of changes: ~900 text files edited (a line
 * inserted, a few bytes removed), 1 MiB appended to the log, 64 KiB overwritten inside the
 * image, 4 KiB inserted in the middle of a binary, 490 files deleted, 490 added, and one
 * directory of ~250 files renamed. `treeSpec(files)` scales every count and the two large
 * files with the file count, so a small tree is the same shape.
 *
 * Everything is written synchronously: small files are created faster without a thread-pool
 * hop per call, and the benchmark has nothing else to do meanwhile.
 */
import { appendFileSync, chmodSync, closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { between, bytes, logText, logUniform, prng, text, word } from './random.mjs';

const MiB = 1 << 20;
const KiB = 1 << 10;
/** The file count of issue 8's tree: every other count scales from it. */
export const FULL_FILES = 49_017;
const TEXT_EXT = ['ts', 'ts', 'js', 'c', 'h', 'py', 'md', 'json', 'go', 'rs'];
const BIN_EXT = ['png', 'jpg', 'so', 'bin', 'gz', 'woff2', 'pdf'];

/**
 * The counts and sizes of a tree of about `files` entries (files and symlinks).
 * @param {number} files
 */
export function treeSpec(files = FULL_FILES) {
  const s = files / FULL_FILES;
  const binaries = Math.max(4, Math.round(3000 * s));
  const symlinks = Math.max(3, Math.round(15 * s));
  return {
    files,
    dirs: Math.max(8, Math.round(2213 * s)),
    text: files - binaries - symlinks - 2,
    binaries,
    symlinks,
    imageBytes: Math.max(8, Math.round(512 * s)) * MiB,
    logBytes: Math.max(1, Math.round(64 * s)) * MiB,
    edits: Math.max(4, Math.round(900 * s)),
    deletes: Math.max(2, Math.round(490 * s)),
    adds: Math.max(2, Math.round(490 * s)),
    renamedFiles: Math.max(10, Math.round(250 * s)),
    logAppend: MiB,
    imageOverwrite: 64 * KiB,
    binaryInsert: 4 * KiB,
  };
}

/**
 * Random directory hierarchy of `count` directories under `top` (included), each new one
 * under an existing one at most `maxDepth` deep: random recursive trees are ~ln(count) deep.
 */
function hierarchy(rng, top, count, maxDepth) {
  const dirs = [top];
  const depth = [1];
  for (let i = 1; i < count; i++) {
    let p;
    do p = Math.floor(rng() * dirs.length);
    while (depth[p] >= maxDepth);
    dirs.push(`${dirs[p]}/${word(rng)}-${i.toString(36)}`);
    depth.push(depth[p] + 1);
  }
  return dirs;
}

function writeFile(root, rel, data, mode = 0o644) {
  const path = join(root, rel);
  writeFileSync(path, data);
  if (mode !== 0o644) chmodSync(path, mode);
}

/** Mostly text modes, a few executables and private files. */
function textMode(rng) {
  const u = rng();
  return u < 0.05 ? 0o755 : u < 0.07 ? 0o600 : 0o644;
}

/**
 * Write the tree into the empty directory `root`.
 * @param {string} root
 * @param {ReturnType<typeof treeSpec>} spec
 * @param {number} [seed]
 * @returns {{ text: string[], binaries: string[], srcDirs: string[], image: string, log: string, logLines: number }}
 *   where everything is (relative paths), for the changes to come
 */
export function makeTree(root, spec, seed = 1) {
  const rng = prng(seed);
  const rand = bytes(seed);
  const rest = spec.dirs - 4;
  const srcDirs = hierarchy(rng, 'src', Math.max(1, Math.round(rest * 0.92)), 12);
  const assetDirs = hierarchy(rng, 'assets', Math.max(1, rest - srcDirs.length + 2), 6);
  for (const d of ['vm', 'logs', ...srcDirs, ...assetDirs]) mkdirSync(join(root, d), { recursive: true });

  const textFiles = [];
  for (let i = 0; i < spec.text; i++) {
    const rel = `${srcDirs[Math.floor(rng() * srcDirs.length)]}/${word(rng)}-${i}.${TEXT_EXT[between(rng, 0, TEXT_EXT.length - 1)]}`;
    writeFile(root, rel, text(rand, between(rng, 1 * KiB, 15 * KiB)), textMode(rng));
    textFiles.push(rel);
  }
  const binaries = [];
  for (let i = 0; i < spec.binaries; i++) {
    const rel = `${assetDirs[Math.floor(rng() * assetDirs.length)]}/${word(rng)}-${i}.${BIN_EXT[between(rng, 0, BIN_EXT.length - 1)]}`;
    writeFile(root, rel, rand(logUniform(rng, 16 * KiB, 2 * MiB)), rng() < 0.2 ? 0o755 : 0o644);
    binaries.push(rel);
  }
  for (let i = 0; i < spec.symlinks; i++) {
    const from = `${srcDirs[Math.floor(rng() * srcDirs.length)]}/link-${i}`;
    const to = i === 0 ? 'missing-target' : i === 1 ? srcDirs[Math.floor(rng() * srcDirs.length)] : textFiles[Math.floor(rng() * textFiles.length)];
    symlinkSync(i === 0 ? to : posix.relative(posix.dirname(from), to), join(root, from));
  }

  const image = 'vm/disk.img';
  const fd = openSync(join(root, image), 'w');
  const zeros = Buffer.alloc(MiB);
  for (let at = 0; at < spec.imageBytes; at += MiB) {
    const u = rng();
    writeSync(fd, u < 0.35 ? zeros : u < 0.75 ? rand(MiB) : text(rand, MiB));
  }
  closeSync(fd);
  const log = 'logs/app.log';
  let logLines = 0;
  const lfd = openSync(join(root, log), 'w');
  for (let at = 0; at < spec.logBytes; at += 4 * MiB) {
    const n = Math.min(4 * MiB, spec.logBytes - at);
    writeSync(lfd, logText(rand, n, logLines));
    logLines += Math.ceil(n / 100);
  }
  closeSync(lfd);
  return { text: textFiles, binaries, srcDirs, image, log, logLines };
}

/** `count` distinct indices below `n`, in a seeded order. */
function pick(rng, n, count, taken = new Set()) {
  const out = [];
  while (out.length < count && taken.size < n) {
    const i = Math.floor(rng() * n);
    if (taken.has(i)) continue;
    taken.add(i);
    out.push(i);
  }
  return out;
}

/** An edit as people make them: a few lines inserted somewhere, a few bytes removed. */
function editText(root, rel, rng, rand) {
  const old = readFileSync(join(root, rel));
  let at = Math.floor(rng() * old.length);
  const nl = old.indexOf(10, at);
  at = nl < 0 ? old.length : nl + 1;
  const cut = Math.min(old.length - at, between(rng, 0, 100));
  writeFileSync(join(root, rel), Buffer.concat([old.subarray(0, at), text(rand, between(rng, 40, 400)), Buffer.from('\n'), old.subarray(at + cut)]));
}

/** The directory under `src/` whose subtree holds the number of text files nearest `target`. */
function dirToRename(layout, target) {
  const counts = new Map();
  for (const f of layout.text) {
    for (let d = posix.dirname(f); d !== 'src' && d !== '.'; d = posix.dirname(d)) counts.set(d, (counts.get(d) ?? 0) + 1);
  }
  let best;
  for (const d of layout.srcDirs) {
    const c = counts.get(d);
    if (c !== undefined && (best === undefined || Math.abs(c - target) < Math.abs(counts.get(best) - target))) best = d;
  }
  return { dir: best, files: counts.get(best) ?? 0 };
}

/**
 * Apply the day of changes to the tree, and to `layout` so later rounds find the files.
 * @param {string} root
 * @param {ReturnType<typeof treeSpec>} spec
 * @param {ReturnType<typeof makeTree>} layout
 * @param {number} [seed]
 * @returns {string} what was changed, in one line
 */
export function dayOfChanges(root, spec, layout, seed = 2) {
  const rng = prng(seed);
  const rand = bytes(seed);
  const taken = new Set();
  const edited = pick(rng, layout.text.length, spec.edits, taken);
  for (const i of edited) editText(root, layout.text[i], rng, rand);

  appendFileSync(join(root, layout.log), logText(rand, spec.logAppend, layout.logLines));
  layout.logLines += spec.logAppend / 100;

  const fd = openSync(join(root, layout.image), 'r+');
  writeSync(fd, rand(spec.imageOverwrite), 0, spec.imageOverwrite, Math.floor((spec.imageBytes * 0.37) / 4096) * 4096 + 1234);
  closeSync(fd);

  const largest = { i: 0, size: -1 };
  layout.binaries.forEach((b, i) => {
    const { size } = statSync(join(root, b));
    if (size > largest.size) Object.assign(largest, { i, size });
  });
  const binPath = join(root, layout.binaries[largest.i]);
  const bin = readFileSync(binPath);
  const mid = Math.floor(bin.length / 2);
  writeFileSync(binPath, Buffer.concat([bin.subarray(0, mid), rand(spec.binaryInsert), bin.subarray(mid)]));

  const binDeletes = Math.max(1, Math.round(spec.deletes * 0.06));
  const goneText = new Set(pick(rng, layout.text.length, spec.deletes - binDeletes, taken));
  const goneBin = new Set(pick(rng, layout.binaries.length, binDeletes, new Set([largest.i])));
  for (const i of goneText) rmSync(join(root, layout.text[i]));
  for (const i of goneBin) rmSync(join(root, layout.binaries[i]));
  layout.text = layout.text.filter((_, i) => !goneText.has(i));
  layout.binaries = layout.binaries.filter((_, i) => !goneBin.has(i));

  const binAdds = Math.max(1, Math.round(spec.adds * 0.06));
  for (let i = 0; i < spec.adds; i++) {
    if (i < binAdds) {
      const rel = `${posix.dirname(layout.binaries[Math.floor(rng() * layout.binaries.length)])}/added-${i}.bin`;
      writeFile(root, rel, rand(logUniform(rng, 16 * KiB, 2 * MiB)));
      layout.binaries.push(rel);
    } else {
      const rel = `${layout.srcDirs[Math.floor(rng() * layout.srcDirs.length)]}/added-${i}.ts`;
      writeFile(root, rel, text(rand, between(rng, 1 * KiB, 15 * KiB)), textMode(rng));
      layout.text.push(rel);
    }
  }

  const { dir, files } = dirToRename(layout, spec.renamedFiles);
  const moved = `${dir}-moved`;
  renameSync(join(root, dir), join(root, moved));
  const re = (p) => (p === dir || p.startsWith(`${dir}/`) ? moved + p.slice(dir.length) : p);
  layout.text = layout.text.map(re);
  layout.srcDirs = layout.srcDirs.map(re);
  return (
    `${edited.length} text files edited, ${spec.logAppend / KiB} KiB appended to the log, ${spec.imageOverwrite / KiB} KiB overwritten in the image, ` +
    `${spec.binaryInsert / KiB} KiB inserted in a ${(largest.size / MiB).toFixed(1)} MiB binary, ${spec.deletes} files deleted, ${spec.adds} added, ` +
    `${dir} (${files} files) renamed`
  );
}

/**
 * One round of small changes for the chain measurement: 100 bytes in the image, 256 KiB
 * appended to the log (less on small trees), 20 text files edited, one created.
 * @param {string} root
 * @param {ReturnType<typeof treeSpec>} spec
 * @param {ReturnType<typeof makeTree>} layout
 * @param {number} round 1, 2, …
 */
export function chainRound(root, spec, layout, round) {
  const rng = prng(100 + round);
  const rand = bytes(100 + round);
  const fd = openSync(join(root, layout.image), 'r+');
  writeSync(fd, rand(100), 0, 100, Math.floor(rng() * (spec.imageBytes - 100)));
  closeSync(fd);
  const append = Math.min(256 * KiB, spec.logBytes / 4);
  appendFileSync(join(root, layout.log), logText(rand, append, layout.logLines));
  layout.logLines += append / 100;
  for (const i of pick(rng, layout.text.length, 20)) appendFileSync(join(root, layout.text[i]), `// round ${round}\n`);
  const rel = `${layout.srcDirs[Math.floor(rng() * layout.srcDirs.length)]}/round-${round}.ts`;
  mkdirSync(join(root, dirname(rel)), { recursive: true });
  writeFile(root, rel, text(rand, 4000));
  layout.text.push(rel);
}
