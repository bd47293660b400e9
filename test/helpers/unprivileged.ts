/**
 * Running a check where permission bits apply. Root ignores them, and CI runs as root, so a
 * test of "a file we may not read" runs its check in a child process: as `nobody` when this
 * process is root, as this user otherwise. The child imports the built package (`dist/`), so
 * these tests need `npm run build`, as the kill and concurrency tests do.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { resolve } from 'node:path';

/** The built package's root: `dist/`. */
export const DIST_DIR = resolve('dist');
/** Whether the built package is there. */
export const distBuilt = existsSync(resolve(DIST_DIR, 'index.js'));

const NOBODY = 65534;

/**
 * Run `body` (the body of an async ES module function receiving `dist`, the built package's
 * folder, and returning a JSON value) without root's privileges; resolves to what it returned.
 * `reachable` are directories the child must be able to enter: they are opened to others.
 */
export async function runUnprivileged(body: string, reachable: string[]): Promise<unknown> {
  const root = process.getuid?.() === 0;
  if (root) for (const d of reachable) await chmod(d, 0o755);
  const code = `const dist = ${JSON.stringify(DIST_DIR)}; (async () => { ${body} })().then(
    (v) => process.stdout.write(JSON.stringify(v ?? null)),
    (e) => { process.stderr.write(String(e?.stack ?? e)); process.exitCode = 1; })`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    encoding: 'utf8',
    ...(root ? { uid: NOBODY, gid: NOBODY } : {}),
  });
  if (run.status !== 0) throw new Error(`the unprivileged check failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as unknown;
}

/** What a backup's walk of `root` selects (`type:path` each) and warns about, run unprivileged. */
export async function walkUnprivileged(root: string, selection: object, reachable: string[]): Promise<{ paths: string[]; warnings: { code: string; path: string; message: string }[] }> {
  return (await runUnprivileged(
    `const { DirTree } = await import(dist + '/io/dir-tree.js');
     const { compileSelection, walkTree } = await import(dist + '/tree/index.js');
     const tree = await DirTree.open(${JSON.stringify(root)}, { follow: true });
     const warnings = [];
     const paths = [];
     try {
       const selection = await compileSelection(tree, ${JSON.stringify(selection)}, (w) => warnings.push(w));
       for await (const e of walkTree(tree, selection, (w) => warnings.push(w))) paths.push(e.meta.type + ':' + e.path);
     } finally {
       await tree.close();
     }
     return { paths, warnings };`,
    reachable,
  )) as { paths: string[]; warnings: { code: string; path: string; message: string }[] };
}
