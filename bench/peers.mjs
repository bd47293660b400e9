/**
 * The tools the benchmark compares, behind one shape: a full backup, incremental backups, a
 * restore of the latest point, and the repository whose size is "bytes stored". Every step is
 * one command line, timed by `measure.mjs`; set-up (creating a repository) is not timed.
 *
 * - `ibt`: this package's CLI from the build (`dist/cli/main.js`, or another built package's,
 *   see `usePackage`), default gzip compression;
 *   `ibt-none` is the same with `--compression none`.
 * - `restic` (0.14: repository format 2, zstd `auto` compression), a local repository.
 * - `borg` (1.2) with `--compression lz4`, unencrypted (`borg init -e none`).
 * - `tar`: GNU tar `--zstd --listed-incremental`, one archive per level; each level starts
 *   from a copy of the previous level's snapshot file, and a restore extracts every level in
 *   order (`--listed-incremental=/dev/null` makes tar delete what a later level no longer has).
 *
 * Each tool's caches (restic's, borg's security and chunk caches) live under the benchmark's
 * directory, so nothing outside it is touched and nothing survives the clean-up. restic and
 * borg back up `.` from inside the tree, so their restores hold the tree at the top, as ibt's
 * and tar's do.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { timed } from './measure.mjs';

let CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../dist/cli/main.js');

/**
 * Run ibt from the built package at `root` (its `dist/cli/main.js`) instead of this checkout's:
 * a copy taken before a long run is not changed by a rebuild in the middle of it.
 * @param {string} root
 */
export function usePackage(root) {
  CLI = join(resolve(root), 'dist/cli/main.js');
}

/** What each tool needs on the PATH, and the Debian package that brings it. */
const NEEDS = {
  ibt: [],
  'ibt-none': [],
  restic: [['restic', 'restic']],
  borg: [['borg', 'borgbackup']],
  tar: [
    ['tar', 'tar'],
    ['zstd', 'zstd'],
  ],
};

/** The tool names `--tools` accepts. */
export const TOOL_NAMES = Object.keys(NEEDS);

function found(cmd) {
  return spawnSync(cmd, ['--version'], { stdio: 'ignore' }).error === undefined;
}

function aptInstall(pkgs) {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', '-qq', ...pkgs], { env, stdio: 'ignore' }).status === 0;
  if (install()) return true;
  spawnSync('apt-get', ['update', '-qq'], { env, stdio: 'ignore' });
  return install();
}

/**
 * Make sure `tool`'s programs are there: install the missing ones with apt-get when running
 * as root.
 * @param {string} tool
 * @returns {string | undefined} why the tool cannot run, or undefined when it can
 */
export function ensureTool(tool) {
  if (tool.startsWith('ibt')) return existsSync(CLI) ? undefined : `${CLI} missing: run npm run build first`;
  const missing = NEEDS[tool].filter(([cmd]) => !found(cmd));
  if (missing.length === 0) return undefined;
  const pkgs = missing.map(([, pkg]) => pkg);
  if (process.getuid?.() !== 0) return `not installed (${pkgs.join(', ')}) and not root: apt-get install ${pkgs.join(' ')}`;
  process.stderr.write(`installing ${pkgs.join(' ')} with apt-get ...\n`);
  if (!aptInstall(pkgs)) return `apt-get install ${pkgs.join(' ')} failed`;
  return NEEDS[tool].every(([cmd]) => found(cmd)) ? undefined : `still missing after apt-get install ${pkgs.join(' ')}`;
}

function firstLine(cmd, args) {
  return spawnSync(cmd, args, { encoding: 'utf8' }).stdout?.split('\n')[0].trim() ?? '?';
}

/**
 * The version of `tool`, as it prints it.
 * @param {string} tool
 */
export function toolVersion(tool) {
  if (tool.startsWith('ibt')) return `${firstLine(process.execPath, [CLI, '--version'])} (${CLI})`;
  if (tool === 'restic') return firstLine('restic', ['version']).replace(/ compiled.*/, '');
  if (tool === 'borg') return firstLine('borg', ['--version']);
  return `${firstLine('tar', ['--version'])}, ${firstLine('zstd', ['--version']).replace(/^\*+ /, '').replace(/,.*/, '')}`;
}

function must(cmd, args, options) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...options });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error?.message}`);
  return r.stdout;
}

/**
 * @typedef {object} Tool
 * @property {string} name
 * @property {string} repo the directory whose size is the tool's "bytes stored"
 * @property {() => Promise<import('./measure.mjs').Step>} backup the next backup: full the first time, then incremental
 * @property {(out: string, point?: number) => Promise<import('./measure.mjs').Step>} restore
 *   restore point `point` (0 = the full; default the latest) into the new directory `out`
 */

/**
 * A tool set up to back up `src` into a repository under `base`.
 * @param {string} name one of {@link TOOL_NAMES}
 * @param {string} src the tree
 * @param {string} base a directory of its own for the repository and caches
 * @param {number} timeoutSecs time limit of each step
 * @returns {Tool}
 */
export function makeTool(name, src, base, timeoutSecs) {
  mkdirSync(base, { recursive: true });
  const run = (cmd, args, options = {}) => timed(cmd, args, { timeoutSecs, ...options });
  let points = 0;
  if (name.startsWith('ibt')) {
    const workDir = join(base, 'work');
    const extra = name === 'ibt-none' ? ['--compression', 'none'] : [];
    const backupName = basename(src);
    return {
      name,
      repo: workDir,
      backup: () => run(process.execPath, [CLI, 'backup', src, '--work-dir', workDir, ...(points++ === 0 ? ['--full'] : []), ...extra]),
      restore: (out, point) => {
        const at = [];
        if (point !== undefined) {
          const ids = JSON.parse(must(process.execPath, [CLI, 'list', backupName, '--work-dir', workDir, '--json'])).map((b) => b.id);
          at.push('--at', ids[point]);
        }
        return run(process.execPath, [CLI, 'restore', backupName, out, '--work-dir', workDir, ...at]);
      },
    };
  }
  if (name === 'restic') {
    const repo = join(base, 'repo');
    const env = { ...process.env, RESTIC_PASSWORD: 'bench', RESTIC_CACHE_DIR: join(base, 'cache') };
    must('restic', ['init', '-q', '-r', repo], { env });
    return {
      name,
      repo,
      backup: () => run('restic', ['-r', repo, 'backup', '.', '--host', 'bench', '-q'], { cwd: src, env }),
      restore: (out, point) => {
        const ids = point === undefined ? ['latest'] : JSON.parse(must('restic', ['-r', repo, 'snapshots', '--json'], { env })).map((s) => s.id);
        return run('restic', ['-r', repo, 'restore', ids[point ?? 0], '--target', out, '-q'], { env });
      },
    };
  }
  if (name === 'borg') {
    const repo = join(base, 'repo');
    const env = { ...process.env, BORG_BASE_DIR: join(base, 'home'), BORG_PASSPHRASE: '', BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes' };
    must('borg', ['init', '-e', 'none', repo], { env });
    return {
      name,
      repo,
      backup: () => run('borg', ['create', '--compression', 'lz4', `${repo}::p${points++}`, '.'], { cwd: src, env }),
      restore: (out, point) => {
        mkdirSync(out, { recursive: true });
        return run('borg', ['extract', `${repo}::p${point ?? points - 1}`], { cwd: out, env });
      },
    };
  }
  const repo = join(base, 'archives');
  mkdirSync(repo, { recursive: true });
  const snar = (level) => join(repo, `level-${level}.snar`);
  const archive = (level) => join(repo, `level-${level}.tar.zst`);
  return {
    name,
    repo,
    backup: () => {
      const level = points++;
      if (level > 0) copyFileSync(snar(level - 1), snar(level));
      return run('tar', ['--zstd', `--listed-incremental=${snar(level)}`, '-cf', archive(level), '-C', src, '.']);
    },
    restore: async (out, point) => {
      mkdirSync(out, { recursive: true });
      const total = { ok: true, secs: 0, cpu: 0, rssMiB: 0, stdout: '' };
      for (let level = 0; level <= (point ?? points - 1); level++) {
        const s = await run('tar', ['--zstd', '--listed-incremental=/dev/null', '-xf', archive(level), '-C', out]);
        Object.assign(total, { ok: total.ok && s.ok, secs: total.secs + s.secs, cpu: total.cpu + s.cpu, rssMiB: Math.max(total.rssMiB, s.rssMiB) });
        if (!s.ok) return { ...total, error: `level ${level}: ${s.error}` };
      }
      return total;
    },
  };
}
