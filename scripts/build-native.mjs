#!/usr/bin/env node
/**
 * Builds the optional native engine (`native/`, librsync through N-API) with npm's bundled
 * node-gyp. Run by `npm run build:native`; never by `npm install`.
 *
 * The native engine is an accelerator, never a requirement, so a machine that cannot build
 * it is not an error: when node's headers, a C++ compiler, librsync or node-addon-api are
 * missing, or the build fails, this says why and exits 0, and the TypeScript engine is used.
 * `--strict` (CI) turns every such case into a non-zero exit, so a broken build cannot hide.
 *
 * Prerequisites are probed before node-gyp runs, because node-gyp's own failures are long
 * logs that bury the one line that matters ("librsync.h: No such file").
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const strict = process.argv.includes('--strict');
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');
const addonPath = join(nativeDir, 'build', 'Release', 'ibt_librsync.node');

/** Stop: exit 0 with the reason, or fail under --strict. */
function giveUp(reason) {
  const level = strict ? 'error' : 'skipped';
  console.error(`build:native ${level}: ${reason}`);
  if (!strict) console.error('The TypeScript engine will be used; the native engine is optional.');
  process.exit(strict ? 1 : 0);
}

function run(command, args, options = {}) {
  return spawnSync(command, args, { encoding: 'utf8', ...options });
}

/** npm's bundled node-gyp: node-gyp from the registry may need a newer node than ours. */
function findNodeGyp() {
  const tail = join('node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  const candidates = [join(dirname(process.execPath), '..', 'lib', tail)];
  if (process.env.npm_execpath) {
    candidates.push(join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  }
  const prefix = run('npm', ['prefix', '-g']);
  if (prefix.status === 0) candidates.push(join(prefix.stdout.trim(), 'lib', tail));
  return candidates.find((p) => existsSync(p));
}

/** A directory with node's headers in `include/node`, so node-gyp need not download them. */
function findNodeDir() {
  const candidates = [
    process.env.npm_config_nodedir,
    join(dirname(process.execPath), '..'),
    join(homedir(), '.cache', 'node-gyp', process.versions.node),
  ];
  return candidates.find((dir) => dir && existsSync(join(dir, 'include', 'node', 'node_api.h')));
}

/** Compile and link a one-line librsync program: proves the compiler, header and library at once. */
function probeLibrsync() {
  const cxx = process.env.CXX || 'g++';
  const dir = mkdtempSync(join(tmpdir(), 'ibt-probe-'));
  try {
    const src = join(dir, 'probe.cc');
    writeFileSync(src, '#include <librsync.h>\nint main() { return rs_strerror(RS_DONE) == nullptr; }\n');
    const res = run(cxx, [src, '-o', join(dir, 'probe'), '-lrsync']);
    if (res.error) return `no C++ compiler (${cxx}: ${res.error.message}); install g++ and make`;
    if (res.status !== 0) {
      const why = res.stderr.includes('librsync.h')
        ? 'librsync.h not found'
        : res.stderr.includes('-lrsync')
          ? 'the librsync library (-lrsync) not found'
          : res.stderr.trim().split('\n').slice(0, 3).join(' / ');
      return `${why}; install librsync's development files (Debian: apt-get install librsync-dev)`;
    }
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function main() {
  const nodeGyp = findNodeGyp();
  if (!nodeGyp) giveUp("npm's bundled node-gyp was not found next to this node");
  const nodeDir = findNodeDir();
  if (!nodeDir) console.error("build:native: node's headers are not installed here; node-gyp will try to download them");
  try {
    createRequire(join(root, 'package.json')).resolve('node-addon-api');
  } catch {
    giveUp('node-addon-api is not installed (it is a devDependency: run npm install)');
  }
  if (run('make', ['--version']).error) giveUp('make is not installed');
  if (run('python3', ['--version']).error) giveUp('python3 (needed by node-gyp) is not installed');
  const missing = probeLibrsync();
  if (missing) giveUp(missing);

  const args = [nodeGyp, 'rebuild', '--loglevel=warn', ...(nodeDir ? [`--nodedir=${nodeDir}`] : [])];
  const build = spawnSync(process.execPath, args, { cwd: nativeDir, stdio: 'inherit' });
  if (build.status !== 0) {
    const hint = nodeDir ? '' : " (node's headers were not found locally: install them or set npm_config_nodedir)";
    giveUp(`node-gyp failed (exit ${build.status ?? build.signal})${hint}; see the output above`);
  }

  const load = run(process.execPath, ['-e', `const a = require(${JSON.stringify(addonPath)}); console.log(a.librsyncVersion)`]);
  if (load.status !== 0) giveUp(`the addon was built but does not load: ${load.stderr.trim()}`);
  console.log(`build:native: built ${addonPath} against ${load.stdout.trim()}`);
}

main();
