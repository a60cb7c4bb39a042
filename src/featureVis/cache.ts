/**
 * Finished icons, kept across reloads in IndexedDB (in memory where there is none, as in Node). No TF
 * here, so the page can show cached icons before the model worker has loaded anything.
 */
import type { DBSchema, IDBPDatabase, IDBPTransaction } from 'idb';
import { openDatabase } from '../lib/indexedDb';

/** One finished icon. */
export interface CachedIcon {
  width: number;
  height: number;
  /** width x height x 4 bytes. */
  rgba: Uint8ClampedArray;
  /** The objective the icon reached. */
  score: number;
}

export interface IconCache {
  readonly kind: 'indexeddb' | 'memory';
  get(key: string): Promise<CachedIcon | undefined>;
  /** Several icons at once, in the order of `keys` (undefined where there is none). */
  getMany(keys: readonly string[]): Promise<(CachedIcon | undefined)[]>;
  /** The keys of every icon held (one request: cheaper than asking for each key that may be missing). */
  keys(): Promise<string[]>;
  /** The most recently used icons, newest first, up to `maxBytes` of pixels; reading them is not a use. */
  recent(maxBytes: number): Promise<Map<string, CachedIcon>>;
  put(key: string, icon: CachedIcon): Promise<void>;
  clear(): Promise<void>;
  close(): void;
}

/** A 64-bit hash (16 hex digits) of float32 values, bit for bit. */
export function hashFloats(values: Float32Array | ArrayLike<number>): string {
  const floats = values instanceof Float32Array ? values : Float32Array.from(values);
  return hashWords(new Uint32Array(floats.buffer, floats.byteOffset, floats.length));
}

/** A 64-bit hash (16 hex digits) of a string's UTF-16 code units. */
export function hashString(text: string): string {
  return hashWords(Uint32Array.from(text, (ch) => ch.codePointAt(0)!));
}

/** Two FNV-1a-style lanes over 32-bit words with a final avalanche mix each. */
function hashWords(words: Uint32Array): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ words.length;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    a = Math.imul(a ^ w, 0x01000193);
    b = Math.imul(b ^ ((w >>> 16) | (w << 16)), 0x5bd1e995);
    b ^= b >>> 13;
  }
  const mix = (h: number) => {
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
  };
  return mix(a ^ Math.imul(b, 31)).toString(16).padStart(8, '0') + mix(b ^ a).toString(16).padStart(8, '0');
}

/** The parts an icon depends on: model, layer, direction, and the settings that shaped it. */
export interface IconKeyParts {
  /** A model identity, e.g. modelFingerprint(model). */
  model: string;
  layer: string;
  /** The direction (D floats), hashed. */
  direction: Float32Array;
  /** settingsKey(...) of the visualisation options, so changed settings do not reuse old icons. */
  settings?: string;
}

/** The cache key of one icon: unambiguous whatever characters the model or layer name holds. */
export function iconCacheKey(parts: IconKeyParts): string {
  return JSON.stringify([parts.model, parts.layer, hashFloats(parts.direction), parts.settings ?? '']);
}

/** A stable fingerprint of the settings that change an icon (typed arrays are hashed). */
export function settingsKey(settings: Record<string, unknown>): string {
  const parts = Object.keys(settings)
    .sort()
    .filter((k) => settings[k] !== undefined && typeof settings[k] !== 'function' && !(settings[k] instanceof AbortSignal))
    .map((k) => {
      const v = settings[k];
      return `${k}=${v instanceof Float32Array ? hashFloats(v) : JSON.stringify(v)}`;
    });
  return hashString(parts.join(';'));
}

/** What the icon cache may hold, in icon bytes (width x height x 4 each): about 3,600 icons of 96 x 96. */
export const ICON_CACHE_MAX_BYTES = 128 * 2 ** 20;

const iconBytes = (icon: CachedIcon) => icon.rgba.byteLength;

/** An in-memory cache that drops the least recently used icons past `maxBytes`. */
export class MemoryIconCache implements IconCache {
  readonly kind = 'memory';
  private readonly icons = new Map<string, CachedIcon>();
  private bytes = 0;

  constructor(private readonly maxBytes = ICON_CACHE_MAX_BYTES) {}

  async get(key: string): Promise<CachedIcon | undefined> {
    return this.take(key);
  }

  async getMany(keys: readonly string[]): Promise<(CachedIcon | undefined)[]> {
    return keys.map((key) => this.take(key));
  }

  async keys(): Promise<string[]> {
    return [...this.icons.keys()];
  }

  async recent(maxBytes: number): Promise<Map<string, CachedIcon>> {
    const recent = new Map<string, CachedIcon>();
    let bytes = 0;
    for (const [key, icon] of [...this.icons].reverse()) {
      if ((bytes += iconBytes(icon)) > maxBytes) break;
      recent.set(key, icon);
    }
    return recent;
  }

  async put(key: string, icon: CachedIcon): Promise<void> {
    this.remove(key);
    this.icons.set(key, icon);
    this.bytes += iconBytes(icon);
    // A Map iterates in insertion order, and every use re-inserts: the first key is the least recently used.
    while (this.bytes > this.maxBytes) this.remove(this.icons.keys().next().value!);
  }

  async clear(): Promise<void> {
    this.icons.clear();
    this.bytes = 0;
  }

  close(): void {}

  get size(): number {
    return this.icons.size;
  }

  /** Bytes of icon pixels held. */
  get storedBytes(): number {
    return this.bytes;
  }

  private take(key: string): CachedIcon | undefined {
    const icon = this.icons.get(key);
    if (icon) {
      this.icons.delete(key);
      this.icons.set(key, icon);
    }
    return icon;
  }

  private remove(key: string): void {
    const icon = this.icons.get(key);
    if (!icon) return;
    this.icons.delete(key);
    this.bytes -= iconBytes(icon);
  }
}

interface IconDb extends DBSchema {
  icons: { key: string; value: CachedIcon };
  /** When each icon was last read or written (a counter, so that order survives equal clock times) and its size. */
  usage: { key: string; value: { used: number; bytes: number }; indexes: { used: number } };
  /** The bytes of all icons and the use counter, kept in step with `usage` by the same transactions. */
  totals: { key: 'all'; value: { bytes: number; clock: number } };
}

/** Version 1 stored icons without their use times; its icons are dropped rather than guessed at. */
const ICON_DB_VERSION = 2;

/**
 * Icons in IndexedDB, keyed by iconCacheKey, with their total size capped at `maxBytes`: a put past the
 * cap deletes the least recently used icons (a read counts as a use) in the same transaction.
 */
export class IndexedDbIconCache implements IconCache {
  readonly kind = 'indexeddb';

  private constructor(
    private readonly db: IDBPDatabase<IconDb>,
    private readonly maxBytes: number,
  ) {}

  static async open(factory: IDBFactory, name: string, maxBytes = ICON_CACHE_MAX_BYTES): Promise<IndexedDbIconCache> {
    const db = await openDatabase<IconDb>(factory, name, ICON_DB_VERSION, (upgrading) => {
      for (const store of [...upgrading.objectStoreNames]) upgrading.deleteObjectStore(store);
      upgrading.createObjectStore('icons');
      upgrading.createObjectStore('usage').createIndex('used', 'used');
      upgrading.createObjectStore('totals');
    });
    return new IndexedDbIconCache(db, maxBytes);
  }

  async get(key: string): Promise<CachedIcon | undefined> {
    return (await this.getMany([key]))[0];
  }

  /**
   * Reads many icons in one read-only transaction (a lookup per transaction costs a round trip each), then
   * marks the hits as used in a read-write one. That one is not waited for: IndexedDB runs transactions
   * over the same stores in the order they were created, so a later put still sees the new use times.
   */
  async getMany(keys: readonly string[]): Promise<(CachedIcon | undefined)[]> {
    const read = this.db.transaction('icons', 'readonly');
    const [icons] = await Promise.all([Promise.all(keys.map((key) => read.store.get(key))), read.done]);
    // A failed touch only leaves the use times as they were.
    if (icons.some(Boolean)) this.touch(keys.filter((_, k) => icons[k])).catch(() => undefined);
    return icons;
  }

  async keys(): Promise<string[]> {
    return this.db.getAllKeys('icons');
  }

  async recent(maxBytes: number): Promise<Map<string, CachedIcon>> {
    const tx = this.db.transaction(['icons', 'usage'], 'readonly');
    const keys: string[] = [];
    let bytes = 0;
    for (let cursor = await tx.objectStore('usage').index('used').openCursor(null, 'prev'); cursor; cursor = await cursor.continue()) {
      if ((bytes += cursor.value.bytes) > maxBytes) break;
      keys.push(cursor.primaryKey);
    }
    const icons = await Promise.all(keys.map((key) => tx.objectStore('icons').get(key)));
    await tx.done;
    return new Map(keys.flatMap((key, k): [string, CachedIcon][] => (icons[k] ? [[key, icons[k]]] : [])));
  }

  /** Makes the icons under `keys` the most recently used, in the order given (those evicted meanwhile stay gone). */
  private async touch(keys: string[]): Promise<void> {
    const tx = this.db.transaction(['icons', 'usage', 'totals'], 'readwrite');
    const usage = tx.objectStore('usage');
    const [totals, entries] = await Promise.all([readTotals(tx), Promise.all(keys.map((key) => usage.get(key)))]);
    const writes: Promise<unknown>[] = [];
    keys.forEach((key, k) => {
      const entry = entries[k];
      if (entry) writes.push(usage.put({ ...entry, used: ++totals.clock }, key));
    });
    writes.push(tx.objectStore('totals').put(totals, 'all'));
    await Promise.all([...writes, tx.done]);
  }

  async put(key: string, icon: CachedIcon): Promise<void> {
    const tx = this.db.transaction(['icons', 'usage', 'totals'], 'readwrite');
    const [usage, icons] = [tx.objectStore('usage'), tx.objectStore('icons')];
    const [totals, previous] = await Promise.all([readTotals(tx), usage.get(key)]);
    const bytes = iconBytes(icon);
    totals.bytes += bytes - (previous?.bytes ?? 0);
    const writes: Promise<unknown>[] = [icons.put(icon, key), usage.put({ used: ++totals.clock, bytes }, key)];
    // Oldest first; the icon just written is the newest, so it goes last (only when it alone passes the cap).
    for (let cursor = await usage.index('used').openCursor(); cursor && totals.bytes > this.maxBytes; cursor = await cursor.continue()) {
      totals.bytes -= cursor.value.bytes;
      writes.push(icons.delete(cursor.primaryKey), cursor.delete());
    }
    writes.push(tx.objectStore('totals').put(totals, 'all'));
    await Promise.all([...writes, tx.done]);
  }

  async clear(): Promise<void> {
    const tx = this.db.transaction(['icons', 'usage', 'totals'], 'readwrite');
    await Promise.all([tx.objectStore('icons').clear(), tx.objectStore('usage').clear(), tx.objectStore('totals').clear(), tx.done]);
  }

  /** Icons held and their bytes, as the cache counts them. */
  async usage(): Promise<{ icons: number; bytes: number }> {
    const tx = this.db.transaction(['usage', 'totals'], 'readonly');
    const [icons, totals] = await Promise.all([tx.objectStore('usage').count(), readTotals(tx)]);
    return { icons, bytes: totals.bytes };
  }

  close(): void {
    this.db.close();
  }
}

async function readTotals(tx: IDBPTransaction<IconDb, ('usage' | 'totals' | 'icons')[], IDBTransactionMode>): Promise<IconDb['totals']['value']> {
  return (await tx.objectStore('totals').get('all')) ?? { bytes: 0, clock: 0 };
}

/**
 * The icon cache: IndexedDB when the environment has it and it opens (private windows may refuse),
 * otherwise memory, which lasts only as long as the page or process.
 */
export async function openIconCache(options: { name?: string; indexedDB?: IDBFactory | null; maxBytes?: number } = {}): Promise<IconCache> {
  const factory = options.indexedDB !== undefined ? options.indexedDB : (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (factory) {
    try {
      return await IndexedDbIconCache.open(factory, options.name ?? 'activation-atlas-icons', options.maxBytes);
    } catch {
      // Fall through: a blocked or broken IndexedDB still leaves a working (if forgetful) cache.
    }
  }
  return new MemoryIconCache(options.maxBytes);
}
