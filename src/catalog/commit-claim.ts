/**
 * Conditional commits: two runs that both made a backup on top of the same parent of one
 * name can never both commit it.
 *
 * The name's lock already keeps two runs apart; this is what still holds when the lock did
 * not (a lock removed by hand with `ibt unlock` while its run went on, a storage whose
 * listing lagged). Before storing its state, an incremental backup creates the claim object
 * `NAME/claims/PARENT.json` with a create-only save (`If-None-Match: *` on S3, an exclusive
 * link on a disk): of two runs, exactly one creates it, and the other gets `ECONFLICT` with
 * nothing lost (its archives are strays that the next run of the name removes; the earlier
 * backups are untouched). A full backup has no parent and claims nothing.
 *
 * A claim outlives its run: one whose child is committed and intact is what makes the
 * loser lose. One whose child never committed was left by a run that died between the claim
 * and its state; under the name's lock, once it is older than {@link CLAIM_STALE_MS} (the
 * time after which a lock is stale too), it is removed and the claim made again. A child
 * that is committed but damaged does not block either: the next backup chains from the
 * newest intact state, which may be that child's parent.
 */
import { hostname } from 'node:os';
import { z } from 'zod';
import { BackupError, isBackupError } from '../errors.js';
import type { Catalog } from './catalog.js';

/** A claim younger than this, whose child is not committed, may belong to a run still committing. */
export const CLAIM_STALE_MS = 30 * 60 * 1000;

const MAX_CLAIM_BYTES = 4096;

const claimSchema = z.object({
  format: z.literal('ibt-claim'),
  child: z.string().max(64),
  host: z.string().max(255),
  pid: z.int(),
  createdAt: z.iso.datetime(),
});

/** The key of the claim on `parent` in the folder of backup name `name`. */
export function claimKey(name: string, parent: string): string {
  return `${name}/claims/${parent}.json`;
}

/**
 * Claim parent `parent` for backup `child` of `catalog`'s name: `ECONFLICT` naming the other
 * backup when another run claimed it first and its claim still stands.
 */
export async function claimParent(catalog: Catalog, parent: string, child: string): Promise<void> {
  const storage = catalog.repo.storage;
  const key = claimKey(catalog.name, parent);
  const body = new TextEncoder().encode(JSON.stringify({ format: 'ibt-claim', child, host: hostname(), pid: process.pid, createdAt: new Date().toISOString() }));
  for (let round = 0; ; round++) {
    try {
      await storage.save(key, body, { ifNoneMatch: true });
      return;
    } catch (e) {
      if (!isBackupError(e, 'EEXIST') || round > 0) throw conflictOr(e, catalog, parent);
    }
    const claim = await readClaim(catalog, key);
    if (claim?.child === child) return;
    if (claim && catalog.backupIds.includes(claim.child)) {
      const intact = await catalog.read(claim.child).then(
        () => true,
        (e: unknown) => !(isBackupError(e) && ['ECORRUPT', 'ETRUNCATED', 'EMISSING'].includes(e.code)),
      );
      if (intact) throw conflict(catalog, parent, `backup ${claim.child} was committed on it first`);
    } else if (claim && Date.now() - Date.parse(claim.createdAt) < CLAIM_STALE_MS) {
      throw conflict(catalog, parent, `a run on ${claim.host} (pid ${claim.pid}) is committing backup ${claim.child} on it since ${claim.createdAt}`);
    }
    await storage.remove(key);
  }
}

function conflict(catalog: Catalog, parent: string, why: string): BackupError {
  return new BackupError(
    'ECONFLICT',
    `backup name ${JSON.stringify(catalog.name)} in repository ${catalog.repo.location}: parent ${parent} is taken: ${why}. This backup was not committed; earlier backups are untouched (run it again)`,
    { path: claimKey(catalog.name, parent) },
  );
}

/** A second lost race is a conflict too: another run re-claimed the parent in between. */
function conflictOr(e: unknown, catalog: Catalog, parent: string): unknown {
  return isBackupError(e, 'EEXIST') ? conflict(catalog, parent, 'another run claimed it at the same moment') : e;
}

/** The claim at `key`, or undefined when it is gone or not a claim (then it is removed like a stale one). */
async function readClaim(catalog: Catalog, key: string): Promise<z.infer<typeof claimSchema> | undefined> {
  const storage = catalog.repo.storage;
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const c of storage.load(key)) {
      size += c.length;
      if (size > MAX_CLAIM_BYTES) return undefined;
      chunks.push(c);
    }
  } catch (e) {
    if (storage.isNotFound(e)) return undefined;
    throw e;
  }
  try {
    const parsed = claimSchema.safeParse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
