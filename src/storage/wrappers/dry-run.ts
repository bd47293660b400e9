/**
 * A dry run: everything that would change the storage is reported instead of done, and
 * reads go through, so a backup or prune can show what it would store or remove, at the cost
 * of the listing and reading it needs. A save's source is not read (its size is reported when
 * the bytes or `SaveOptions.size` say it). A conditional save still fails with `EEXIST`
 * where the key exists, so a dry run stops where the real run would (at a lock that is held).
 */
import { BackupError } from '../../errors.js';
import { checkKey, type SaveOptions, type SaveSource, type Storage, type ThawOptions } from '../storage.js';
import { StorageWrapper } from './wrapper.js';

/** What {@link DryRunOptions.onSkip} is told about a change that was not made. */
export interface SkipEvent {
  /** The change: `save`, `remove`, `thaw` or `abortIncomplete`. */
  operation: 'save' | 'remove' | 'thaw' | 'abortIncomplete';
  /** The key (the prefix, for `abortIncomplete`). */
  key: string;
  /** Bytes a save would have stored, when known. */
  size?: number;
}

/** Options of {@link DryRunStorage}. */
export interface DryRunOptions {
  /** Told about each change that was skipped. */
  onSkip?: (event: SkipEvent) => void;
}

/** A storage that reads from `inner` and writes nothing to it. */
export class DryRunStorage extends StorageWrapper {
  /**
   * @param inner The storage that is read and never changed.
   * @param options See {@link DryRunOptions}.
   */
  constructor(
    inner: Storage,
    private readonly options: DryRunOptions = {},
  ) {
    super(inner);
  }

  override async save(key: string, source: SaveSource, options: SaveOptions = {}): Promise<void> {
    checkKey(key);
    if (options.ifNoneMatch) {
      const exists = await this.inner.stat(key).then(
        () => true,
        (e: unknown) => {
          if (this.inner.isNotFound(e)) return false;
          throw e;
        },
      );
      if (exists) throw new BackupError('EEXIST', `storage key ${key} already exists in ${this.inner.location}`, { path: key });
    }
    const size = source instanceof Uint8Array ? source.length : options.size;
    this.options.onSkip?.({ operation: 'save', key, ...(size === undefined ? {} : { size }) });
  }

  override async remove(key: string): Promise<void> {
    checkKey(key);
    this.options.onSkip?.({ operation: 'remove', key });
  }

  override async thaw?(key: string, _options: ThawOptions): Promise<void> {
    checkKey(key);
    this.options.onSkip?.({ operation: 'thaw', key });
  }

  override async abortIncomplete?(prefix: string): Promise<number> {
    this.options.onSkip?.({ operation: 'abortIncomplete', key: prefix });
    return 0;
  }
}
