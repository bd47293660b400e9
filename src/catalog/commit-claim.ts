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
 * A claim outlives its run: one whose child is committed (its state is in storage now, not
 * only when this run listed the name) and intact is what makes the loser lose. One whose
 * child never committed was left by a run that failed between the claim and its state (which
 * removes its claim when it can) or died there; under the name's lock it is removed and the
 * claim made again once its run is provably dead (same host) or the claim is older than
 * {@link CLAIM_STALE_MS} (the time after which a lock is stale too). A child that is
 * committed but damaged does not block either: the next backup chains from the newest intact
 * state, which may be that child's parent.
 */
import { z } from 'zod';
import { BackupError, isBackupError } from '../errors.js';
import { currentProcess, holderIsDead } from '../io/process-liveness.js';
import { artifactFile } from '../state/index.js';
import type { Catalog } from './catalog.js';

/** A claim younger than this, whose child is not committed, may belong to a run still committing. */
export const CLAIM_STALE_MS = 30 * 60 * 1000;

const MAX_CLAIM_BYTES = 4096;

const claimSchema = z.object({
  format: z.literal('ibt-claim'),
  child: z.string().max(64),
  host: z.string().max(255),
  pid: z.int(),
  startTicks: z.int().nonnegative().optional(),
  bootId: z.string().max(64).optional(),
  pidNamespace: z.string().max(64).optional(),
  createdAt: z.iso.datetime(),
});

type Claim = z.infer<typeof claimSchema>;

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
  const { hostname: host, ...me } = await currentProcess();
  const body = new TextEncoder().encode(JSON.stringify({ format: 'ibt-claim', child, host, ...me, createdAt: new Date().toISOString() }));
  for (let round = 0; ; round++) {
    try {
      await storage.save(key, body, { ifNoneMatch: true });
      return;
    } catch (e) {
      if (!isBackupError(e, 'EEXIST') || round > 0) throw conflictOr(e, catalog, parent);
    }
    const claim = await readClaim(catalog, key);
    if (claim?.child === child) return;
    if (claim) await checkClaim(catalog, parent, claim);
    await storage.remove(key);
  }
}

/**
 * Throw `ECONFLICT` unless `claim` on `parent` may be removed: its child is committed (in
 * storage now, whatever this run listed when it started) and intact, or it is not and its run
 * may still be committing (younger than {@link CLAIM_STALE_MS}, and not provably dead).
 */
async function checkClaim(catalog: Catalog, parent: string, claim: Claim): Promise<void> {
  const stored = await catalog.repo.storage.stat(catalog.key(artifactFile(claim.child, 'state', 'none'))).then(
    () => true,
    (e: unknown) => {
      if (catalog.repo.storage.isNotFound(e)) return false;
      throw e;
    },
  );
  if (stored) {
    const intact = await catalog.read(claim.child).then(
      () => true,
      (e: unknown) => !(isBackupError(e) && ['ECORRUPT', 'ETRUNCATED', 'EMISSING', 'ENOTFOUND'].includes(e.code)),
    );
    if (intact) throw conflict(catalog, parent, `backup ${claim.child} was committed on it first`);
    return;
  }
  const created = Date.parse(claim.createdAt);
  const { host, pid, startTicks, bootId, pidNamespace } = claim;
  const holder = { hostname: host, pid, ...(startTicks !== undefined ? { startTicks } : {}), ...(bootId !== undefined ? { bootId } : {}), ...(pidNamespace !== undefined ? { pidNamespace } : {}) };
  if (Date.now() - created < CLAIM_STALE_MS && !(await holderIsDead(holder, created))) {
    throw conflict(catalog, parent, `a run on ${claim.host} (pid ${claim.pid}) is committing backup ${claim.child} on it since ${claim.createdAt}`);
  }
}

/** Remove the claim of `child` on `parent`, if it is still there and still `child`'s: its commit failed. */
export async function releaseClaim(catalog: Catalog, parent: string, child: string): Promise<void> {
  const key = claimKey(catalog.name, parent);
  const claim = await readClaim(catalog, key).catch(() => undefined);
  if (claim?.child === child) await catalog.repo.storage.remove(key).catch(() => undefined);
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
async function readClaim(catalog: Catalog, key: string): Promise<Claim | undefined> {
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
