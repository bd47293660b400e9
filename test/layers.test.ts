/**
 * The layers of `src/`, lowest first: a module may import its own folder and lower layers,
 * never a higher one, and `backup/` and `restore/` (side by side) never each other. A cycle
 * between folders makes every layer depend on every other; this test keeps the order the
 * README's Development section describes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const LAYERS: string[][] = [
  ['io'],
  ['rsync'],
  ['engine'],
  ['tree'],
  ['archive'],
  ['state'],
  ['storage'],
  ['lock'],
  ['repository'],
  ['catalog'],
  ['backup', 'restore'],
  ['cli', 'demo', 'testing'],
];
const SRC = resolve('src');

function levelOf(folder: string): number {
  const i = LAYERS.findIndex((l) => l.includes(folder));
  if (i < 0) throw new Error(`src/${folder} is in no layer: add it to test/layers.test.ts and the README`);
  return i;
}

function* sources(dir: string): Generator<string> {
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, d.name);
    if (d.isDirectory()) yield* sources(p);
    else if (p.endsWith('.ts')) yield p;
  }
}

/** The folder under src/ of a file ('' for files directly in src/, such as errors.ts). */
function folderOf(file: string): string {
  const rel = relative(SRC, file).split('/');
  return rel.length > 1 ? rel[0]! : '';
}

describe('layers', () => {
  it('no module imports a higher layer, and backup and restore do not import each other', () => {
    const wrong: string[] = [];
    for (const file of sources(SRC)) {
      const from = folderOf(file);
      if (from === '') continue;
      for (const m of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
        const to = folderOf(resolve(dirname(file), m[1]!));
        if (to === '' || to === from) continue;
        if (levelOf(to) > levelOf(from) || (levelOf(to) === levelOf(from) && to !== from)) wrong.push(`${relative(SRC, file)} imports ${m[1]}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
