/**
 * Reads of a random-access source (a basis, or a delta whose literal data a composition
 * reads) through a window: the many short COPYs of a delta of repetitive or finely edited
 * data, or the many small literals of a chain, then cost a memory copy each instead of a
 * system call each. A read of a window or more goes straight into its destination.
 */
import { BackupError } from '../errors.js';

/** A basis that can be read at any position, such as a `fs.promises.FileHandle`. */
export interface RandomAccessBasis {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}

/** What `patch` can read a basis from, and a composition its basis and deltas. */
export type PatchBasis = Uint8Array | RandomAccessBasis;

const DEFAULT_WINDOW = 1 << 20;

/** Options of a {@link BasisReader}. */
export interface BasisReaderOptions {
  /** What the source is, for errors: default `'the basis'`. */
  what?: string;
  /** Bytes of the window; a read of this many or more bypasses it. Default 1 MiB. */
  window?: number;
}

/** Windowed reads of one random-access source (see the module header). */
export class BasisReader {
  private window: Uint8Array | undefined;
  private winStart = 0;
  private winLen = 0;
  private readonly what: string;
  private readonly windowSize: number;

  /** Reads `basis`; read errors other than {@link BackupError}s become `EIO`. */
  constructor(
    private readonly basis: PatchBasis,
    options: BasisReaderOptions = {},
  ) {
    this.what = options.what ?? 'the basis';
    this.windowSize = options.window ?? DEFAULT_WINDOW;
  }

  private async pread(dst: Uint8Array, at: number, n: number, pos: number): Promise<number> {
    const basis = this.basis;
    if (basis instanceof Uint8Array) {
      const got = pos >= basis.length ? 0 : Math.min(n, basis.length - pos);
      dst.set(basis.subarray(pos, pos + got), at);
      return got;
    }
    // Node reads at the current file position for an unsafe integer position.
    if (pos > Number.MAX_SAFE_INTEGER) return 0;
    try {
      return (await basis.read(dst, at, n, pos)).bytesRead;
    } catch (e) {
      if (e instanceof BackupError) throw e;
      const why = e instanceof Error ? e.message : String(e);
      throw new BackupError('EIO', `reading ${this.what} at offset ${pos}: ${why}`, { cause: e });
    }
  }

  /**
   * The size of a basis known to end at or before `limit`. A random-access basis has no size
   * to ask for, so this searches for the end with one-byte reads: at most 54 of them, and
   * only to name the size in the error of a COPY past the end.
   */
  async size(limit: number): Promise<number> {
    if (this.basis instanceof Uint8Array) return this.basis.length;
    const probe = new Uint8Array(1);
    let lo = 0;
    let hi = Math.min(limit, Number.MAX_SAFE_INTEGER);
    while (lo < hi) {
      const mid = lo + Math.floor((hi - lo) / 2);
      if ((await this.pread(probe, 0, 1, mid)) > 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Copy `n` bytes at `pos` into `dst[at…]`; returns fewer only at the end of the basis. */
  async read(dst: Uint8Array, at: number, n: number, pos: number): Promise<number> {
    if (this.basis instanceof Uint8Array || n >= this.windowSize) {
      let done = 0;
      while (done < n) {
        const got = await this.pread(dst, at + done, n - done, pos + done);
        if (got === 0) break;
        done += got;
      }
      return done;
    }
    let done = 0;
    while (done < n) {
      const p = pos + done;
      if (!this.window || p < this.winStart || p >= this.winStart + this.winLen) {
        this.window ??= new Uint8Array(this.windowSize);
        this.winStart = p;
        this.winLen = await this.pread(this.window, 0, this.windowSize, p);
        if (this.winLen === 0) break;
      }
      const from = p - this.winStart;
      const take = Math.min(n - done, this.winLen - from);
      dst.set(this.window.subarray(from, from + take), at + done);
      done += take;
    }
    return done;
  }
}
