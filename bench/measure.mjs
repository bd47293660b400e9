/**
 * How the benchmark measures: each step is its own process under GNU `/usr/bin/time` (wall
 * time, user + system CPU of the process and the children it waited for, peak RSS of the
 * largest of them), started in its own process group so a step past its time limit is killed
 * whole; bytes stored are the apparent sizes of the files in a repository; and the facts of
 * the machine a reader needs to weigh the figures.
 */
import { spawn, spawnSync } from 'node:child_process';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';

/**
 * @typedef {object} Step
 * @property {boolean} ok the command exited with 0 in time
 * @property {number} secs wall time
 * @property {number} cpu user + system CPU seconds
 * @property {number} rssMiB peak resident set size
 * @property {string} stdout
 * @property {string} [error] why it failed: exit status, time limit, the end of its stderr
 */

/**
 * Run `cmd args` under /usr/bin/time.
 * @param {string} cmd
 * @param {string[]} args
 * @param {{ cwd?: string, env?: NodeJS.ProcessEnv, timeoutSecs?: number }} [options]
 * @returns {Promise<Step>}
 */
export function timed(cmd, args, options = {}) {
  return new Promise((resolveStep) => {
    const child = spawn('/usr/bin/time', ['-f', 'IBTBENCH %e %U %S %M', cmd, ...args], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      if (stdout.length < 64 << 20) stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr = (stderr + d).slice(-64 << 10);
    });
    let timedOut = false;
    const timer = options.timeoutSecs
      ? setTimeout(() => {
          timedOut = true;
          try {
            process.kill(-child.pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }, options.timeoutSecs * 1000)
      : undefined;
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = stderr.split('\n').reverse().find((l) => l.startsWith('IBTBENCH '));
      const [secs, user, sys, kb] = line ? line.split(' ').slice(1).map(Number) : [NaN, NaN, NaN, NaN];
      const rest = stderr.replace(/^IBTBENCH .*$/m, '').replace(/^Command (exited with non-zero status|terminated by signal) .*$/m, '').trim();
      const ok = code === 0 && !timedOut;
      resolveStep({
        ok,
        secs: timedOut ? options.timeoutSecs : secs,
        cpu: user + sys,
        rssMiB: kb / 1024,
        stdout,
        error: ok ? undefined : timedOut ? `killed after ${options.timeoutSecs} s` : `exit ${code}: ${rest.slice(-600)}`,
      });
    });
  });
}

/**
 * Total apparent size of the regular files under `dir` (0 when it does not exist).
 * @param {string} dir
 */
export function dirBytes(dir) {
  let n = 0;
  let names;
  try {
    names = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of names) {
    const p = join(dir, e.name);
    if (e.isDirectory()) n += dirBytes(p);
    else if (e.isFile()) n += lstatSync(p).size;
  }
  return n;
}

/** Write back every dirty page, so no step pays for the writes of the one before. */
export function flush() {
  spawnSync('sync');
}

/** The load average over 1, 5 and 15 minutes, as printed. */
export function load() {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

/**
 * What a reader needs to weigh the figures: date, node, cores, memory, CPU, kernel, and the
 * file system of the directory the benchmark works in.
 * @param {string} dir
 */
export function machineFacts(dir) {
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
  const df = spawnSync('df', ['--output=fstype,source', dir], { encoding: 'utf8' }).stdout.trim().split('\n').pop()?.trim().split(/\s+/) ?? [];
  return (
    `${new Date().toISOString()}, node ${process.version}, ${availableParallelism()} cores (${cpu}), ` +
    `${(totalmem() / 2 ** 30).toFixed(1)} GiB memory, Linux ${release()}, ${dir} on ${df[0] ?? '?'} (${df[1] ?? '?'})`
  );
}
