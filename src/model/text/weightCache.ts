/**
 * Browser storage for downloaded checkpoint files, so that a model fetched once loads again offline.
 * Keys are `${baseUrl}/${modelId}/${file}` (see `weightCacheKey`): a mirror and the real hub never share entries.
 */
import type { DBSchema, IDBPDatabase, IDBPObjectStore } from 'idb';
import { openDatabase } from '../../lib/indexedDb';

/** Where fetched model files are kept between page loads. */
export interface WeightCache {
  /** The stored bytes, or null when nothing is stored under `key`. */
  get(key: string): Promise<Uint8Array | null>;
  /** Stores `bytes` under `key`; rejects with WeightCacheQuotaError when the storage is full. */
  put(key: string, bytes: Uint8Array): Promise<void>;
  /** Removes `key`; nothing happens when it is absent. */
  delete(key: string): Promise<void>;
}

/** Storage failed or is unavailable (e.g. IndexedDB disabled in a private window). */
export class WeightCacheError extends Error {
  override name = 'WeightCacheError';
}

/** The browser refused to store more: the quota for this site is used up. */
export class WeightCacheQuotaError extends WeightCacheError {
  override name = 'WeightCacheQuotaError';
}

/** The cache key of one file of a model; trailing slashes of the base URL do not make a different key. */
export function weightCacheKey(baseUrl: string, modelId: string, file: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/${modelId}/${file}`;
}

const megabytes = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

/** A Uint8Array that owns its whole buffer: storing a view would store (and clone) the buffer around it too. */
function ownBuffer(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
}

/** A cache held in this process's memory: for Node and tests; `maxBytes` imitates a storage quota. */
export class MemoryWeightCache implements WeightCache {
  private readonly entries = new Map<string, Uint8Array>();
  private readonly maxBytes: number;

  constructor(options: { maxBytes?: number } = {}) {
    this.maxBytes = options.maxBytes ?? Infinity;
  }

  async get(key: string): Promise<Uint8Array | null> {
    return this.entries.get(key) ?? null;
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const others = this.storedBytes() - (this.entries.get(key)?.byteLength ?? 0);
    if (others + bytes.byteLength > this.maxBytes) {
      throw new WeightCacheQuotaError(`Storage is full: could not keep ${key} (${megabytes(bytes.byteLength)}) for offline use.`);
    }
    // A copy, so that a caller changing its array later cannot change what a later load reads.
    this.entries.set(key, bytes.slice());
  }

  async delete(key: string): Promise<void> {
    this.entries.delete(key);
  }

  /** The keys stored, in insertion order. */
  keys(): string[] {
    return [...this.entries.keys()];
  }

  /** Bytes held across all entries. */
  storedBytes(): number {
    let total = 0;
    for (const bytes of this.entries.values()) total += bytes.byteLength;
    return total;
  }
}

const DATABASE_VERSION = 1;
const STORE = 'files';

interface WeightDb extends DBSchema {
  files: { key: string; value: Uint8Array };
}

/** The store as a read-write transaction types it; a read-only one is only ever asked to read. */
type FilesStore = IDBPObjectStore<WeightDb, ['files'], 'files', 'readwrite'>;

/** A cache in IndexedDB: one database with one object store of Uint8Arrays keyed by `weightCacheKey`. */
export class IndexedDbWeightCache implements WeightCache {
  private readonly factory: IDBFactory | undefined;
  private readonly databaseName: string;
  private database: Promise<IDBPDatabase<WeightDb>> | null = null;

  /** `factory` defaults to the environment's IndexedDB; pass `factory: undefined` for none. */
  constructor(options: { databaseName?: string; factory?: IDBFactory } = {}) {
    this.databaseName = options.databaseName ?? 'activation-atlas-weights';
    this.factory = 'factory' in options ? options.factory : (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  }

  async get(key: string): Promise<Uint8Array | null> {
    const value = await this.request('readonly', key, 'read', (store) => store.get(key));
    return value instanceof Uint8Array ? value : null;
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    await this.request('readwrite', key, 'store', (store) => store.put(ownBuffer(bytes), key), bytes.byteLength);
  }

  async delete(key: string): Promise<void> {
    await this.request('readwrite', key, 'delete', (store) => store.delete(key));
  }

  /** Closes the connection; a later call opens it again. */
  async close(): Promise<void> {
    const database = this.database;
    this.database = null;
    if (database) (await database.catch(() => null))?.close();
  }

  private open(): Promise<IDBPDatabase<WeightDb>> {
    if (!this.database) {
      const opening = this.openDatabase(() => {
        // Another tab upgraded the schema: this connection is closed, the next call opens a new one.
        if (this.database === opening) this.database = null;
      });
      // A failed open is retried on the next call rather than remembered.
      opening.catch(() => {
        if (this.database === opening) this.database = null;
      });
      this.database = opening;
    }
    return this.database;
  }

  private async openDatabase(onClosed: () => void): Promise<IDBPDatabase<WeightDb>> {
    if (!this.factory) throw new WeightCacheError('IndexedDB is not available here, so downloaded models cannot be kept for offline use.');
    try {
      return await openDatabase<WeightDb>(this.factory, this.databaseName, DATABASE_VERSION, (database) => {
        if (!database.objectStoreNames.contains(STORE)) database.createObjectStore(STORE);
      }, onClosed);
    } catch (e) {
      const blocked = (e as { name?: string } | null)?.name === 'BlockedError';
      throw new WeightCacheError(blocked ? 'IndexedDB is blocked by another tab holding an older version of the model cache open.' : `IndexedDB could not be opened (${describe(e)}).`);
    }
  }

  /** Runs one request in its own transaction and resolves with its result once the transaction commits. */
  private async request<T>(mode: IDBTransactionMode, key: string, action: string, run: (store: FilesStore) => Promise<T>, size = 0): Promise<T> {
    const database = await this.open();
    try {
      const tx = database.transaction(STORE, mode);
      // A quota failure arrives as the transaction's abort (tx.done rejects), with no request error before it.
      const [result] = await Promise.all([run(tx.store as FilesStore), tx.done]);
      return result;
    } catch (e) {
      throw storageError(e, key, action, size);
    }
  }
}

function storageError(error: unknown, key: string, action: string, size: number): WeightCacheError {
  if ((error as { name?: string } | null)?.name === 'QuotaExceededError') {
    return new WeightCacheQuotaError(`Browser storage is full: could not keep ${key} (${megabytes(size)}) for offline use.`);
  }
  return new WeightCacheError(`Browser storage could not ${action} ${key} (${describe(error)}).`);
}

function describe(error: unknown): string {
  if (error instanceof Error || (typeof error === 'object' && error !== null && 'message' in error)) {
    const { name, message } = error as { name?: string; message?: string };
    return name && message ? `${name}: ${message}` : String(message ?? name);
  }
  return String(error ?? 'unknown error');
}
