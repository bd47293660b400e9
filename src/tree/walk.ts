/**
 * Walking a source tree: every selected entry with its metadata, parents before children,
 * siblings in code-unit order so two walks of the same tree agree.
 *
 * Symlinks are never followed (`lstat`, and a symlink is an entry, not a directory). Entries
 * a backup cannot store (sockets, FIFOs, devices) and directories it cannot read are
 * reported as warnings and skipped, and so are names that are not valid UTF-8 (JSON, and so
 * the state, can only hold Unicode); hard links are reported once per inode and stored as
 * independent files. The walk uses `fs.opendir`, so memory follows the depth of the tree and
 * the width of one directory, not its total size.
 */
import { lstat, opendir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { BigIntStats } from 'node:fs';
import type { WarningCode } from '../errors.js';
import { entryTypeOf, metaOf, type EntryMeta } from './dir-state.js';
import type { Selection } from './selection.js';

/** A recoverable problem met while walking or reading the source. */
export interface TreeWarning {
  /** `ESPECIAL` (socket/FIFO/device skipped), `EBADNAME`, `EHARDLINK`, `EUNREADABLE`, `EVANISHED`, `ECHANGED`. */
  code: WarningCode;
  /** Path relative to the source root. */
  path: string;
  message: string;
}

/** One walked entry. */
export interface WalkEntry {
  /** Posix path relative to the source root. */
  path: string;
  meta: EntryMeta;
}

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Walk `root`, yielding selected entries (the root itself excluded). */
export async function* walkTree(
  root: string,
  selection: Selection,
  warn: (w: TreeWarning) => void,
  signal?: AbortSignal,
): AsyncGenerator<WalkEntry, void, undefined> {
  const seenInodes = new Set<string>();
  const stack: string[] = [''];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    signal?.throwIfAborted();
    const names: string[] = [];
    try {
      const listing = await opendir(join(root, dir), { encoding: 'buffer' as BufferEncoding });
      for await (const d of listing) {
        const raw = d.name as unknown as Buffer;
        const name = raw.toString('utf8');
        if (Buffer.from(name).equals(raw)) names.push(name);
        else warn({ code: 'EBADNAME', path: dir === '' ? name : `${dir}/${name}`, message: 'skipped: the name is not valid UTF-8, which the backup state cannot record' });
      }
    } catch (e) {
      warn({ code: 'EUNREADABLE', path: dir || '.', message: `cannot list directory: ${(e as Error).message}` });
      continue;
    }
    names.sort(byCodeUnit);
    const subdirs: string[] = [];
    for (const name of names) {
      const rel = dir === '' ? name : `${dir}/${name}`;
      let st: BigIntStats;
      try {
        st = await lstat(join(root, rel), { bigint: true });
      } catch (e) {
        warn({ code: 'EVANISHED', path: rel, message: `vanished before it could be read: ${(e as Error).message}` });
        continue;
      }
      const type = entryTypeOf(st);
      if (type === 'socket' || type === 'fifo' || type === 'device') {
        if (selection.keeps(rel, false)) warn({ code: 'ESPECIAL', path: rel, message: `${type} skipped: backups store files, directories and symlinks` });
        continue;
      }
      if (!selection.keeps(rel, type === 'dir')) continue;
      let target: string | undefined;
      if (type === 'symlink') {
        try {
          target = await readlink(join(root, rel));
        } catch (e) {
          warn({ code: 'EVANISHED', path: rel, message: `vanished before it could be read: ${(e as Error).message}` });
          continue;
        }
      }
      if (type === 'file' && st.nlink > 1n) {
        const key = `${st.dev}:${st.ino}`;
        if (!seenInodes.has(key)) {
          seenInodes.add(key);
          warn({ code: 'EHARDLINK', path: rel, message: `has ${st.nlink} hard links; each link is stored and restored as a separate file` });
        }
      }
      yield { path: rel, meta: metaOf(st, type, target) };
      if (type === 'dir') subdirs.push(rel);
    }
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
  }
}
