/**
 * The backup state, schema version 3: one zod schema that every state is checked against
 * when it is read (and before it is written), and the types inferred from it.
 *
 * A state is the authoritative record of one backup: the tree it saw, how to rebuild each
 * file from the chain's archives, and the chain itself. A restore plans from it alone, so a
 * hostile or damaged field must be refused before anything is written rather than surface
 * as a TypeError halfway through. Every field has a type, a range and a format here; the
 * objects are strict, so an unknown field is refused too (a newer writer bumps the version).
 * What one field cannot say alone (ids of the chain, sort order, parents) is checked by
 * `invariants.ts` after this schema passes.
 *
 * Version 2 adds, over version 1: `parent` as `{ id, digest }` (the parent's state digest, so
 * a swapped parent is detected), `ctime` and `ino` of files (change detection), and `steps`
 * (the size and hash of each intermediate version, which a restore enforces while it writes).
 * Version 3 has the same fields; it is the version of the compressed, line-structured state
 * file (`state-layout.ts`), whose fields come in this schema's order, `stats` now last (so
 * that a writer can record its own size there once the entries are compressed). Version-2
 * files (plain JSON, any field order) are still read.
 *
 * The formats of entry fields are exported for `entry-check.ts`, which checks an entry the way
 * this schema does, only faster; a test holds the two to the same answer.
 */
import { z } from 'zod';
import { COMPRESSIONS, type Compression } from '../archive/codec.js';

/** The `format` field of every state. */
export const STATE_FORMAT = 'incremental-backups-tools/state';
/** The schema version this release writes (and reads, with version 2). */
export const STATE_VERSION = 3;
/** The older schema version this release still reads (plain JSON files). */
export const STATE_VERSION_PLAIN = 2;

/** A backup id, as a field holds it (whether it names a real instant is checked with the chain). */
export const ID_PATTERN = /^\d{8}T\d{9}Z-\d{3}$/;
/** An xxHash64: 16 lowercase hex digits. */
export const HEX16 = /^[0-9a-f]{16}$/;
/** Nanoseconds since the epoch as a decimal string: a signed 64-bit value's digits. */
export const NS = /^-?(?:0|[1-9]\d{0,18})$/;
/** An inode number as a decimal string: an unsigned 64-bit value's digits. */
export const INODE = /^(?:0|[1-9]\d{0,19})$/;
/** The largest user or group id. */
export const UINT32_MAX = 2 ** 32 - 1;

/** A string matching `pattern`, with one message for every way it can fail. */
function patterned(pattern: RegExp, error: string) {
  return z.string({ error }).regex(pattern, { error });
}

/** A safe integer in `[min, max]`, with one message for every way it can fail. */
function integer(min: number, max: number, error: string) {
  return z.int({ error }).min(min, { error }).max(max, { error });
}

// The id's calendar (no 13th month) is checked with the chain: `createdAt` must equal the
// instant it names, and `artifactFile` refuses an id that names none.
const backupId = patterned(ID_PATTERN, 'expected a backup id (YYYYMMDDTHHMMSSmmmZ-NNN)');
const hex16 = patterned(HEX16, 'expected 16 lowercase hex digits');
const count = integer(0, Number.MAX_SAFE_INTEGER, 'expected a non-negative safe integer');
const nanoseconds = patterned(NS, 'expected a decimal string of nanoseconds');
const kind = z.enum(['full', 'incremental'], { error: 'expected "full" or "incremental"' });
const compression = z.enum(COMPRESSIONS as readonly [Compression, ...Compression[]], {
  error: `expected ${COMPRESSIONS.slice(0, -1).map((c) => JSON.stringify(c)).join(', ')} or ${JSON.stringify(COMPRESSIONS.at(-1))}`,
});
const text = z.string({ error: 'expected a string' });
const isoTime = z.string({ error: 'expected an ISO-8601 time string' });

const backupName = z
  .string({ error: 'expected a backup name' })
  .refine((s) => s !== '' && s !== '.' && s !== '..' && !/[/\0]/.test(s), { error: 'expected a backup name: not empty, ".", or "..", and without "/" or NUL' });

/** One archive of a backup, as the chain records it. */
export const artifactSummarySchema = z.strictObject({
  /** What the archive holds: signatures, files stored whole, or deltas. */
  role: z.enum(['sigvault', 'files', 'deltas'], { error: 'expected "sigvault", "files" or "deltas"' }),
  /** Its base name in the backup name's folder: always `artifactFile(link.id, role, compression)`. */
  file: z.string({ error: 'expected a file name' }),
  /** Its size in bytes. */
  size: count,
  /** xxHash64 of its bytes, 16 lowercase hex digits. */
  hash: hex16,
  /** How it is compressed (a SigVault never is). */
  compression,
  /** The number of archive entries it holds. */
  entries: count,
});

/** One backup of a chain: the full backup first, then each incremental. */
export const chainLinkSchema = z.strictObject({
  /** The backup's id. */
  id: backupId,
  /** `full` for the first link, `incremental` for every later one. */
  kind,
  /** The time in its id, as ISO-8601 (`idDate(id).toISOString()`). */
  createdAt: isoTime,
  /** The archives it wrote; an archive that would hold no entry is not written, so not listed. */
  artifacts: z.array(artifactSummarySchema, { error: 'expected an array of artifacts' }),
});

/** The parent of an incremental backup, pinned by the digest of its state. */
export const parentLinkSchema = z.strictObject(
  {
    /** The parent backup's id (the chain's second to last link). */
    id: backupId,
    /** The `digest` field of the parent's state file, so a replaced parent is detected. */
    digest: hex16,
  },
  { error: 'expected null (a full backup) or { id, digest } (an incremental)' },
);

/** The counters of a backup, as its report gave them. */
export const backupStatsSchema = z.strictObject({
  /** Entries walked and selected. */
  scanned: count,
  /** Entries new since the parent. */
  created: count,
  /** Entries whose content or metadata changed. */
  modified: count,
  /** Entries of the parent that are gone. */
  deleted: count,
  /** Entries the same as in the parent. */
  unchanged: count,
  /** Files stored whole. */
  storedWhole: count,
  /** Files stored as deltas. */
  storedDelta: count,
  /** Bytes read from the source. */
  bytesRead: count,
  /** Bytes of all artifacts written, the state file included. */
  bytesWritten: count,
  /** How long the backup took, in milliseconds. */
  durationMs: count,
});

/** A recoverable problem the backup reported and went on. */
export const stateWarningSchema = z.strictObject({
  /** The warning code (`ECHANGED`, `EUNREADABLE`, …); kept as a string so codes can be added. */
  code: text,
  /** The entry concerned, relative to the source root. */
  path: text,
  /** What happened, for people. */
  message: text,
});

/** The size and hash of one version of a file that a later delta replaces. */
export const fileStepSchema = z.strictObject({
  /** Its size in bytes. */
  size: count,
  /** xxHash64 of its bytes, 16 lowercase hex digits. */
  hash: hex16,
});

const entryPath = z.string({ error: 'expected a relative path' });

const entryMeta = {
  /** Permission bits (`mode & 0o7777`). */
  mode: integer(0, 0o7777, 'expected permission bits, an integer from 0 to 0o7777'),
  /** Owner user id. */
  uid: integer(0, UINT32_MAX, `expected a user id, an integer from 0 to ${UINT32_MAX}`),
  /** Owner group id. */
  gid: integer(0, UINT32_MAX, `expected a group id, an integer from 0 to ${UINT32_MAX}`),
  /** Modification time in nanoseconds since the epoch, as a decimal string (exact, unlike a JSON number). */
  mtime: nanoseconds,
};

const noSize = z.literal(0, { error: 'expected 0 (only files have a size)' });

/** A directory. */
export const dirEntrySchema = z.strictObject({
  /** Relative posix path from the source root (`dir/file.txt`); never empty, absolute, `.` or `..`. */
  path: entryPath,
  /** The entry's kind. */
  type: z.literal('dir'),
  ...entryMeta,
  /** Always 0. */
  size: noSize,
});

/** A symbolic link, stored and restored as a link, never followed. */
export const symlinkEntrySchema = z.strictObject({
  /** Relative posix path from the source root (`dir/file.txt`); never empty, absolute, `.` or `..`. */
  path: entryPath,
  /** The entry's kind. */
  type: z.literal('symlink'),
  ...entryMeta,
  /** Always 0. */
  size: noSize,
  /** The link's target, verbatim. */
  target: z
    .string({ error: 'expected a symlink target' })
    .refine((s) => s !== '' && !s.includes('\0'), { error: 'expected a symlink target: not empty, without NUL' }),
});

/** A regular file and how to rebuild its content from the chain. */
export const fileEntrySchema = z.strictObject({
  /** Relative posix path from the source root (`dir/file.txt`); never empty, absolute, `.` or `..`. */
  path: entryPath,
  /** The entry's kind. */
  type: z.literal('file'),
  ...entryMeta,
  /** Size in bytes of the stored content. */
  size: count,
  /** Inode change time in nanoseconds since the epoch, as a decimal string (change detection). */
  ctime: nanoseconds,
  /** Inode number, as a decimal string (change detection: a replaced file gets a new one). */
  ino: patterned(INODE, 'expected an inode number as a decimal string'),
  /** xxHash64 of the stored content, 16 lowercase hex digits. */
  hash: hex16,
  /**
   * Backup ids to replay, oldest first: the first one's files archive holds the file whole,
   * each later one's deltas archive a delta against the version before.
   */
  content: z.array(backupId, { error: 'expected an array of backup ids' }).min(1, { error: 'expected at least one backup id' }),
  /**
   * Present exactly when `content` has more than one id: the size and hash of each version
   * before the current one, oldest first (the file as `content[0]`'s files archive holds it,
   * then after each delta but the last), so a restore can check every intermediate version.
   */
  steps: z.array(fileStepSchema, { error: 'expected an array of { size, hash }' }).optional(),
  /** The backup whose SigVault holds the current version's signature (absent for files too small for deltas). */
  sig: backupId.optional(),
  /** The file changed while it was read: what was stored is exactly what `size` and `hash` describe. */
  unstable: z.literal(true, { error: 'expected true, or no field' }).optional(),
});

/** One entry of the tree, by kind. */
export const stateEntrySchema = z.discriminatedUnion('type', [fileEntrySchema, dirEntrySchema, symlinkEntrySchema], {
  // Typed as a union issue only, but an entry that is not an object at all raises invalid_type.
  error: (issue) => ((issue.code as string) === 'invalid_type' ? 'expected an entry object' : 'expected "file", "dir" or "symlink"'),
});

/** A backup state document (without its `digest`, which the state file adds and checks). */
export const backupStateSchema = z.strictObject({
  /** Always `incremental-backups-tools/state`. */
  format: z.literal(STATE_FORMAT, { error: `expected "${STATE_FORMAT}"` }),
  /** The schema version: 3, or 2 in a state file of an older release. */
  version: z.literal([STATE_VERSION_PLAIN, STATE_VERSION], { error: `expected ${STATE_VERSION} or ${STATE_VERSION_PLAIN}` }),
  /** The backup name (its folder in the work directory). */
  name: backupName,
  /** This backup's id. */
  id: backupId,
  /** `full`, or `incremental` on top of `parent`. */
  kind,
  /** `null` for a full backup; the previous backup of the chain for an incremental. */
  parent: parentLinkSchema.nullable(),
  /** The time in the id, as ISO-8601 (`idDate(id).toISOString()`). */
  createdAt: isoTime,
  /** The source directory, as given to the backup. */
  source: text,
  /** How this backup's files and deltas archives are compressed. */
  compression,
  /** Whether change detection compared content hashes. */
  checksum: z.boolean({ error: 'expected true or false' }),
  /** Every backup a restore of this one needs: the full backup first, this one last. */
  chain: z.array(chainLinkSchema, { error: 'expected an array of backups' }),
  /** The warnings the backup reported. */
  warnings: z.array(stateWarningSchema, { error: 'expected an array of warnings' }),
  /** The tree, sorted by path in code-unit order, each path once, every parent directory listed. */
  entries: z.array(stateEntrySchema, { error: 'expected an array of entries' }),
  /** The backup's counters (last: they include the size of the state file itself). */
  stats: backupStatsSchema,
});

/** A backup state document. */
export type BackupState = z.infer<typeof backupStateSchema>;
/** One backup of a chain, with its archives. */
export type ChainLink = z.infer<typeof chainLinkSchema>;
/** The parent of an incremental backup. */
export type ParentLink = z.infer<typeof parentLinkSchema>;
/** One archive of a backup. */
export type ArtifactSummary = z.infer<typeof artifactSummarySchema>;
/** One entry of the tree a backup recorded. */
export type StateEntry = z.infer<typeof stateEntrySchema>;
/** A regular file entry. */
export type FileEntry = z.infer<typeof fileEntrySchema>;
/** A directory entry. */
export type DirEntry = z.infer<typeof dirEntrySchema>;
/** A symbolic link entry. */
export type SymlinkEntry = z.infer<typeof symlinkEntrySchema>;
/** The size and hash of an intermediate version of a file. */
export type FileStep = z.infer<typeof fileStepSchema>;
/** The counters of a backup. */
export type BackupStats = z.infer<typeof backupStatsSchema>;
/** A warning a backup recorded. */
export type StateWarning = z.infer<typeof stateWarningSchema>;
