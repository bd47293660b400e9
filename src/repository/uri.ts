/**
 * Repository locations as people type them, restic's way (`RESTIC_REPOSITORY`, the restic
 * wrappers' `from_uri`): a path or `file:PATH` for a local directory, `s3:BUCKET/PREFIX` for S3
 * and S3-compatible services, `b2:BUCKET/PREFIX` for Backblaze B2 through its S3-compatible
 * endpoint, `memory:NAME` for tests. Options follow a `?` as `key=value` pairs joined by `&`
 * (`s3:backups/host1?endpoint=http://127.0.0.1:9000&region=eu-west-1&storageClass=GLACIER`);
 * restic's own `s3:https://HOST/BUCKET/PREFIX` form is read too, the host becoming the
 * endpoint. A URI never carries a credential: they come from the environment or `~/.aws`, so
 * they never show in `ps`; a URI with a `user:password@` part is refused.
 */
import { resolve } from 'node:path';
import { BackupError } from '../errors.js';

/** Options a URI may carry after `?`, with the names they have in the API. */
const S3_OPTIONS = ['endpoint', 'region', 'storageClass', 'partSize', 'queueSize', 'forcePathStyle'] as const;

/** Options of an S3 or B2 location, from the URI or the API. */
export interface S3Location {
  /** `s3` or `b2`. */
  scheme: 's3' | 'b2';
  /** The bucket, which must exist. */
  bucket: string;
  /** Keys are stored under `PREFIX/`; empty for the bucket's root. */
  prefix: string;
  /** The service's URL (MinIO, Wasabi, Ceph, R2, moto); default AWS, or B2's endpoint of `region`. */
  endpoint?: string;
  /** The region (B2: the region in its endpoint, e.g. `us-west-004`); default the SDK's, else `us-east-1`. */
  region?: string;
  /**
   * The storage class of data archives (files and deltas), e.g. `GLACIER`, `DEEP_ARCHIVE`,
   * `STANDARD_IA`. States, SigVaults, locks and claims stay in the bucket's default class: a
   * backup reads them, never the data archives.
   */
  storageClass?: string;
  /** Multipart part size in bytes (default 16 MiB). */
  partSize?: number;
  /** Parts of one upload sent at the same time (default 4). */
  queueSize?: number;
  /** Path-style addressing (`http://host/bucket/key`); default on when an endpoint is given. */
  forcePathStyle?: boolean;
}

/** Where a repository lives, once its URI is read. */
export type RepositoryLocation = { scheme: 'local'; path: string } | { scheme: 'memory'; name: string } | S3Location;

/** Read a repository URI; `EPARAM` naming the URI and what is wrong with it. */
export function parseRepositoryUri(uri: string): RepositoryLocation {
  const bad = (why: string): never => {
    throw new BackupError('EPARAM', `repository ${JSON.stringify(uri)}: ${why}`, { path: uri });
  };
  if (uri.trim() === '') bad('empty location');
  const colon = uri.indexOf(':');
  const scheme = colon > 0 && !uri.slice(0, colon).includes('/') ? uri.slice(0, colon) : '';
  if (scheme === '' || scheme === 'file') {
    const path = scheme === '' ? uri : uri.slice(colon + 1).replace(/^\/\/(?=\/)/, '');
    if (path === '') bad('no path');
    return { scheme: 'local', path: resolve(path) };
  }
  const rest = uri.slice(colon + 1);
  if (scheme === 'memory') return { scheme: 'memory', name: rest };
  if (scheme !== 's3' && scheme !== 'b2') bad(`unknown scheme ${JSON.stringify(scheme)} (use a path, file:, s3:, b2: or memory:)`);
  const q = rest.indexOf('?');
  let where = q < 0 ? rest : rest.slice(0, q);
  const location: S3Location = { scheme: scheme as 's3' | 'b2', bucket: '', prefix: '' };
  const restic = /^(https?):\/\/([^/]+)\/(.*)$/.exec(where);
  if (restic) {
    if (restic[2]!.includes('@')) bad('credentials do not belong in a URI (they would show in `ps`): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile');
    location.endpoint = `${restic[1]}://${restic[2]}`;
    where = restic[3]!;
  }
  const [bucket, ...prefix] = where.split('/');
  if (!bucket || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) bad(`${JSON.stringify(bucket ?? '')} is not a bucket name`);
  location.bucket = bucket!;
  location.prefix = prefix.filter((p) => p !== '').join('/');
  if (q >= 0) {
    for (const pair of rest.slice(q + 1).split('&')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      const key = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq));
      const value = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1));
      if (!(S3_OPTIONS as readonly string[]).includes(key)) bad(`unknown option ${JSON.stringify(key)} (known: ${S3_OPTIONS.join(', ')})`);
      if (key === 'partSize' || key === 'queueSize') {
        if (!/^\d+$/.test(value) || Number(value) < 1) bad(`${key} must be a positive whole number, not ${JSON.stringify(value)}`);
        location[key] = Number(value);
      } else if (key === 'forcePathStyle') {
        if (value !== 'true' && value !== 'false') bad(`forcePathStyle must be true or false, not ${JSON.stringify(value)}`);
        location.forcePathStyle = value === 'true';
      } else {
        if (value === '') bad(`${key} needs a value`);
        if (key === 'endpoint' && /^[a-z]+:\/\/[^/]*@/.test(value)) bad('credentials do not belong in a URI (they would show in `ps`)');
        location[key as 'endpoint' | 'region' | 'storageClass'] = value;
      }
    }
  }
  return location;
}

/** A location written back as a URI, for messages: never more than the user gave. */
export function describeLocation(l: RepositoryLocation): string {
  if (l.scheme === 'local') return l.path;
  if (l.scheme === 'memory') return `memory:${l.name}`;
  const endpoint = l.endpoint ? ` at ${l.endpoint}` : '';
  return `${l.scheme}:${l.bucket}${l.prefix ? `/${l.prefix}` : ''}${endpoint}`;
}
