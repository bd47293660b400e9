/**
 * SigVault: a tar archive of librsync signatures, one entry per regular file, named by the
 * file's path. A backup writes one holding the signatures of the files whose content it
 * stored; the next incremental reads back only the entries it needs (the backup state says
 * which vault holds each file's current signature), so a long chain never means scanning
 * every vault. Vaults are never compressed: signatures are hashes, which do not compress.
 * Each entry is a plain `rdiff signature` file, usable with `rdiff delta` by hand.
 *
 * A vault is verified whole before any signature in it is used: a damaged signature can
 * still parse, and a delta made against it would restore wrong bytes.
 */
import { parseSignature, type Signature } from '../rsync/index.js';
import { BackupError } from '../errors.js';
import { readTar, verifyArchive } from './tar-reader.js';
import type { ArchiveSummary } from './tar-writer.js';

/** One signature read back from a vault. */
export interface VaultSignature {
  path: string;
  signature: Signature;
}

/**
 * The signatures of the `wanted` paths found in the vault at `path`, in archive order.
 * Other entries are skipped unread. With `expect`, the whole vault is checked against it
 * before the first signature is handed out. A wanted path the vault lacks is `ECORRUPT`.
 */
export async function* readSignatures(
  path: string,
  wanted: ReadonlySet<string>,
  expect?: ArchiveSummary,
): AsyncGenerator<VaultSignature, void, undefined> {
  if (expect) await verifyArchive(path, expect);
  const seen = new Set<string>();
  for await (const entry of readTar(path, 'none')) {
    if (!wanted.has(entry.name) || seen.has(entry.name)) continue;
    seen.add(entry.name);
    let signature: Signature;
    try {
      signature = await parseSignature(entry.body);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new BackupError('ECORRUPT', `SigVault ${path}: signature of ${JSON.stringify(entry.name)} is unreadable (${why})`, { path, cause: e });
    }
    yield { path: entry.name, signature };
  }
  for (const w of wanted) {
    if (!seen.has(w)) throw new BackupError('ECORRUPT', `SigVault ${path} has no signature for ${JSON.stringify(w)}`, { path });
  }
}
