/**
 * The codec registry: each way an archive can be compressed, defined once — its name (in
 * options, on the command line and in the state), its file suffix, how a block of tar bytes
 * is compressed, how an archive is decompressed, and whether this process can do it.
 * Everything else (the state schema's enum, artifact names, the option check) derives from
 * this table, so a codec is added here or nowhere.
 *
 * Every codec compresses the tar stream in independent blocks (the tar writer's 1 MiB), off
 * the main thread, each block decodable alone, so the standard tools read an archive as it
 * is: gzip members (`gzip-members.ts`, which stores random blocks at level 0) and zstd frames
 * (`zstd-binding.ts`, on threads of `codec-workers.ts`; zstd stores incompressible blocks raw
 * by itself, at little cost). zstd comes from an optional native dependency, so it is the
 * default only where it loads; asking for it where it does not is an error when a backup
 * starts, and a zstd archive met where it does not load is an error naming the archive.
 */
import { Duplex } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { BackupError } from '../errors.js';
import { zstdBlock, zstdDecodeOffThread } from './codec-workers.js';
import { gzipMember } from './gzip-members.js';
import { zstdDecoder, zstdSupport, type ZstdSupport } from './zstd-binding.js';

/** How an archive artifact is compressed (a SigVault never is; a state always is, its own way). */
export type Compression = 'none' | 'gzip' | 'zstd';

/** One compression of the registry. */
export interface Codec {
  /** Its name in options, on the command line and in the state. */
  readonly name: Compression;
  /** What an archive's file name ends with after `.tar`. */
  readonly suffix: string;
  /** Why this process cannot use the codec, or undefined when it can. */
  unavailable(): string | undefined;
  /**
   * A block of tar bytes as a unit that decodes alone, compressed off the main thread; the
   * same bytes whenever `block` is. May take over `block`'s buffer (see `codec-workers.ts`).
   */
  compressBlock(block: Uint8Array): Promise<Uint8Array>;
  /** A stream stage from an archive's bytes to tar bytes; undefined when they are tar bytes. `ENATIVE` when unavailable. */
  decoder(): NodeJS.ReadWriteStream | undefined;
}

/** zstd's level: its own default, measured 2.7 times as fast as gzip's level 1 on source text and 30 % smaller. */
export const ZSTD_LEVEL = 3;

const CODECS: { readonly [C in Compression]: Codec } = {
  none: {
    name: 'none',
    suffix: '',
    unavailable: () => undefined,
    compressBlock: (block) => Promise.resolve(block),
    decoder: () => undefined,
  },
  gzip: {
    name: 'gzip',
    suffix: '.gz',
    unavailable: () => undefined,
    compressBlock: gzipMember,
    decoder: () => createGunzip({ chunkSize: 1 << 20 }),
  },
  zstd: {
    name: 'zstd',
    suffix: '.zst',
    unavailable: () => zstdSupport().reason,
    compressBlock: (block) => zstdBlock(zstdSupport(), block, ZSTD_LEVEL),
    decoder: () => zstdStage(zstdSupport()),
  },
};

/** Every compression's name, in registry order. */
export const COMPRESSIONS = Object.keys(CODECS) as readonly Compression[];

/** The codec of `compression`. */
export function codecOf(compression: Compression): Codec {
  return CODECS[compression];
}

/**
 * The compression a backup uses: `requested`, checked, or by default `zstd` where zstd-napi
 * loads and `gzip` elsewhere. `EPARAM` for a name the registry lacks; `ENATIVE`, naming why,
 * for `zstd` where it cannot load. `zstd` is this process's support unless a test gives one.
 */
export function chooseCompression(requested: unknown, zstd: ZstdSupport = zstdSupport()): Compression {
  if (requested === undefined) return zstd.binding ? 'zstd' : 'gzip';
  if (!(COMPRESSIONS as readonly unknown[]).includes(requested)) {
    throw new BackupError('EPARAM', `compression must be ${COMPRESSIONS.slice(0, -1).join(', ')} or ${COMPRESSIONS.at(-1)}, not ${JSON.stringify(requested)}`);
  }
  if (requested === 'zstd' && !zstd.binding) throw new BackupError('ENATIVE', `compression "zstd" cannot be used: ${zstd.reason}; use gzip, or install zstd-napi`);
  return requested as Compression;
}

/**
 * The decoding stage of zstd archives, run on a codec thread where there are threads (a
 * restore's main thread spent 1.9 of its 9.5 s of CPU decoding a 2 GiB tree); `ENATIVE`
 * saying zstd-napi is needed when `zstd` has no binding.
 */
export function zstdStage(zstd: ZstdSupport): NodeJS.ReadWriteStream {
  if (!zstd.binding) throw new BackupError('ENATIVE', `the archive is compressed with zstd, and reading it needs zstd-napi: ${zstd.reason}`);
  return Duplex.from(zstdDecodeOffThread() ?? zstdDecoder(zstd.binding));
}
