/**
 * Finished icons, kept across reloads in IndexedDB (in memory where there is none, as in Node). No TF
 * here, so the page can show cached icons before the model worker has loaded anything.
 */

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

/** An in-memory cache that drops the least recently used icons past `maxEntries`. */
export class MemoryIconCache implements IconCache {
  readonly kind = 'memory';
  private readonly icons = new Map<string, CachedIcon>();

  constructor(private readonly maxEntries = 10_000) {}

  async get(key: string): Promise<CachedIcon | undefined> {
    const icon = this.icons.get(key);
    if (icon) {
      this.icons.delete(key);
      this.icons.set(key, icon);
    }
    return icon;
  }

  async put(key: string, icon: CachedIcon): Promise<void> {
    this.icons.delete(key);
    this.icons.set(key, icon);
    while (this.icons.size > this.maxEntries) this.icons.delete(this.icons.keys().next().value!);
  }

  async clear(): Promise<void> {
    this.icons.clear();
  }

  close(): void {}

  get size(): number {
    return this.icons.size;
  }
}

const STORE = 'icons';

const request = <T>(r: IDBRequest<T>) =>
  new Promise<T>((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });

/** Icons in one IndexedDB object store, keyed by iconCacheKey. */
export class IndexedDbIconCache implements IconCache {
  readonly kind = 'indexeddb';

  private constructor(private readonly db: IDBDatabase) {}

  static async open(factory: IDBFactory, name: string): Promise<IndexedDbIconCache> {
    const open = factory.open(name, 1);
    open.onupgradeneeded = () => {
      if (!open.result.objectStoreNames.contains(STORE)) open.result.createObjectStore(STORE);
    };
    return new IndexedDbIconCache(await request(open));
  }

  async get(key: string): Promise<CachedIcon | undefined> {
    const value = await request(this.db.transaction(STORE, 'readonly').objectStore(STORE).get(key));
    return (value as CachedIcon | undefined) ?? undefined;
  }

  async put(key: string, icon: CachedIcon): Promise<void> {
    await request(this.db.transaction(STORE, 'readwrite').objectStore(STORE).put(icon, key));
  }

  async clear(): Promise<void> {
    await request(this.db.transaction(STORE, 'readwrite').objectStore(STORE).clear());
  }

  close(): void {
    this.db.close();
  }
}

/**
 * The icon cache: IndexedDB when the environment has it and it opens (private windows may refuse),
 * otherwise memory, which lasts only as long as the page or process.
 */
export async function openIconCache(options: { name?: string; indexedDB?: IDBFactory | null } = {}): Promise<IconCache> {
  const factory = options.indexedDB !== undefined ? options.indexedDB : (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (factory) {
    try {
      return await IndexedDbIconCache.open(factory, options.name ?? 'activation-atlas-icons');
    } catch {
      // Fall through: a blocked or broken IndexedDB still leaves a working (if forgetful) cache.
    }
  }
  return new MemoryIconCache();
}
