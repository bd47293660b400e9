/**
 * Backblaze B2 through its S3-compatible API: the endpoint of a B2 region, and the credentials
 * restic's users already have in their environment.
 *
 * restic reads a B2 key from `B2_ACCOUNT_ID` (the application key's ID) and `B2_ACCOUNT_KEY`;
 * B2's S3 API accepts the same pair as an access key ID and secret. So a user moving from
 * restic keeps their environment, and the AWS variables still win when both are set (an
 * explicit AWS setup is never overridden by a leftover B2 one). Nothing here loads the AWS
 * SDK: parsing a repository URI must stay cheap for users who never touch S3.
 */

/** A static access key pair, as the AWS SDK's `credentials` option accepts it. */
export interface StaticCredentials {
  /** The access key ID (B2: the application key's ID). */
  accessKeyId: string;
  /** The secret (B2: the application key). */
  secretAccessKey: string;
}

/**
 * The B2 key from `B2_ACCOUNT_ID`/`B2_ACCOUNT_KEY` in `env`, when both are set and the AWS
 * variables (`AWS_ACCESS_KEY_ID`, `AWS_PROFILE`) are not; otherwise undefined, and the SDK's
 * default chain (environment, `~/.aws` profiles) applies.
 */
export function b2Credentials(env: NodeJS.ProcessEnv = process.env): StaticCredentials | undefined {
  if (env.AWS_ACCESS_KEY_ID || env.AWS_PROFILE) return undefined;
  const accessKeyId = env.B2_ACCOUNT_ID;
  const secretAccessKey = env.B2_ACCOUNT_KEY;
  if (!accessKeyId || !secretAccessKey) return undefined;
  return { accessKeyId, secretAccessKey };
}

/** The S3-compatible endpoint of the B2 region `region` (`us-west-004` → `https://s3.us-west-004.backblazeb2.com`). */
export function b2Endpoint(region: string): string {
  return `https://s3.${region}.backblazeb2.com`;
}
