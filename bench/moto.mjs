/**
 * The S3 server of the storage benchmark: moto's (`python3 -m moto.server`, the `python3`
 * first on PATH), on a free loopback port, one server per tool so that no tool's requests meet
 * another tool's objects or share its server's threads.
 *
 * moto keeps objects in spooled temporary files (in memory up to ~5 MiB, then on disk): its
 * `TMPDIR` is a directory of the benchmark, so what it spills is removed with the rest. A
 * multipart upload is joined in memory when it completes, so the server holds the largest
 * object it receives, once, at that moment. It runs in its own process group, killed whole at
 * the end and when the benchmark exits. Authentication is off (moto's default): any key
 * signs, and the bucket is created with a plain unsigned `PUT /BUCKET`. Its peak RSS is read
 * from `/proc` at the end, to show what the server itself held.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';

const running = new Set();

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

process.once('exit', () => running.forEach((pid) => killGroup(pid, 'SIGKILL')));

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Start moto on a free loopback port, spilling into `tmp`, and create `bucket` there.
 * @param {string} tmp a directory of the benchmark
 * @param {string} bucket
 * @returns {Promise<{ endpoint: string, peakRssMiB: () => number | undefined, stop: () => Promise<void> }>}
 */
export async function startMoto(tmp, bucket) {
  mkdirSync(tmp, { recursive: true });
  const port = await freePort();
  const child = spawn('python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, TMPDIR: tmp },
  });
  running.add(child.pid);
  // moto logs every request on stderr: keep only the end, for an error message.
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  let dead = false;
  const exited = new Promise((resolve) => child.once('exit', resolve)).then(() => {
    dead = true;
    running.delete(child.pid);
  });
  const stop = async () => {
    if (dead) return;
    killGroup(child.pid, 'SIGTERM');
    const timer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  const endpoint = `http://127.0.0.1:${port}`;
  for (let waited = 0; ; waited += 100) {
    if (dead) throw new Error(`moto exited before answering on ${endpoint}:\n${stderr}`);
    if (await fetch(`${endpoint}/moto-api/`).then((r) => r.ok, () => false)) break;
    if (waited > 30_000) {
      await stop();
      throw new Error(`moto did not answer on ${endpoint} within 30 s:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const made = await fetch(`${endpoint}/${bucket}`, { method: 'PUT' });
  if (!made.ok) {
    await stop();
    throw new Error(`moto: PUT /${bucket} answered ${made.status} ${await made.text()}`);
  }
  const peakRssMiB = () => {
    try {
      return Number(/VmHWM:\s*(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]) / 1024;
    } catch {
      return undefined;
    }
  };
  return { endpoint, peakRssMiB, stop };
}
