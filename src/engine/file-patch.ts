/**
 * Patching from a basis file into an output file, the way `cp` copies: COPY commands are
 * copied inside the kernel (`copy_file_range`, through the addon), so the basis's bytes never
 * pass through JavaScript, and literals are gathered into 1 MiB buffers written at their
 * place in the output (positioned writes). Writes and copies are issued as the delta is read
 * and several are in flight at once, each at its own output offset, so reading the delta,
 * copying and writing overlap.
 *
 * A large COPY is cut into 8 MiB slices, each one call on the libuv thread pool (a few
 * milliseconds): the event loop is never blocked, and a long copy never holds a pool thread,
 * which node's file-system calls share, for long. (One synchronous call per slice would have
 * saved the trips to the pool but stalled the loop for each slice; one call per COPY would
 * hold a pool thread for as long as the COPY takes, a second per few GB.) COPYs under 64 KiB
 * are read through a 1 MiB window of the basis into the literal buffer instead: the many
 * short COPYs of a finely edited file then cost a memory copy each, not a system call each.
 *
 * Without the addon (not built, or the `js` engine asked for), or where the kernel refuses
 * (`EXDEV` between file systems, `ENOSYS`, `EOPNOTSUPP`, `EINVAL`), COPYs are read and written
 * through memory; the first refusal switches the rest of the patch to that path. The bytes are
 * the same either way, and so are the errors: a COPY past the end of the basis is found
 * against the basis's size before anything is issued, in delta order, as the streaming
 * {@link patch} finds it.
 *
 * The output appears under its name only when complete: it is written under a temporary name
 * beside it and renamed (`writeAtomically`, as for every output of the library).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { BackupError, wrapIoError } from '../errors.js';
import { writeAtomically } from '../io/atomic-write.js';
import { loadAddon, type NativeAddon } from '../io/native-addon.js';
import type { ByteSource } from '../rsync/byte-source.js';
import { BasisReader } from '../rsync/basis-reader.js';
import { DeltaReader } from '../rsync/delta-reader.js';
import type { FileJobOptions } from './files.js';
import { selectEngine } from './select.js';

const BUFFER = 1 << 20;
const SLICE = 8 << 20;
const SMALL_COPY = 64 << 10;
/** Writes and copies in flight at once: enough to overlap them, few enough to bound memory. */
const IN_FLIGHT = 4;

/** Errors of `copy_file_range` that mean "not for these two files", not an I/O failure. */
const REFUSALS = new Set(['EXDEV', 'ENOSYS', 'EOPNOTSUPP', 'EINVAL']);

/** Operations in flight: at most {@link IN_FLIGHT}, the first failure kept. */
class InFlight {
  private readonly running = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;

  /** Start tracking `op`; waits while the limit is reached. Throws the first failure. */
  async add(op: Promise<void>): Promise<void> {
    const tracked: Promise<void> = op.then(
      () => {
        this.running.delete(tracked);
      },
      (e: unknown) => {
        this.running.delete(tracked);
        this.failure ??= { error: e };
      },
    );
    this.running.add(tracked);
    while (this.running.size >= IN_FLIGHT) await Promise.race(this.running);
    this.check();
  }

  /** Wait for everything in flight; throws the first failure. */
  async settle(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running);
    this.check();
  }

  private check(): void {
    if (this.failure) throw this.failure.error;
  }
}

/** The files of one patch and where errors name them. */
interface Files {
  basis: FileHandle;
  basisPath: string;
  out: FileHandle;
  outPath: string;
}

/** Writes the new file: literal buffers at their offsets, COPYs in the kernel or through memory. */
class OutputFile {
  private buf: Uint8Array = new Uint8Array(BUFFER);
  private len = 0;
  /** Output offset of `buf[0]`. */
  private start = 0;
  private readonly spare: Uint8Array[] = [];
  private readonly flight = new InFlight();
  private readonly window: BasisReader;

  constructor(
    private readonly files: Files,
    private addon: NativeAddon | undefined,
  ) {
    const { basis, basisPath } = files;
    this.window = new BasisReader({
      read: (buffer, offset, length, position) =>
        basis.read(buffer, offset, length, position).catch((e: unknown) => {
          throw wrapIoError(e, basisPath, 'reading');
        }),
    });
  }

  /** Bytes of output so far. */
  get position(): number {
    return this.start + this.len;
  }

  /** Append literal data. */
  async put(data: Uint8Array): Promise<void> {
    for (let at = 0; at < data.length; ) {
      const n = Math.min(BUFFER - this.len, data.length - at);
      this.buf.set(data.subarray(at, at + n), this.len);
      this.len += n;
      at += n;
      if (this.len === BUFFER) await this.flush();
    }
  }

  /**
   * Append `length` bytes of the basis at `offset`. Returns false when the basis ended first
   * (what did exist is appended).
   */
  async copy(offset: number, length: number): Promise<boolean> {
    if (this.addon === undefined || length < SMALL_COPY) return this.copyThroughWindow(offset, length);
    await this.flush();
    for (let done = 0; done < length; ) {
      const n = Math.min(SLICE, length - done);
      await this.flight.add(this.copySlice(offset + done, this.start, n));
      this.start += n;
      done += n;
    }
    return true;
  }

  /** Write what is buffered and wait for every write and copy; throws the first failure. */
  async finish(): Promise<void> {
    await this.flush();
    await this.flight.settle();
  }

  /** Wait for what is in flight, ignoring failures (before closing the files after an error). */
  async abandon(): Promise<void> {
    await this.flight.settle().catch(() => undefined);
  }

  private async copyThroughWindow(offset: number, length: number): Promise<boolean> {
    for (let done = 0; done < length; ) {
      const want = Math.min(BUFFER - this.len, length - done);
      const got = await this.window.read(this.buf, this.len, want, offset + done);
      this.len += got;
      done += got;
      if (this.len === BUFFER) await this.flush();
      if (got < want) return false;
    }
    return true;
  }

  private async copySlice(offIn: number, offOut: number, n: number): Promise<void> {
    const { basis, out, basisPath, outPath } = this.files;
    let got: number;
    try {
      got = this.addon ? await this.addon.copyFileRange(basis.fd, offIn, out.fd, offOut, n) : 0;
    } catch (e) {
      if (!REFUSALS.has((e as NodeJS.ErrnoException).code ?? '')) throw wrapIoError(e, outPath, `copying from ${basisPath} into`);
      this.addon = undefined;
      got = 0;
    }
    if (got < n) await this.copyThroughMemory(offIn + got, offOut + got, n - got);
  }

  /** A slice the kernel did not copy, read and written with a buffer of its own. */
  private async copyThroughMemory(offIn: number, offOut: number, n: number): Promise<void> {
    const { basis, out, basisPath, outPath } = this.files;
    const buf = new Uint8Array(Math.min(n, BUFFER));
    for (let done = 0; done < n; ) {
      const want = Math.min(buf.length, n - done);
      const { bytesRead } = await basis.read(buf, 0, want, offIn + done).catch((e: unknown) => {
        throw wrapIoError(e, basisPath, 'reading');
      });
      if (bytesRead === 0) throw new BackupError('ETRUNCATED', `the basis ${basisPath} shrank while it was patched`);
      await writeAll(out, buf, bytesRead, offOut + done).catch((e: unknown) => {
        throw wrapIoError(e, outPath, 'writing');
      });
      done += bytesRead;
    }
  }

  private async flush(): Promise<void> {
    if (this.len === 0) return;
    const { out, outPath } = this.files;
    const buf = this.buf;
    const write = writeAll(out, buf, this.len, this.start).then(
      () => {
        this.spare.push(buf);
      },
      (e: unknown) => {
        throw wrapIoError(e, outPath, 'writing');
      },
    );
    this.start += this.len;
    this.len = 0;
    this.buf = this.spare.pop() ?? new Uint8Array(BUFFER);
    await this.flight.add(write);
  }
}

/** `buf[0, length)` written at `position`, however many calls it takes (a write may be short). */
async function writeAll(out: FileHandle, buf: Uint8Array, length: number, position: number): Promise<void> {
  for (let done = 0; done < length; ) {
    const { bytesWritten } = await out.write(buf, done, length - done, position + done);
    done += bytesWritten;
  }
}

/**
 * Apply `delta` to the open basis file, writing the new file into the empty open file `out`;
 * `addon` copies COPYs in the kernel (none: through memory). Resolves to the new file's size.
 * Every in-flight operation has settled when this returns or throws, so the caller may close
 * both files.
 */
export async function patchIntoFile(files: Files, delta: ByteSource, addon: NativeAddon | undefined): Promise<number> {
  const info = await files.basis.stat().catch((e: unknown) => {
    throw wrapIoError(e, files.basisPath, 'reading');
  });
  // Only a regular file has a size to check COPYs against in advance, and only between
  // regular files can the kernel copy.
  const basisSize = info.isFile() ? info.size : undefined;
  const output = new OutputFile(files, basisSize === undefined ? undefined : addon);
  const reader = new DeltaReader(delta);
  try {
    for await (const cmd of reader.commands()) {
      if (cmd.op === 'literal') {
        for await (const piece of reader.literalData()) await output.put(piece);
        continue;
      }
      const { offset, length } = cmd;
      const pastEnd = basisSize !== undefined && offset + length > basisSize;
      if (pastEnd || !(await output.copy(offset, length))) {
        const size = basisSize ?? (await new BasisReader(files.basis).size(offset + length));
        throw new BackupError('ETRUNCATED', `delta copies ${length} bytes at offset ${offset}, past the end of the basis (${size} bytes)`);
      }
    }
    await output.finish();
    return output.position;
  } catch (e) {
    await output.abandon();
    throw e;
  }
}

/** Options of {@link patchToFile}. */
export interface PatchToFileOptions extends FileJobOptions {
  /** The delta's name, for errors found in it (default: none). */
  deltaName?: string;
}

/**
 * Apply `delta` to the file `basisPath`, writing `outPath` atomically (see the header). The
 * engine option picks the copier: `native` (or `auto` with the addon built) copies in the
 * kernel, `js` through memory; `native` without the addon is `ENATIVE`.
 */
export async function patchToFile(basisPath: string, delta: ByteSource, outPath: string, options: PatchToFileOptions = {}): Promise<void> {
  const engine = selectEngine(options.engine, 'patch');
  const addon = engine.name === 'native' ? loadAddon().addon : undefined;
  const basis = await open(basisPath, 'r').catch((e: unknown) => {
    throw wrapIoError(e, basisPath, 'opening');
  });
  try {
    await writeAtomically(outPath, (out) => patchIntoFile({ basis, basisPath, out, outPath }, delta, addon), {
      overwrite: options.overwrite,
      durable: options.durable ?? false,
      errorPath: options.deltaName,
    });
  } finally {
    await basis.close();
  }
}
