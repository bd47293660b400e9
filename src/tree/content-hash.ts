/**
 * Content hashes: xxHash64 of a file's bytes, as 16 hex digits.
 *
 * The hash is for change detection and restore verification, not for security: it must be
 * fast enough to run on every byte a backup reads (xxhash-wasm h64 runs near memory speed).
 * xxhash-wasm copies each input into one shared WASM heap that grows to the largest input
 * and never shrinks, so input is fed in slices of at most 1 MiB whatever the caller passes.
 */
import xxhash from 'xxhash-wasm';

const MAX_FEED = 1 << 20;

type XXHashApi = Awaited<ReturnType<typeof xxhash>>;
let api: Promise<XXHashApi> | undefined;

/** A streaming content hasher. */
export interface ContentHasher {
  /** Feed the next bytes. */
  update(chunk: Uint8Array): void;
  /** The hash of everything fed so far, as 16 lowercase hex digits. */
  digest(): string;
}

/** A new streaming xxHash64 hasher (seed 0). */
export async function createContentHasher(): Promise<ContentHasher> {
  api ??= xxhash();
  const h = (await api).create64();
  return {
    update(chunk: Uint8Array): void {
      for (let at = 0; at < chunk.length; at += MAX_FEED) {
        h.update(at === 0 && chunk.length <= MAX_FEED ? chunk : chunk.subarray(at, at + MAX_FEED));
      }
    },
    digest: () => h.digest().toString(16).padStart(16, '0'),
  };
}

/** The content hash of a byte stream. */
export async function hashChunks(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<string> {
  const h = await createContentHasher();
  for await (const chunk of chunks) h.update(chunk);
  return h.digest();
}
