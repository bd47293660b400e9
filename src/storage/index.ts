/** The storage layer: the {@link Storage} seam, its backends (local directory, memory, S3) and the wrappers. */
export * from './local.js';
export * from './memory.js';
export * from './storage.js';
export * from './wrappers/index.js';
// The S3 backend itself is not re-exported: importing it loads the AWS SDK, which only
// `s3:`/`b2:` repositories need (`repository/` imports it on demand).
export type { S3StorageOptions } from './s3-client.js';
export { b2Credentials, b2Endpoint, type StaticCredentials } from './b2.js';
