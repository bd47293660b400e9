/**
 * The messages between the tree layer's main-thread side (`tree-workers.ts`, used by
 * `batch-reads.ts` and `walk.ts` on a backup's source, and by the restore on its target) and
 * its worker threads (`tree-worker.ts`).
 */
import type { SignatureParams } from '../rsync/format.js';
import type { EntryMeta, EntryType } from './dir-state.js';

/** What is not a file, directory or symlink. */
export type OtherType = 'socket' | 'fifo' | 'device';

/** Read these files whole (anchored paths), each at most `maxSize` bytes. */
export interface ReadRequest {
  op: 'read';
  id: number;
  paths: string[];
  /**
   * Per path: the signature to compute as the file is read (header and records, as a
   * SigVault entry holds it), and the size the file must have for it to apply; null for none.
   */
  signs: ({ params: SignatureParams; size: number } | null)[];
  maxSize: number;
  /** The racy margin, in nanoseconds (see `stable-read.ts`). */
  marginNs: bigint;
}

/** lstat these entries (anchored paths), and read the targets of the symlinks among them. */
export interface StatRequest {
  op: 'stat';
  id: number;
  paths: string[];
}

/** One file to write whole: created under `temp`, given its attributes, renamed to `final`. */
export interface WriteFile {
  /** Anchored paths, in the same open directory. */
  temp: string;
  final: string;
  bytes: Uint8Array;
  mode: number;
  /** Owner, set only with `chown` (a restore as root). */
  uid: number;
  gid: number;
  chown: boolean;
  /** Access and modification time, nanoseconds since the epoch. */
  mtimeNs: bigint;
}

/**
 * Write these files, each with the calls a restore makes for a small file (create
 * O_EXCL|O_NOFOLLOW mode 0600, write, fchown, fchmod, futimens, close, rename). `native`
 * as `FileTimesOptions.native`.
 */
export interface WriteRequest {
  op: 'write';
  id: number;
  files: WriteFile[];
  native?: boolean;
}

/** A request to a tree worker. */
export type TreeRequest = ReadRequest | StatRequest | WriteRequest;

/** What reading one file gave. */
export type ReadResult =
  | { kind: 'ok'; meta: EntryMeta; bytes: Uint8Array; hash: string; changed: boolean; racy: boolean; signature?: Uint8Array }
  /** Not a regular file any more. */
  | { kind: 'type'; type: Exclude<EntryType, 'file'> | OtherType }
  /** Larger than `maxSize` now: to be read as a stream. */
  | { kind: 'grown' }
  /** The open (or its fstat) failed: an outcome with a warning, as `openStable` gives. */
  | { kind: 'open'; code: string | undefined; message: string }
  /** Reading failed after the open: an I/O error. */
  | { kind: 'read'; code: string | undefined; message: string };

/** What the lstat (and readlink) of one entry gave. */
export type StatResult =
  /** A file, directory or symlink (with its target): its metadata, identity and link count. */
  | { kind: 'entry'; meta: EntryMeta; dev: bigint; ino: bigint; nlink: bigint }
  | { kind: 'other'; type: OtherType; dev: bigint; ino: bigint }
  /** A symlink whose target could not be read. */
  | { kind: 'link-error'; code: string | undefined; message: string }
  /** The lstat failed. */
  | { kind: 'error'; code: string | undefined; message: string };

/**
 * What writing one file gave: done, or the step that failed, after which nothing of it is
 * left (its temporary file removed) and the caller takes the file over.
 */
export type WriteResult = { ok: true } | { ok: false; step: 'create' | 'write' | 'attributes' | 'rename'; code: string | undefined; message: string };

/** The results of a write request, in its order. */
export interface WriteReply {
  id: number;
  written: WriteResult[];
}

/** The results of a read request, in its order. */
export interface ReadReply {
  id: number;
  results: ReadResult[];
}

/** The results of a stat request, in its order. */
export interface StatReply {
  id: number;
  stats: StatResult[];
}

/** A reply of a tree worker; `error` when the request itself failed (a defect). */
export type TreeReply = ReadReply | StatReply | WriteReply | { id: number; error: string };
