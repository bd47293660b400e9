/**
 * A {@link Storage} in memory: a map from key to bytes. It is the fastest backend for tests
 * and the reference for the seam's semantics, cold classes included: with `cold` set, an
 * object saved in `GLACIER` or `DEEP_ARCHIVE` is `archived` and refuses loads with
 * `ETHAWING` until {@link MemoryStorage.thaw} is called, after which it is readable at once
 * (as moto's S3 server does), so code that waits for thaws can be tested without waiting.
 *
 * A save reads its whole source before the object appears (the old one stays until then),
 * so readers never see part of an object, and a conditional save checks and stores in one
 * synchronous step, which is what makes it exclusive.
 */
import { BackupError, isBackupError } from '../errors.js';
import { abortable, throwIfAborted } from './abort.js';
import { spanOf } from './load-range.js';
import { checkKey, openerOf, type LoadOptions, type SaveOptions, type SaveSource, type Storage, type StoredObject, type ThawOptions } from './storage.js';

/** The storage classes that must be thawed before a load when `cold` is set. */
const COLD_CLASSES = new Set(['GLACIER', 'DEEP_ARCHIVE']);

/** Loads yield chunks of at most this many bytes, as a real backend's reads do. */
const CHUNK = 64 * 1024;

/** Options of {@link MemoryStorage}. */
export interface MemoryStorageOptions {
  /** Emulate cold classes: objects saved in `GLACIER` or `DEEP_ARCHIVE` need a thaw before they load. Default false. */
  cold?: boolean;
}

interface MemoryObject {
  bytes: Uint8Array;
  storageClass?: string;
  /** Still in a cold class, not thawed. */
  archived: boolean;
}

/** Marks the `cause` of this backend's not-found errors. */
const NOT_FOUND = 'ENOENT';

/** Storage in memory (`memory:`); every instance is a separate, initially empty store. */
export class MemoryStorage implements Storage {
  /** Always `memory:`. */
  readonly location = 'memory:';
  private readonly objects = new Map<string, MemoryObject>();
  private readonly cold: boolean;

  /** @param options See {@link MemoryStorageOptions}. */
  constructor(options: MemoryStorageOptions = {}) {
    this.cold = options.cold ?? false;
  }

  async save(key: string, source: SaveSource, options: SaveOptions = {}): Promise<void> {
    checkKey(key);
    throwIfAborted(options.signal, key);
    const parts: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of abortable(openerOf(source).open(), options.signal, key)) {
      parts.push(chunk.slice());
      size += chunk.length;
    }
    if (options.ifNoneMatch && this.objects.has(key)) {
      throw new BackupError('EEXIST', `storage key ${key} already exists in memory:`, { path: key });
    }
    const bytes = new Uint8Array(size);
    let at = 0;
    for (const part of parts) {
      bytes.set(part, at);
      at += part.length;
    }
    const storageClass = options.storageClass;
    this.objects.set(key, { bytes, storageClass, archived: this.cold && storageClass !== undefined && COLD_CLASSES.has(storageClass) });
  }

  async *load(key: string, options: LoadOptions = {}): AsyncGenerator<Uint8Array> {
    checkKey(key);
    const { start, end } = spanOf(key, options);
    throwIfAborted(options.signal, key);
    const object = this.get(key, 'loading');
    if (object.archived) {
      throw new BackupError('ETHAWING', `memory:${key} is in the cold class ${object.storageClass} and must be thawed before it is read`, { path: key });
    }
    const { bytes } = object;
    const stop = Math.min(end ?? bytes.length, bytes.length);
    for (let at = start; at < stop; at += CHUNK) {
      yield bytes.slice(at, Math.min(at + CHUNK, stop));
      throwIfAborted(options.signal, key);
    }
  }

  async stat(key: string): Promise<StoredObject> {
    checkKey(key);
    const object = this.get(key, 'stat of');
    return {
      size: object.bytes.length,
      availability: object.archived ? 'archived' : 'ready',
      ...(object.storageClass === undefined ? {} : { storageClass: object.storageClass }),
    };
  }

  async *list(prefix: string): AsyncGenerator<string> {
    // A snapshot, sorted by code unit (the default order of `sort`): keys saved or removed
    // while the caller iterates do not disturb the order.
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
    yield* keys;
  }

  async remove(key: string): Promise<void> {
    checkKey(key);
    this.objects.delete(key);
  }

  isNotFound(error: unknown): boolean {
    return isBackupError(error) && (error.cause as { code?: unknown } | undefined)?.code === NOT_FOUND;
  }

  /** Always false: nothing in memory fails for a while and then works. */
  isTransient(_error: unknown): boolean {
    return false;
  }

  /** Make an archived object readable, at once; a no-op for one that is readable already. */
  async thaw(key: string, _options: ThawOptions): Promise<void> {
    checkKey(key);
    this.get(key, 'thawing').archived = false;
  }

  private get(key: string, doing: string): MemoryObject {
    const object = this.objects.get(key);
    if (object === undefined) {
      throw new BackupError('EIO', `${doing} memory:${key}: no such object`, { path: key, cause: Object.assign(new Error('no such object'), { code: NOT_FOUND }) });
    }
    return object;
  }
}
