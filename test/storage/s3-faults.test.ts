/**
 * The S3 backend under network and server faults: a fault-injecting proxy between the client
 * and moto returns 5xx and 429 answers, resets connections, stalls requests and cuts response
 * bodies short, and the backend, wrapped in the retry wrapper as every repository's storage
 * is, must either store exactly the right bytes or fail with a clear BackupError — never store
 * or return damaged ones, and never hang on a stall.
 */
import { ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BackupError, isBackupError } from '../../src/errors.js';
import { RetryingStorage } from '../../src/storage/wrappers/retry.js';
import { Prng } from '../helpers/data.js';
import { failure } from '../helpers/failure.js';
import { startFaultProxy, type Fault, type FaultProxy, type ProxiedRequest } from '../helpers/fault-proxy.js';
import { motoClient, requireMoto, useMoto } from '../helpers/moto.js';
import { collect } from '../helpers/streams.js';

const MiB = 1024 * 1024;
const BUCKET = 'ibt-faults';
const moto = requireMoto();

/** A rule: the fault for the first `times` requests `match` accepts (default once). */
interface Rule {
  match: (r: ProxiedRequest) => boolean;
  fault: Fault;
  times?: number;
}

/** A `decide` that applies `rules` in order, each as many times as it says. */
function rules(list: Rule[]): (r: ProxiedRequest) => Fault | undefined {
  const left = list.map((r) => r.times ?? 1);
  return (req) => {
    const i = list.findIndex((r, j) => left[j]! > 0 && r.match(req));
    if (i < 0) return undefined;
    left[i]!--;
    return list[i]!.fault;
  };
}

const isPut = (r: ProxiedRequest) => r.method === 'PUT' && !r.query.has('partNumber');
const isGet = (r: ProxiedRequest) => r.method === 'GET' && !r.query.has('list-type') && r.path.split('/').length > 2;
const isPart = (n: number) => (r: ProxiedRequest) => r.method === 'PUT' && r.query.get('partNumber') === String(n);
const isComplete = (r: ProxiedRequest) => r.method === 'POST' && r.query.has('uploadId');

describe.skipIf(moto.skip)(`S3Storage through a fault-injecting proxy${moto.note}`, () => {
  const server = useMoto(BUCKET);
  let proxy: FaultProxy;
  let sdk: S3Client;
  let n = 0;

  beforeAll(async () => {
    proxy = await startFaultProxy(server.endpoint);
    sdk = motoClient(server.endpoint);
  });
  afterAll(async () => {
    sdk?.destroy();
    await proxy?.close();
  });
  afterEach(() => {
    proxy.decide = () => undefined;
    proxy.log = [];
  });

  /**
   * A fresh prefix seen three ways: `raw` through the proxy, `retrying` (the same wrapped as a
   * repository wraps it) and `direct` (no proxy) to check what the server holds.
   */
  const open = () => {
    const prefix = `repo-${++n}`;
    const make = (endpoint: string) => server.storage(prefix, { endpoint, partSize: 5 * MiB, queueSize: 2, requestTimeoutMs: 1000, connectTimeoutMs: 1000 });
    const raw = make(proxy.endpoint);
    return { prefix, raw, retrying: new RetryingStorage(raw, { attempts: 4, baseDelayMs: 20, maxDelayMs: 200 }), direct: make(server.endpoint) };
  };
  const injected = () => proxy.log.filter((e) => e.fault !== undefined).map((e) => e.fault);
  const uploadsUnder = async (prefix: string) => (await sdk.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: `${prefix}/` }))).Uploads ?? [];

  it('retries 500, 503 and 429 answers to a save and a load, and the bytes are exact', async () => {
    const { retrying, direct } = open();
    const data = new Prng(1).bytes(100_000);
    proxy.decide = rules([
      { match: isPut, fault: { kind: 'status', status: 500, code: 'InternalError' } },
      { match: isPut, fault: { kind: 'status', status: 503, code: 'SlowDown' } },
      { match: isGet, fault: { kind: 'status', status: 429, code: 'TooManyRequests' } },
    ]);
    await retrying.save('k', () => (async function* () { yield data; })());
    expect((await collect(retrying.load('k'))).equals(data)).toBe(true);
    expect(injected()).toEqual(['status', 'status', 'status']);
    expect((await collect(direct.load('k'))).equals(data)).toBe(true);
  });

  it('retries reset connections, before and after the server acted', async () => {
    const { retrying, direct } = open();
    const data = new Prng(2).bytes(50_000);
    proxy.decide = rules([
      { match: isPut, fault: { kind: 'reset' } },
      { match: isPut, fault: { kind: 'reset-after' } },
      { match: isGet, fault: { kind: 'reset' } },
    ]);
    await retrying.save('k', data);
    expect((await collect(retrying.load('k', { offset: 10, length: 40_000 }))).equals(data.subarray(10, 40_010))).toBe(true);
    expect(injected()).toEqual(['reset', 'reset-after', 'reset']);
    expect((await collect(direct.load('k'))).equals(data)).toBe(true);
  });

  it('a body cut short is a transient error naming the key, and the retried load resumes to the exact bytes', async () => {
    const { raw, retrying } = open();
    const data = new Prng(3).bytes(300_000);
    await raw.save('k', data);
    proxy.decide = rules([{ match: isGet, fault: { kind: 'truncate', fraction: 0.4 } }]);
    const e = await failure(collect(raw.load('k')));
    expect(e.code).toBe('EIO');
    expect(e.message).toContain(`loading k in s3:${BUCKET}/repo-${n}`);
    expect(raw.isTransient(e)).toBe(true);
    expect(raw.isNotFound(e)).toBe(false);

    proxy.decide = rules([{ match: isGet, fault: { kind: 'truncate', fraction: 0.4 }, times: 2 }]);
    expect((await collect(retrying.load('k'))).equals(data)).toBe(true);
    expect((await collect(retrying.load('k', { offset: 1000, length: 200_000 }))).equals(data.subarray(1000, 201_000))).toBe(true);
    expect(injected()).toEqual(['truncate', 'truncate', 'truncate']);
  });

  it('a body that ends cleanly but short is caught by its Content-Range, or by its checksum when whole', async () => {
    const { raw, retrying } = open();
    const data = new Prng(8).bytes(100_000);
    await raw.save('k', data);
    proxy.decide = rules([{ match: isGet, fault: { kind: 'short-body', fraction: 0.5 }, times: 2 }]);
    for (const range of [{ offset: 10 }, {}]) {
      const e = await failure(collect(raw.load('k', range)));
      expect(e.code).toBe('EIO');
      expect(raw.isTransient(e)).toBe(true);
    }
    proxy.decide = rules([{ match: isGet, fault: { kind: 'short-body', fraction: 0.5 }, times: 2 }]);
    expect((await collect(retrying.load('k', { offset: 10 }))).equals(data.subarray(10))).toBe(true);
    expect((await collect(retrying.load('k'))).equals(data)).toBe(true);
    expect(injected()).toEqual(['short-body', 'short-body', 'short-body', 'short-body']);
  });

  it('a stall never hangs: a stalled request or body times out as a transient error, and the retry completes', async () => {
    const { raw, retrying, direct } = open();
    const data = new Prng(4).bytes(200_000);
    proxy.decide = rules([{ match: isPut, fault: { kind: 'stall' } }]);
    const put = await failure(raw.save('k', data));
    expect(put.code).toBe('EIO');
    expect(put.message).toContain('TimeoutError');
    expect(raw.isTransient(put)).toBe(true);

    proxy.decide = rules([{ match: isPut, fault: { kind: 'stall' } }]);
    await retrying.save('k', data);
    expect((await collect(direct.load('k'))).equals(data)).toBe(true);

    proxy.decide = rules([{ match: isGet, fault: { kind: 'stall-body', fraction: 0.5 } }]);
    const get = await failure(collect(raw.load('k')));
    expect(raw.isTransient(get)).toBe(true);

    proxy.decide = rules([
      { match: isGet, fault: { kind: 'stall-body', fraction: 0.5 } },
      { match: (r) => r.method === 'HEAD', fault: { kind: 'stall' } },
    ]);
    expect((await collect(retrying.load('k'))).equals(data)).toBe(true);
    expect(await retrying.stat('k')).toEqual({ size: data.length });
    expect(injected()).toEqual(['stall', 'stall', 'stall-body', 'stall-body', 'stall']);
  });

  it('a refusal is not retried: an injected 403 is EAUTH at once', async () => {
    const { raw, retrying } = open();
    await raw.save('k', new Uint8Array([1]));
    proxy.decide = rules([{ match: isGet, fault: { kind: 'status', status: 403, code: 'AccessDenied' }, times: 10 }]);
    const e = await failure(collect(retrying.load('k')));
    expect(e.code).toBe('EAUTH');
    expect(e.message).toContain(`repository s3:${BUCKET}/repo-${n} refused the credentials (AccessDenied)`);
    expect(proxy.log.filter((l) => l.request.startsWith('GET'))).toHaveLength(1);
  });

  // A conditional save whose success answer is lost cannot tell, on its retry, its own object
  // from another run's: the retry fails with EEXIST although this save created the object.
  // The lock and commit layers must read the object back to know (this test pins the behaviour).
  it('a conditional save whose answer is lost comes back EEXIST on the retry, with its own content stored', async () => {
    const { retrying, direct } = open();
    const data = new Prng(5).bytes(1000);
    proxy.decide = rules([{ match: isPut, fault: { kind: 'reset-after' } }]);
    const e = await failure(retrying.save('lock', data, { ifNoneMatch: true }));
    expect(e.code).toBe('EEXIST');
    expect((await collect(direct.load('lock'))).equals(data)).toBe(true);
  });

  it('a multipart upload survives failed parts and a failed completion through the SDK retries of parts', async () => {
    const { prefix, raw, direct } = open();
    const data = new Prng(6).bytes(12 * MiB);
    proxy.decide = rules([
      { match: isPart(2), fault: { kind: 'status', status: 503, code: 'SlowDown' } },
      { match: isPart(3), fault: { kind: 'reset' } },
      { match: isPart(1), fault: { kind: 'reset-after' } },
      { match: isComplete, fault: { kind: 'status', status: 500, code: 'InternalError' } },
    ]);
    await raw.save('big', () => (async function* () { for (let at = 0; at < data.length; at += MiB) yield data.subarray(at, at + MiB); })());
    expect(injected().sort()).toEqual(['reset', 'reset-after', 'status', 'status']);
    expect((await collect(direct.load('big'))).equals(data)).toBe(true);
    expect(await uploadsUnder(prefix)).toEqual([]);
  });

  it('a multipart upload whose part keeps failing fails clearly and leaves no upload behind', async () => {
    const { prefix, raw, direct } = open();
    const data = new Prng(7).bytes(11 * MiB);
    proxy.decide = rules([{ match: isPart(2), fault: { kind: 'status', status: 503, code: 'ServiceUnavailable' }, times: 1000 }]);
    const e = await failure(new RetryingStorage(raw, { attempts: 2, baseDelayMs: 10 }).save('big', data));
    expect(e.code).toBe('EIO');
    expect(e.message).toContain(`saving big in s3:${BUCKET}/repo-${n}: ServiceUnavailable (HTTP 503)`);
    expect(await uploadsUnder(prefix)).toEqual([]);
    expect(direct.isNotFound(await direct.stat('big').catch((x: unknown) => x))).toBe(true);
  });

  it('under random faults every save stores exactly its bytes or fails clearly leaving the old ones, and loads are exact', async () => {
    const { prefix, raw, direct } = open();
    const retrying = new RetryingStorage(raw, { attempts: 2, baseDelayMs: 10, maxDelayMs: 50 });
    const rng = new Prng(20_261_201);
    const menu: Fault[] = [
      { kind: 'status', status: 500, code: 'InternalError' },
      { kind: 'status', status: 503, code: 'SlowDown' },
      { kind: 'status', status: 429, code: 'TooManyRequests' },
      { kind: 'reset' },
      { kind: 'reset-after' },
      { kind: 'truncate', fraction: 0.3 },
    ];
    let stalls = 0;
    proxy.decide = (req) => {
      if (req.index % 37 === 36 && stalls < 3) {
        stalls++;
        return { kind: 'stall' };
      }
      return rng.int(100) < 40 ? menu[rng.int(menu.length)] : undefined;
    };
    const stored = new Map<string, Buffer>();
    const outcomes = { saved: 0, failedSaves: 0, loaded: 0, failedLoads: 0 };
    for (let round = 0; round < 40; round++) {
      const key = `k${rng.int(6)}`;
      const size = round % 8 === 7 ? 5 * MiB + rng.int(MiB) : rng.int(200_000);
      const data = Buffer.from(new Prng(round).bytes(size));
      try {
        await retrying.save(key, () => (async function* () { for (let at = 0; at < size; at += 256 * 1024) yield data.subarray(at, at + 256 * 1024); })());
        outcomes.saved++;
        stored.set(key, data);
      } catch (e) {
        expect(e).toBeInstanceOf(BackupError);
        expect((e as BackupError).message).toContain(`${key} in s3:${BUCKET}/${prefix}`);
        outcomes.failedSaves++;
        const now = await collect(direct.load(key)).catch((x: unknown) => x);
        const old = stored.get(key);
        if (now instanceof Buffer && now.equals(data)) stored.set(key, data);
        else if (old === undefined) expect(direct.isNotFound(now)).toBe(true);
        else expect(now instanceof Buffer && now.equals(old)).toBe(true);
      }
      const expected = stored.get(key);
      if (expected === undefined) continue;
      const offset = rng.int(expected.length + 1);
      try {
        const got = await collect(retrying.load(key, { offset }));
        expect(got.equals(expected.subarray(offset))).toBe(true);
        outcomes.loaded++;
      } catch (e) {
        expect(isBackupError(e)).toBe(true);
        outcomes.failedLoads++;
      }
    }
    proxy.decide = () => undefined;
    for (const [key, data] of stored) expect((await collect(direct.load(key))).equals(data)).toBe(true);
    // A failed upload is aborted; only one whose abort requests were themselves faulted can be
    // left, and abortIncomplete (what the next run calls) removes exactly those.
    const faultedAborts = proxy.log.filter((l) => l.request.startsWith('DELETE') && l.request.includes('uploadId=') && l.fault !== undefined).length;
    const left = (await uploadsUnder(prefix)).length;
    expect(left).toBeLessThanOrEqual(faultedAborts);
    expect(await retrying.abortIncomplete!('')).toBe(left);
    expect(await uploadsUnder(prefix)).toEqual([]);
    expect(new Set(injected()).size).toBeGreaterThanOrEqual(5);
    expect(outcomes.saved).toBeGreaterThan(12);
    expect(outcomes.loaded).toBeGreaterThan(6);
  });
});
