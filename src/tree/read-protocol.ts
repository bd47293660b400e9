/**
 * The messages between `batch-reads.ts` and its workers (`read-worker.ts`).
 */
import type { EntryMeta, EntryType } from './dir-state.js';

/** Read these files whole (anchored paths), each at most `maxSize` bytes. */
export interface ReadRequest {
  id: number;
  paths: string[];
  maxSize: number;
  /** The racy margin, in nanoseconds (see `stable-read.ts`). */
  marginNs: bigint;
}

/** What reading one file gave. */
export type ReadResult =
  | { kind: 'ok'; meta: EntryMeta; bytes: Uint8Array; hash: string; changed: boolean; racy: boolean }
  /** Not a regular file any more. */
  | { kind: 'type'; type: Exclude<EntryType, 'file'> | 'socket' | 'fifo' | 'device' }
  /** Larger than `maxSize` now: to be read as a stream. */
  | { kind: 'grown' }
  /** The open (or its fstat) failed: an outcome with a warning, as `openStable` gives. */
  | { kind: 'open'; code: string | undefined; message: string }
  /** Reading failed after the open: an I/O error. */
  | { kind: 'read'; code: string | undefined; message: string };

/** The results of a request, in its order. */
export interface ReadReply {
  id: number;
  results: ReadResult[];
}
