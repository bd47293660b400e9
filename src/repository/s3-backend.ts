/**
 * The S3 and B2 backends as a repository URI names them. A module of its own, imported only
 * when such a URI is opened, so the AWS SDK is never loaded by users who do not use it.
 */
import { BackupError } from '../errors.js';
import { b2Credentials, b2Endpoint } from '../storage/b2.js';
import { S3Storage } from '../storage/s3.js';
import type { Storage } from '../storage/index.js';
import type { S3Location } from './uri.js';

/** The storage of an `s3:` or `b2:` location; `location` is its description for messages. */
export function openS3Storage(l: S3Location, location: string): Storage {
  let endpoint = l.endpoint;
  let credentials;
  if (l.scheme === 'b2') {
    if (endpoint === undefined) {
      if (l.region === undefined) throw new BackupError('EPARAM', `repository ${location}: a b2: repository needs its region (region=us-west-004, say) or an endpoint`, { path: location });
      endpoint = b2Endpoint(l.region);
    }
    credentials = b2Credentials();
  }
  return new S3Storage({
    bucket: l.bucket,
    prefix: l.prefix,
    location,
    ...(endpoint !== undefined ? { endpoint } : {}),
    ...(l.region !== undefined ? { region: l.region } : {}),
    ...(l.forcePathStyle !== undefined ? { forcePathStyle: l.forcePathStyle } : {}),
    ...(l.partSize !== undefined ? { partSize: l.partSize } : {}),
    ...(l.queueSize !== undefined ? { queueSize: l.queueSize } : {}),
    ...(credentials !== undefined ? { credentials } : {}),
  });
}
