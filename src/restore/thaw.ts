/**
 * Cold storage, before a restore reads a byte: the archives the chosen point needs, and no
 * others, are checked in storage; those in a cold class (S3 Glacier, Deep Archive) are asked
 * to thaw, all at once, so their hours of waiting overlap. Then the restore either waits,
 * polling, or stops with `ETHAWING` saying what is pending, so that the same call, repeated
 * later, finds them readable and goes on (a thaw already requested is not requested again).
 *
 * A backup never reads a data archive, so data archives can live in a cold class from the
 * start; states and SigVaults stay in a hot class (see `repository/`).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BackupError } from '../errors.js';
import type { Catalog } from '../catalog/index.js';
import type { ArtifactSummary } from '../state/index.js';
import type { ThawOptions as StorageThaw } from '../storage/index.js';

/** How a restore treats archives in a cold storage class. */
export interface ThawPolicy {
  /** Speed and price of the thaw: `Expedited` (minutes), `Standard` (hours, the default) or `Bulk` (the cheapest, up to two days). */
  tier?: StorageThaw['tier'];
  /** Days the thawed copies stay readable; default 2. */
  days?: number;
  /** Wait for the thaw, polling, instead of stopping with `ETHAWING`; default false. */
  wait?: boolean;
  /** With `wait`: the time between polls, in ms; default 60 000. */
  pollMs?: number;
  /** Called after each poll with what is still pending. */
  onPending?: (pending: { artifacts: number; bytes: number }) => void;
}

/** What the thaw step did. */
export interface ThawOutcome {
  /** Bytes of the archives that had to be thawed (0 when none was cold). */
  bytesThawed: number;
}

/**
 * Make every archive of `needed` readable, by `policy`: `ETHAWING` naming how many archives and
 * bytes are pending when it does not wait. Nothing to do without a cache, or where the
 * storage has no cold classes.
 */
export async function thawNeeded(catalog: Catalog, needed: readonly ArtifactSummary[], policy: ThawPolicy = {}, signal?: AbortSignal): Promise<ThawOutcome> {
  const storage = catalog.repo.storage;
  if (catalog.repo.direct) return { bytesThawed: 0 };
  const options: StorageThaw = { tier: policy.tier ?? 'Standard', days: policy.days ?? 2 };
  let cold = await coldOnes(catalog, needed);
  const bytesThawed = cold.reduce((n, c) => n + c.a.size, 0);
  for (const c of cold) {
    if (c.availability !== 'archived') continue;
    if (!storage.thaw) throw new BackupError('EIO', `artifact ${c.a.file} is archived in ${catalog.repo.location}, whose storage cannot thaw it`, { path: catalog.key(c.a.file) });
    await storage.thaw(catalog.key(c.a.file), options);
  }
  while (cold.length > 0) {
    const bytes = cold.reduce((n, c) => n + c.a.size, 0);
    policy.onPending?.({ artifacts: cold.length, bytes });
    if (!policy.wait) {
      throw new BackupError(
        'ETHAWING',
        `${cold.length} archive(s) of backup ${JSON.stringify(catalog.name)} (${bytes} bytes) are in a cold storage class of ${catalog.repo.location}; ` +
          `their thaw (${options.tier} tier) is requested: run the restore again once it is done, or wait for it with the thaw option's wait`,
        { path: catalog.key(cold[0]!.a.file) },
      );
    }
    await sleep(policy.pollMs ?? 60_000, undefined, { signal });
    cold = await coldOnes(catalog, cold.map((c) => c.a));
  }
  return { bytesThawed };
}

/** The archives of `needed` that cannot be read from storage now. */
async function coldOnes(catalog: Catalog, needed: readonly ArtifactSummary[]): Promise<{ a: ArtifactSummary; availability: 'archived' | 'thawing' }[]> {
  const out: { a: ArtifactSummary; availability: 'archived' | 'thawing' }[] = [];
  for (const a of needed) {
    const st = await catalog.repo.storage.stat(catalog.key(a.file)).catch((e: unknown) => {
      if (catalog.repo.storage.isNotFound(e)) return undefined;
      throw e;
    });
    if (st?.availability === 'archived' || st?.availability === 'thawing') out.push({ a, availability: st.availability });
  }
  return out;
}
