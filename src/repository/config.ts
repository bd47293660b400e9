/**
 * The repository's config object, `.ibt/config.json`: what marks a location as a repository,
 * its id (which names its local cache), and the format version it was written in.
 *
 * The version is the downgrade guard. A release meeting a repository of a higher version
 * stops with `EFORMAT` before it lists, locks or removes anything: an older release that
 * took a newer layout for its own would see the newer artifacts as leftovers of dead runs and
 * delete them. `.ibt` is not a valid backup name, so the config never sits in a name's folder.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { BackupError, isBackupError } from '../errors.js';
import type { Storage } from '../storage/index.js';

/** The key of the config object. */
export const CONFIG_KEY = '.ibt/config.json';

/** The repository format this release writes and reads. */
export const REPOSITORY_VERSION = 1;

const MAX_CONFIG_BYTES = 64 * 1024;

// Unknown fields are dropped: a field added without a version bump must not block older readers.
const configSchema = z.object({
  format: z.literal('ibt-repository'),
  version: z.int().positive(),
  id: z.string().regex(/^[0-9a-f]{32}$/),
  createdAt: z.iso.datetime(),
});

/** What the config object records. */
export type RepositoryConfig = z.infer<typeof configSchema>;

/** A new config, with a fresh random id. */
export function newConfig(): RepositoryConfig {
  return { format: 'ibt-repository', version: REPOSITORY_VERSION, id: randomBytes(16).toString('hex'), createdAt: new Date().toISOString() };
}

/** Write `config` to `storage`, create only: `EEXIST` when a repository is already there. */
export async function saveConfig(storage: Storage, config: RepositoryConfig): Promise<void> {
  await storage.save(CONFIG_KEY, new TextEncoder().encode(`${JSON.stringify(config, null, 2)}\n`), { ifNoneMatch: true }).catch(async (e: unknown) => {
    if (!isBackupError(e, 'EEXIST')) throw e;
    // A retried save whose first reply was lost finds its own config there.
    const there = await loadConfig(storage).catch(() => undefined);
    if (there?.id !== config.id) throw new BackupError('EEXIST', `a repository already exists at ${storage.location}`, { path: storage.location, cause: e });
  });
}

/**
 * The config of the repository in `storage`: `ENOREPO` when there is none (or what is there is
 * not one), `EFORMAT` when a newer release wrote it.
 */
export async function loadConfig(storage: Storage): Promise<RepositoryConfig> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const c of storage.load(CONFIG_KEY)) {
      size += c.length;
      if (size > MAX_CONFIG_BYTES) throw new BackupError('ENOREPO', `${storage.location} is not a repository: its ${CONFIG_KEY} is larger than a config can be`, { path: storage.location });
      chunks.push(c);
    }
  } catch (e) {
    if (storage.isNotFound(e)) {
      throw new BackupError('ENOREPO', `there is no repository at ${storage.location} (no ${CONFIG_KEY}): create one with \`ibt init --repo ...\` or initRepository()`, { path: storage.location, cause: e });
    }
    throw e;
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new BackupError('ENOREPO', `${storage.location} is not a repository: its ${CONFIG_KEY} is not JSON`, { path: storage.location });
  }
  const version = (json as { version?: unknown } | null)?.version;
  if (typeof version === 'number' && version > REPOSITORY_VERSION) {
    throw new BackupError('EFORMAT', `the repository at ${storage.location} has format version ${version}, newer than this release reads (${REPOSITORY_VERSION}): upgrade incremental-backups-tools; nothing was changed`, { path: storage.location });
  }
  const parsed = configSchema.safeParse(json);
  if (!parsed.success) throw new BackupError('ENOREPO', `${storage.location} is not a repository: its ${CONFIG_KEY} is not valid (${parsed.error.issues[0]?.message ?? 'invalid'})`, { path: storage.location });
  return parsed.data;
}
