/**
 * The benchmark's many-small-files tree: about a million files of 0–4 KiB (~1 GiB) in deep
 * and wide directories, and its day of changes, generated from a seed.
 *
 * Its shape tests what a per-file cost or a per-directory cost does at scale, where the
 * 2 GiB tree cannot: 20 % of the files sit in 4 directories of 50,000 entries each (wide),
 * 40 % in chains of directories 24 deep with 40 files at each level (deep), 40 % in a
 * three-level hierarchy of directories of 50 files (bushy). Contents: 5 % empty, 70 % text
 * of 64 B–2 KiB, 25 % random bytes of 1 B–4 KiB. The day: 0.5 % of the files edited (a line
 * appended), 0.1 % deleted, 0.1 % added, and one bushy directory (~1,000 files) renamed.
 */
import { appendFileSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { between, bytes, prng, text } from './random.mjs';

const DEPTH = 24;
const PER_LEVEL = 40;
const PER_LEAF = 50;

/** The directories of a tree of about `files` files, each with how many files it gets. */
function plan(files) {
  const dirs = [];
  const wide = Math.round(files * 0.05);
  for (let w = 0; w < 4; w++) dirs.push({ dir: `wide/w${w}`, count: wide });
  const chains = Math.max(1, Math.round((files * 0.4) / (DEPTH * PER_LEVEL)));
  for (let c = 0; c < chains; c++) {
    let dir = `deep/c${c}`;
    for (let l = 1; l <= DEPTH; l++) {
      dir += `/l${String(l).padStart(2, '0')}`;
      dirs.push({ dir, count: PER_LEVEL });
    }
  }
  const leaves = Math.max(1, Math.round((files * 0.4) / PER_LEAF));
  const fan = Math.ceil(Math.cbrt(leaves));
  for (let n = 0; n < leaves; n++) {
    dirs.push({ dir: `bushy/a${Math.floor(n / (fan * fan))}/b${Math.floor(n / fan) % fan}/c${n % fan}`, count: PER_LEAF });
  }
  return dirs;
}

function content(rng, rand) {
  const u = rng();
  if (u < 0.05) return Buffer.alloc(0);
  if (u < 0.75) return text(rand, between(rng, 64, 2048));
  return rand(between(rng, 1, 4096));
}

/**
 * Write the tree into the empty directory `root`.
 * @param {string} root
 * @param {number} files about how many files
 * @param {number} [seed]
 * @returns {{ files: string[], dirs: string[] }} relative paths, for the changes to come
 */
export function makeMillionTree(root, files, seed = 11) {
  const rng = prng(seed);
  const rand = bytes(seed);
  const out = [];
  const dirs = [];
  let i = 0;
  for (const { dir, count } of plan(files)) {
    mkdirSync(join(root, dir), { recursive: true });
    dirs.push(dir);
    for (let k = 0; k < count; k++, i++) {
      const rel = `${dir}/f${i}`;
      writeFileSync(join(root, rel), content(rng, rand));
      out.push(rel);
    }
  }
  return { files: out, dirs };
}

/**
 * Apply the day of changes to the tree.
 * @param {string} root
 * @param {ReturnType<typeof makeMillionTree>} layout
 * @param {number} [seed]
 * @returns {string} what was changed, in one line
 */
export function millionChanges(root, layout, seed = 12) {
  const rng = prng(seed);
  const rand = bytes(seed);
  const n = layout.files.length;
  const edits = Math.max(1, Math.round(n * 0.005));
  const deletes = Math.max(1, Math.round(n * 0.001));
  const taken = new Set();
  const choose = () => {
    for (;;) {
      const i = Math.floor(rng() * n);
      if (!taken.has(i)) {
        taken.add(i);
        return i;
      }
    }
  };
  for (let k = 0; k < edits; k++) appendFileSync(join(root, layout.files[choose()]), `edited ${k}\n`);
  for (let k = 0; k < deletes; k++) rmSync(join(root, layout.files[choose()]));
  for (let k = 0; k < deletes; k++) {
    writeFileSync(join(root, layout.dirs[Math.floor(rng() * layout.dirs.length)], `added-${k}`), content(rng, rand));
  }
  const dir = layout.dirs.find((d) => d.startsWith('bushy/')).replace(/\/c\d+$/, '');
  renameSync(join(root, dir), join(root, `${dir}-moved`));
  const renamed = layout.files.filter((f) => f.startsWith(`${dir}/`)).length;
  return `${edits} files edited, ${deletes} deleted, ${deletes} added, ${dir} (${renamed} files) renamed`;
}
