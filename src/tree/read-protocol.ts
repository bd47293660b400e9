/**
 * The messages between `batch-reads.ts` and its workers (`read-worker.ts`).
 */
import type { SignatureParams } from '../rsync/format.js';
import type { EntryMeta, EntryType } from './dir-state.js';

/** Read these files whole (anchored paths), each at most `maxSize` bytes. */
export interface ReadRequest {
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

/** What reading one file gave. */
export type ReadResult =
  | { kind: 'ok'; meta: EntryMeta; bytes: Uint8Array; hash: string; changed: boolean; racy: boolean; signature?: Uint8Array }
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
