/**
 * Repository URIs as restic users type them: each form read into its location, and every
 * malformed one refused with `EPARAM` naming the URI and what is wrong.
 */
import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { describeLocation, parseRepositoryUri } from '../../src/repository/index.js';
import { BackupError } from '../../src/errors.js';

describe('parseRepositoryUri', () => {
  it('reads paths, file:, memory:, s3: and b2:, with options', () => {
    expect(parseRepositoryUri('/srv/backups')).toEqual({ scheme: 'local', path: '/srv/backups' });
    expect(parseRepositoryUri('relative/dir')).toEqual({ scheme: 'local', path: resolve('relative/dir') });
    expect(parseRepositoryUri('file:/srv/b')).toEqual({ scheme: 'local', path: '/srv/b' });
    expect(parseRepositoryUri('file:///srv/b')).toEqual({ scheme: 'local', path: '/srv/b' });
    expect(parseRepositoryUri('memory:t1')).toEqual({ scheme: 'memory', name: 't1' });
    expect(parseRepositoryUri('s3:my-bucket/hosts/web1')).toEqual({ scheme: 's3', bucket: 'my-bucket', prefix: 'hosts/web1' });
    expect(parseRepositoryUri('s3:my-bucket')).toEqual({ scheme: 's3', bucket: 'my-bucket', prefix: '' });
    expect(parseRepositoryUri('s3:my-bucket/p?endpoint=http://127.0.0.1:9000&region=eu-west-1&storageClass=GLACIER&partSize=8388608&queueSize=2&forcePathStyle=true')).toEqual({
      scheme: 's3',
      bucket: 'my-bucket',
      prefix: 'p',
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-1',
      storageClass: 'GLACIER',
      partSize: 8388608,
      queueSize: 2,
      forcePathStyle: true,
    });
    expect(parseRepositoryUri('b2:bk1/x?region=us-west-004')).toEqual({ scheme: 'b2', bucket: 'bk1', prefix: 'x', region: 'us-west-004' });
  });

  it("reads restic's s3:https://HOST/BUCKET/PREFIX form, the host becoming the endpoint", () => {
    expect(parseRepositoryUri('s3:http://127.0.0.1:9000/bucket/a/b')).toEqual({ scheme: 's3', bucket: 'bucket', prefix: 'a/b', endpoint: 'http://127.0.0.1:9000' });
  });

  it.each([
    ['', 'empty'],
    ['ftp:host/x', 'unknown scheme'],
    ['s3:', 'not a bucket name'],
    ['s3:UPPER/x', 'not a bucket name'],
    ['s3:b1x/p?colour=red', 'unknown option'],
    ['s3:b1x/p?partSize=0', 'positive whole number'],
    ['s3:b1x/p?forcePathStyle=yes', 'true or false'],
    ['s3:b1x/p?region=', 'needs a value'],
    ['s3:http://key:secret@127.0.0.1:9000/bucket', 'credentials do not belong'],
    ['s3:b1x/p?endpoint=http://key:secret@host', 'credentials do not belong'],
  ])('refuses %j (%s) with EPARAM naming it', (uri, why) => {
    let error: unknown;
    try {
      parseRepositoryUri(uri);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BackupError);
    expect((error as BackupError).code).toBe('EPARAM');
    expect((error as BackupError).message).toContain(why);
    expect((error as BackupError).message).toContain(JSON.stringify(uri));
  });

  it('describes a location without anything the user did not give', () => {
    expect(describeLocation(parseRepositoryUri('s3:bk1/p?endpoint=http://h:1'))).toBe('s3:bk1/p at http://h:1');
    expect(describeLocation(parseRepositoryUri('memory:x'))).toBe('memory:x');
  });
});
