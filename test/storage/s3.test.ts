/**
 * The S3 backend against a real S3 server (moto): the conformance suite, then what only S3
 * has — multipart uploads and their clean-up, cold storage classes and thawing, refused
 * credentials and missing buckets reported as such.
 */
import {
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BackupError } from '../../src/errors.js';
import { b2Credentials, b2Endpoint } from '../../src/storage/b2.js';
import { S3Storage, type S3StorageOptions } from '../../src/storage/s3.js';
import { listKeys } from '../../src/storage/storage.js';
import { RetryingStorage, type RetryEvent } from '../../src/storage/wrappers/retry.js';
import { storageConformance } from '../../src/testing/index.js';
import { Prng } from '../helpers/data.js';
import { failure } from '../helpers/failure.js';
import { createBucket, enableMotoAuth, MOTO_CREDENTIALS, motoClient, requireMoto, startMoto, useMoto, type MotoServer } from '../helpers/moto.js';
import { collect, inChunks } from '../helpers/streams.js';

const MiB = 1024 * 1024;
const BUCKET = 'ibt-test';
const moto = requireMoto();

describe.skipIf(moto.skip)(`S3Storage on moto${moto.note}`, () => {
  const server = useMoto(BUCKET);
  let sdk: S3Client;
  let n = 0;
  const opened: S3Storage[] = [];

  beforeAll(() => {
    sdk = motoClient(server.endpoint);
  });
  afterAll(() => {
    for (const s of opened) s.close();
    sdk?.destroy();
  });

  /** A storage in a fresh, empty prefix of the test bucket. */
  const open = (options: Partial<S3StorageOptions> = {}): S3Storage => server.storage(`repo-${++n}`, options);
  const uploadsUnder = async (prefix: string) =>
    (await sdk.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: prefix }))).Uploads ?? [];

  // moto 5.2 answers 500 now and then to concurrent overwrites of one key (a race in its ETag
  // computation: "I/O operation on closed file"), which the conformance suite makes. The
  // repository retries server errors anyway, so the suite runs through the retry wrapper, and
  // every retry it makes must be one of those 500s from moto: anything else still fails it.
  const retried: RetryEvent[] = [];
  afterEach(() => {
    const others = retried.splice(0).filter((r) => !(r.operation === 'save' && (r.error as BackupError).message.includes('HTTP 500')));
    expect(others).toEqual([]);
  });
  storageConformance('S3Storage (moto)', async () => new RetryingStorage(open(), { baseDelayMs: 10, onRetry: (r) => retried.push(r) }), { cold: true });

  describe('multipart uploads', () => {
    const partSize = 5 * MiB;
    const data = new Prng(1).bytes(3 * partSize);

    it('stores an object of three parts, with its hash, and reads ranges across the part boundaries', async () => {
      const s = open({ partSize, queueSize: 2 });
      await s.save('big', () => inChunks(data, [MiB + 7, 333_333]), { hash: '0123456789abcdef' });
      const head = await sdk.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'repo-' + n + '/big' }));
      expect(head.ETag).toMatch(/-3"$/);
      expect(head.Metadata).toEqual({ xxh64: '0123456789abcdef' });
      expect(await s.stat('big')).toEqual({ size: data.length });
      expect((await collect(s.load('big'))).equals(data)).toBe(true);
      for (const [offset, length] of [
        [partSize - 10, 20],
        [2 * partSize - 1, 2],
        [partSize - 1, partSize + 2],
        [3 * partSize - 5, 100],
      ] as const) {
        const got = await collect(s.load('big', { offset, length }));
        expect(got.equals(data.subarray(offset, offset + length))).toBe(true);
      }
      expect(await uploadsUnder(`repo-${n}/`)).toEqual([]);
    });

    it('stores a size-announced object of exactly one part in a single request', async () => {
      const s = open({ partSize });
      await s.save('one', data.subarray(0, partSize), { size: partSize });
      const head = await sdk.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `repo-${n}/one` }));
      expect(head.ETag).not.toMatch(/-\d+"$/);
      expect(await s.stat('one')).toEqual({ size: partSize });
    });

    it('aborts the upload when the source fails after two parts: the save fails naming the key, nothing is left', async () => {
      const s = open({ partSize, queueSize: 2 });
      await s.save('k', new Uint8Array([1, 2, 3]));
      const boom = new Error('the source broke');
      const e = await failure(
        s.save('k', async function* () {
          yield data.subarray(0, 2 * partSize + 1);
          throw boom;
        }),
      );
      expect(e.code).toBe('EIO');
      expect(e.message).toContain(`k in s3:${BUCKET}/repo-${n}`);
      expect(e.cause).toBe(boom);
      expect(s.isTransient(e)).toBe(false);
      expect(await uploadsUnder(`repo-${n}/`)).toEqual([]);
      expect([...(await collect(s.load('k')))]).toEqual([1, 2, 3]);
    });

    it('refuses a source that gives more bytes than announced, and leaves no upload', async () => {
      const s = open({ partSize });
      const e = await failure(s.save('k', () => inChunks(data, [MiB]), { size: 2 * partSize }));
      expect(e.code).toBe('EIO');
      expect(e.message).toContain(`the source gave ${data.length} bytes where ${2 * partSize} were announced`);
      expect(await uploadsUnder(`repo-${n}/`)).toEqual([]);
      expect(s.isNotFound(await s.stat('k').catch((x: unknown) => x))).toBe(true);
    });

    it('creates only: a multipart save over an existing key fails with EEXIST, leaving the object and no upload', async () => {
      const s = open({ partSize });
      await s.save('k', new Uint8Array([7]), { ifNoneMatch: true });
      const e = await failure(s.save('k', data, { ifNoneMatch: true }));
      expect(e.code).toBe('EEXIST');
      expect([...(await collect(s.load('k')))]).toEqual([7]);
      expect(await uploadsUnder(`repo-${n}/`)).toEqual([]);
    });

    it('stops on abort: the save fails with EABORTED and the upload is aborted', async () => {
      const s = open({ partSize, queueSize: 2 });
      const stop = new AbortController();
      const prefix = `repo-${n}/`;
      const saving = s.save(
        'k',
        async function* () {
          yield data.subarray(0, 2 * partSize + 1);
          await new Promise((resolve) => stop.signal.addEventListener('abort', resolve));
        },
        { signal: stop.signal },
      );
      // Abort once both parts are on the server, so the client knows the upload's id.
      for (;;) {
        const [upload] = await uploadsUnder(prefix);
        const parts = upload && (await sdk.send(new ListPartsCommand({ Bucket: BUCKET, Key: upload.Key, UploadId: upload.UploadId }))).Parts;
        if (parts?.length === 2) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      stop.abort();
      expect((await failure(saving)).code).toBe('EABORTED');
      expect(await uploadsUnder(prefix)).toEqual([]);
      expect(s.isNotFound(await s.stat('k').catch((x: unknown) => x))).toBe(true);
    });

    it('abortIncomplete aborts the unfinished uploads under its prefix and no others', async () => {
      const s = open();
      const other = open();
      const left = async (storage: string, key: string) => {
        const { UploadId } = await sdk.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: `${storage}/${key}` }));
        await sdk.send(new UploadPartCommand({ Bucket: BUCKET, Key: `${storage}/${key}`, UploadId, PartNumber: 1, Body: data.subarray(0, 1000) }));
      };
      await left(`repo-${n - 1}`, 'name/data.tar');
      await left(`repo-${n}`, 'name/data.tar');
      expect(await s.abortIncomplete('name/')).toBe(1);
      expect(await uploadsUnder(`repo-${n - 1}/`)).toEqual([]);
      expect(await uploadsUnder(`repo-${n}/`)).toHaveLength(1);
      expect(await s.abortIncomplete('')).toBe(0);
      expect(await other.abortIncomplete('')).toBe(1);
    });
  });

  describe('storage classes', () => {
    it('puts an object in the class asked for', async () => {
      const s = open();
      await s.save('ia', new Uint8Array([1]), { storageClass: 'STANDARD_IA' });
      expect(await s.stat('ia')).toEqual({ size: 1, storageClass: 'STANDARD_IA' });
    });

    for (const storageClass of ['GLACIER', 'DEEP_ARCHIVE']) {
      it(`${storageClass}: archived until thawed, a load is ETHAWING naming the key, then it reads`, async () => {
        const s = open();
        await s.save('name/data.tar', new Uint8Array([4, 5, 6]), { storageClass });
        expect(await s.stat('name/data.tar')).toEqual({ size: 3, storageClass, availability: 'archived' });
        const e = await failure(collect(s.load('name/data.tar', { offset: 1 })));
        expect(e.code).toBe('ETHAWING');
        expect(e.message).toContain(`name/data.tar in s3:${BUCKET}/repo-${n}`);
        expect(s.isNotFound(e) || s.isTransient(e)).toBe(false);
        await s.thaw('name/data.tar', { days: 1, tier: 'Bulk' });
        await s.thaw('name/data.tar', { days: 1, tier: 'Bulk' });
        expect(await s.stat('name/data.tar')).toEqual({ size: 3, storageClass, availability: 'ready' });
        expect([...(await collect(s.load('name/data.tar')))]).toEqual([4, 5, 6]);
      });
    }

    it('thawing an object in a hot class does nothing; thawing a missing one is a not-found', async () => {
      const s = open();
      await s.save('hot', new Uint8Array([1]));
      await s.thaw('hot', { days: 1, tier: 'Standard' });
      const e = await failure(s.thaw('missing', { days: 1, tier: 'Standard' }));
      expect(s.isNotFound(e)).toBe(true);
    });
  });

  describe('errors name the repository', () => {
    it('a missing key is EMISSING naming key and repository, for load and stat; remove is fine', async () => {
      const s = open();
      for (const e of [await failure(collect(s.load('a/b'))), await failure(s.stat('a/b'))]) {
        expect(e.code).toBe('EMISSING');
        expect(e.message).toContain(`a/b in s3:${BUCKET}/repo-${n}`);
        expect(s.isNotFound(e)).toBe(true);
        expect(s.isNotFound(new BackupError('EIO', 'wrapped', { cause: e }))).toBe(true);
        expect(s.isTransient(e)).toBe(false);
      }
      await s.remove('a/b');
    });

    it('a missing bucket is ENOREPO for every operation, never a not-found', async () => {
      const s = new S3Storage({ bucket: 'no-such-bucket', prefix: 'p', endpoint: server.endpoint, credentials: MOTO_CREDENTIALS });
      opened.push(s);
      const errors = [
        await failure(s.stat('k')),
        await failure(collect(s.load('k'))),
        await failure(listKeys(s, '')),
        await failure(s.save('k', new Uint8Array([1]))),
        await failure(s.remove('k')),
        await failure(s.abortIncomplete('')),
      ];
      for (const e of errors) {
        expect(e.code).toBe('ENOREPO');
        expect(e.message).toContain('repository s3:no-such-bucket/p');
        expect(s.isNotFound(e)).toBe(false);
        expect(s.isTransient(e)).toBe(false);
      }
    });

    it('missing credentials (an empty default chain) are EAUTH naming the repository', async () => {
      const saved = { ...process.env };
      for (const k of Object.keys(process.env)) if (k.startsWith('AWS_') || k.startsWith('B2_')) delete process.env[k];
      Object.assign(process.env, { AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/ibt', AWS_CONFIG_FILE: '/nonexistent/ibt', AWS_EC2_METADATA_DISABLED: 'true' });
      try {
        const s = new S3Storage({ bucket: BUCKET, prefix: 'p', endpoint: server.endpoint, region: 'us-east-1' });
        opened.push(s);
        const e = await failure(s.stat('k'));
        expect(e.code).toBe('EAUTH');
        expect(e.message).toMatch(new RegExp(`^repository s3:${BUCKET}/p refused the credentials \\(CredentialsProviderError\\)`));
      } finally {
        for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
        Object.assign(process.env, saved);
      }
    });

    it('rejects bad options with EPARAM', () => {
      expect(() => new S3Storage({ bucket: '' })).toThrow(expect.objectContaining({ code: 'EPARAM' }));
      expect(() => new S3Storage({ bucket: 'b', partSize: MiB })).toThrow(expect.objectContaining({ code: 'EPARAM' }));
      expect(() => new S3Storage({ bucket: 'b', queueSize: 0 })).toThrow(expect.objectContaining({ code: 'EPARAM' }));
      expect(() => new S3Storage({ bucket: 'b', prefix: 'a/../b' })).toThrow(expect.objectContaining({ code: 'EPARAM' }));
      expect(new S3Storage({ bucket: 'b', prefix: '/a/b/' }).location).toBe('s3:b/a/b');
    });
  });
});

// moto checks credentials for the whole server once told to, so this suite has a server of its own.
describe.skipIf(moto.skip)(`S3Storage with credentials checked (moto's IAM)${moto.note}`, () => {
  let server: MotoServer;
  let good: { accessKeyId: string; secretAccessKey: string };
  const opened: S3Storage[] = [];

  beforeAll(async () => {
    server = await startMoto();
    await createBucket(server.endpoint, BUCKET);
    good = await enableMotoAuth(server.endpoint);
  });
  afterAll(async () => {
    for (const s of opened) s.close();
    await server?.stop();
  });

  const open = (credentials: { accessKeyId: string; secretAccessKey: string }) => {
    const s = new S3Storage({ bucket: BUCKET, prefix: 'repo', endpoint: server.endpoint, credentials });
    opened.push(s);
    return s;
  };

  it('works with the right key', async () => {
    const s = open(good);
    await s.save('k', new Uint8Array([1]));
    expect(await s.stat('k')).toEqual({ size: 1 });
  });

  for (const [what, code, key] of [
    ['an unknown access key', 'InvalidAccessKeyId', () => ({ accessKeyId: 'AKIAUNKNOWNKEY000000', secretAccessKey: 'x' })],
    ['a wrong secret', 'SignatureDoesNotMatch', () => ({ ...good, secretAccessKey: 'wrong' })],
  ] as const) {
    it(`${what} is EAUTH naming the repository and S3's code, for every operation`, async () => {
      const s = open(key());
      const errors = [
        await failure(collect(s.load('k'))),
        await failure(s.stat('k')),
        await failure(listKeys(s, '')),
        await failure(s.save('k', new Uint8Array([2]))),
        await failure(s.remove('k')),
      ];
      for (const e of errors) {
        expect(e.code).toBe('EAUTH');
        expect(e.message).toMatch(new RegExp(`^repository s3:${BUCKET}/repo refused the credentials \\((${code}|HTTP 403)\\)`));
        expect(s.isTransient(e) || s.isNotFound(e)).toBe(false);
      }
      expect(errors[0]!.message).toContain(`(${code})`);
      expect(await open(good).stat('k')).toEqual({ size: 1 });
    });
  }
});

describe('Backblaze B2 settings', () => {
  it("takes restic's B2 variables when no AWS ones are set, and never over them", () => {
    const b2 = { B2_ACCOUNT_ID: '0045abc', B2_ACCOUNT_KEY: 'K004secret' };
    expect(b2Credentials(b2)).toEqual({ accessKeyId: '0045abc', secretAccessKey: 'K004secret' });
    expect(b2Credentials({ ...b2, AWS_ACCESS_KEY_ID: 'AKIA' })).toBeUndefined();
    expect(b2Credentials({ ...b2, AWS_PROFILE: 'backup' })).toBeUndefined();
    expect(b2Credentials({ B2_ACCOUNT_ID: '0045abc' })).toBeUndefined();
    expect(b2Credentials({})).toBeUndefined();
    expect(b2Endpoint('us-west-004')).toBe('https://s3.us-west-004.backblazeb2.com');
  });
});
