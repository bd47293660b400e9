/**
 * A real S3 server for tests: moto's (`python3 -m moto.server`), on a free loopback port.
 *
 * moto speaks S3 over HTTP with multipart uploads, ranges, conditional puts and GLACIER
 * objects that refuse reads until restored, so the S3 backend is tested against a server and
 * not a mock. It runs in its own process group, killed whole when the suite ends (and when the
 * test process exits, so an interrupted run leaves no server behind). Where moto is missing a
 * developer's run skips the S3 suites and says so; under `CI=true` the run fails instead
 * (see `tools.ts`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, it } from 'vitest';
import { S3Storage, type S3StorageOptions } from '../../src/storage/s3.js';
import { onCi, type ToolRequirement } from './tools.js';

/** A running moto server. */
export interface MotoServer {
  /** Its URL, `http://127.0.0.1:PORT`. */
  endpoint: string;
  /** Kill it (the whole process group) and wait for it to exit. */
  stop(): Promise<void>;
}

/** Any key works while moto does not check them (the default). */
export const MOTO_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

let probed: boolean | undefined;

/** The Python that runs moto: `IBT_MOTO_PYTHON` (set by `.ci/run` when it installs Debian's moto), else `python3` on PATH. */
const PYTHON = process.env.IBT_MOTO_PYTHON || 'python3';

/** Whether that Python can run moto's server. */
export function motoAvailable(): boolean {
  probed ??= spawnSync(PYTHON, ['-c', 'import moto.server, flask'], { stdio: 'ignore' }).status === 0;
  return probed;
}

/**
 * Check for moto at the top of a test file; use as `describe.skipIf(req.skip)(\`title${req.note}\`, …)`.
 * On CI a missing moto registers a failing test and nothing is skipped.
 */
export function requireMoto(): ToolRequirement {
  if (motoAvailable()) return { available: true, skip: false, note: '' };
  if (onCi) {
    it('moto is installed (required when CI=true)', () => {
      throw new Error('python3 -m moto.server cannot run (python3 or the moto/flask packages are missing); CI must test S3 against it');
    });
    return { available: false, skip: false, note: '' };
  }
  console.warn('[tests] python3 -m moto.server cannot run: the S3 suites are skipped');
  return { available: false, skip: true, note: ' (skipped: moto not found for python3)' };
}

/** A port nothing listens on now (another process could still take it before moto does). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

const running = new Set<number>();
let exitHook = false;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

async function startOn(port: number): Promise<MotoServer | undefined> {
  const child = spawn(PYTHON, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  const pid = child.pid!;
  running.add(pid);
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => running.forEach((p) => killGroup(p, 'SIGKILL')));
  }
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let dead = false;
  void exited.then(() => {
    dead = true;
    running.delete(pid);
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (dead) return;
    killGroup(pid, 'SIGTERM');
    const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  for (let waited = 0; waited < 30_000; waited += 100) {
    if (dead) {
      if (/address already in use/i.test(stderr)) return undefined;
      throw new Error(`moto exited before answering on ${endpoint}:\n${stderr}`);
    }
    const ok = await fetch(`${endpoint}/moto-api/`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { endpoint, stop };
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`moto did not answer on ${endpoint} within 30 s:\n${stderr}`);
}

/** Start moto on a free loopback port and wait until it answers. */
export async function startMoto(): Promise<MotoServer> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const server = await startOn(await freePort());
    if (server) return server;
  }
  throw new Error('moto found no free port in 5 attempts');
}

/** An S3 client for `endpoint` with moto's any-key credentials and no retries. */
export function motoClient(endpoint: string, credentials = MOTO_CREDENTIALS): S3Client {
  return new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials, maxAttempts: 1 });
}

/** Create bucket `name` on the server at `endpoint`. */
export async function createBucket(endpoint: string, name: string): Promise<void> {
  const client = motoClient(endpoint);
  try {
    await client.send(new CreateBucketCommand({ Bucket: name }));
  } finally {
    client.destroy();
  }
}

/** An IAM call through moto's query API (any signature passes while authentication is off). */
async function iam(endpoint: string, params: Record<string, string>): Promise<string> {
  const r = await fetch(`${endpoint}/`, {
    method: 'POST',
    body: new URLSearchParams({ ...params, Version: '2010-05-08' }).toString(),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: 'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0',
    },
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`moto IAM ${params.Action} failed: ${r.status} ${text}`);
  return text;
}

/**
 * Turn on moto's credential checks (for the whole server: give such tests a server of their
 * own) and return the key of a user allowed everything on S3; any other key is refused.
 */
export async function enableMotoAuth(endpoint: string): Promise<{ accessKeyId: string; secretAccessKey: string }> {
  const user = `u${Date.now()}`;
  await iam(endpoint, { Action: 'CreateUser', UserName: user });
  const key = await iam(endpoint, { Action: 'CreateAccessKey', UserName: user });
  const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] };
  await iam(endpoint, { Action: 'PutUserPolicy', UserName: user, PolicyName: 's3', PolicyDocument: JSON.stringify(policy) });
  const r = await fetch(`${endpoint}/moto-api/reset-auth`, { method: 'POST', body: '0' });
  if (!r.ok) throw new Error(`moto reset-auth failed: ${r.status}`);
  return { accessKeyId: /<AccessKeyId>(.*?)</.exec(key)![1]!, secretAccessKey: /<SecretAccessKey>(.*?)</.exec(key)![1]! };
}

/** A moto server for one suite (see {@link useMoto}). */
export interface MotoFixture {
  /** The server's URL; valid inside hooks and tests. */
  readonly endpoint: string;
  /**
   * An S3Storage in `prefix` of the suite's bucket with moto's credentials, at the server
   * (or `options.endpoint`, a proxy in front of it); closed when the suite ends.
   */
  storage(prefix: string, options?: Partial<S3StorageOptions>): S3Storage;
}

/** Start moto before the suite's tests, with `bucket` created, and stop it after them. */
export function useMoto(bucket: string): MotoFixture {
  let server: MotoServer | undefined;
  const opened: S3Storage[] = [];
  beforeAll(async () => {
    server = await startMoto();
    await createBucket(server.endpoint, bucket);
  });
  afterAll(async () => {
    for (const s of opened) s.close();
    await server?.stop();
  });
  const endpoint = (): string => {
    if (!server) throw new Error('useMoto: the server runs only inside hooks and tests');
    return server.endpoint;
  };
  return {
    get endpoint() {
      return endpoint();
    },
    storage(prefix, options = {}) {
      const s = new S3Storage({ bucket, prefix, endpoint: endpoint(), credentials: MOTO_CREDENTIALS, ...options });
      opened.push(s);
      return s;
    },
  };
}
