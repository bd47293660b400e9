/**
 * Names of temporary files: `.<prefix>.<pid>-<random>.tmp`, beside the file they become.
 *
 * Every file this library writes appears under its real name only when complete (a rename),
 * so a crash leaves temporary files behind and nothing else. Two things follow. First, the
 * name must fit where the real one fits: Linux allows 255 bytes per name, and a temporary
 * name that adds bytes to a long real name would make a legal file impossible to restore, so
 * the prefix is cut (at a character boundary) to keep the whole name within 255 bytes.
 * Second, clean-up must touch only the leftovers of runs that are dead: the writer's pid is in
 * the name, so a later run can ask whether that process still exists before removing it.
 */
import { randomBytes } from 'node:crypto';

/** The longest file name Linux (and every common file system) accepts, in bytes. */
export const NAME_MAX = 255;

const SUFFIX = /^\.(.*)\.(\d+)-[0-9a-f]{12}\.tmp$/s;

/** A fresh temporary name for a file to be renamed to `base` (a single path component). */
export function tempName(base: string): string {
  const tail = `.${process.pid}-${randomBytes(6).toString('hex')}.tmp`;
  return `.${truncateUtf8(base, NAME_MAX - 1 - Buffer.byteLength(tail))}${tail}`;
}

/** The pid that wrote the temporary file `name`, or undefined when `name` is not a temporary name. */
export function tempNameOwner(name: string): number | undefined {
  const m = SUFFIX.exec(name);
  return m ? Number(m[2]) : undefined;
}

/** The longest prefix of `s` that is at most `maxBytes` bytes in UTF-8, cut between characters. */
export function truncateUtf8(s: string, maxBytes: number): string {
  if (Buffer.byteLength(s) <= maxBytes) return s;
  let bytes = 0;
  let end = 0;
  for (const ch of s) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > maxBytes) break;
    bytes += n;
    end += ch.length;
  }
  return s.slice(0, end);
}
