import { describe, expect, it } from 'vitest';
import { ICON_CACHE_MAX_BYTES, IndexedDbIconCache, openIconCache, type CachedIcon } from '../../src/featureVis/cache';
import { fakeIndexedDb } from '../fakeIndexedDb';

/** A size x size icon (4 bytes a pixel) whose first byte tells it apart. */
const icon = (mark: number, size = 8): CachedIcon => {
  const rgba = new Uint8ClampedArray(size * size * 4);
  rgba[0] = mark;
  return { width: size, height: size, rgba, score: mark };
};
const ICON_BYTES = 8 * 8 * 4;

describe('IndexedDbIconCache', () => {
  it('opens from the factory given and keeps icons across connections', async () => {
    const factory = fakeIndexedDb();
    const first = await openIconCache({ indexedDB: factory, name: 'icons' });
    expect(first.kind).toBe('indexeddb');
    await first.put('a', icon(1));
    first.close();
    const second = await openIconCache({ indexedDB: factory, name: 'icons' });
    const got = await second.get('a');
    expect(got?.rgba[0]).toBe(1);
    expect(got).toMatchObject({ width: 8, height: 8, score: 1 });
    expect(await second.get('b')).toBeUndefined();
    second.close();
  });

  it('has a stated byte budget by default', async () => {
    expect(ICON_CACHE_MAX_BYTES).toBe(128 * 2 ** 20);
    // Opened without a cap, it holds an icon of exactly the budget, and one more byte evicts it.
    const cache = await IndexedDbIconCache.open(fakeIndexedDb(), 'icons');
    await cache.put('full', { width: 4096, height: ICON_CACHE_MAX_BYTES / 4096 / 4, rgba: new Uint8ClampedArray(ICON_CACHE_MAX_BYTES), score: 0 });
    expect(await cache.usage()).toEqual({ icons: 1, bytes: ICON_CACHE_MAX_BYTES });
    await cache.put('one', icon(1, 1));
    expect(await cache.usage()).toEqual({ icons: 1, bytes: 4 });
    cache.close();
  });

  it('holds to its byte cap, evicting the least recently used icons, and keeps the recent ones', async () => {
    const cap = 10 * ICON_BYTES;
    const cache = await IndexedDbIconCache.open(fakeIndexedDb(), 'icons', cap);
    for (let n = 0; n < 10; n++) await cache.put(`k${n}`, icon(n));
    expect(await cache.usage()).toEqual({ icons: 10, bytes: cap });
    // Reading k0 and k1 makes them recent: the next puts evict k2, k3, ... instead.
    expect((await cache.getMany(['k0', 'k1'])).map((i) => i?.score)).toEqual([0, 1]);
    for (let n = 10; n < 15; n++) {
      await cache.put(`k${n}`, icon(n));
      const { icons, bytes } = await cache.usage();
      expect(bytes).toBeLessThanOrEqual(cap);
      expect(icons).toBe(10);
    }
    const keys = Array.from({ length: 15 }, (_, n) => `k${n}`);
    const held = (await cache.getMany(keys)).map((i, n) => (i ? n : -1)).filter((n) => n >= 0);
    // Five puts evicted the five least recently used (k2 to k6); the two read back survive.
    expect(held).toEqual([0, 1, 7, 8, 9, 10, 11, 12, 13, 14]);
    // Past the cap by far: only the newest ten remain, whatever was read before.
    for (let n = 15; n < 40; n++) await cache.put(`k${n}`, icon(n));
    const all = Array.from({ length: 40 }, (_, n) => `k${n}`);
    expect((await cache.getMany(all)).map((i, n) => (i ? n : -1)).filter((n) => n >= 0)).toEqual([30, 31, 32, 33, 34, 35, 36, 37, 38, 39]);
    expect(await cache.usage()).toEqual({ icons: 10, bytes: cap });
    cache.close();
  });

  it('counts a replaced icon once, and a larger icon against the budget by its size', async () => {
    const cache = await IndexedDbIconCache.open(fakeIndexedDb(), 'icons', 4 * ICON_BYTES);
    await cache.put('a', icon(1));
    await cache.put('a', icon(2));
    expect(await cache.usage()).toEqual({ icons: 1, bytes: ICON_BYTES });
    await cache.put('b', icon(3));
    await cache.put('c', icon(4));
    await cache.get('a');
    // 16 x 16 is four 8 x 8 icons: every other icon goes, the least recently used first.
    await cache.put('big', icon(5, 16));
    expect(await cache.usage()).toEqual({ icons: 1, bytes: 4 * ICON_BYTES });
    expect((await cache.get('big'))?.score).toBe(5);
    await cache.clear();
    expect(await cache.usage()).toEqual({ icons: 0, bytes: 0 });
    cache.close();
  });

  it('reads many icons in order, undefined where there is none, and lists the keys it holds', async () => {
    const cache = await IndexedDbIconCache.open(fakeIndexedDb(), 'icons');
    await cache.put('x', icon(7));
    await cache.put('w', icon(8));
    expect((await cache.keys()).sort()).toEqual(['w', 'x']);
    expect((await cache.getMany(['y', 'x', 'z'])).map((i) => i?.score)).toEqual([undefined, 7, undefined]);
    cache.close();
  });

  it('reads the most recently used icons, newest first, within a byte budget, without counting that as a use', async () => {
    const cache = await IndexedDbIconCache.open(fakeIndexedDb(), 'icons', 3 * ICON_BYTES);
    for (const [n, key] of ['a', 'b', 'c'].entries()) await cache.put(key, icon(n));
    await cache.get('a');
    expect([...(await cache.recent(2 * ICON_BYTES)).keys()]).toEqual(['a', 'c']);
    expect((await cache.recent(10 * ICON_BYTES)).get('b')?.score).toBe(1);
    // 'b' is still the least recently used: the next put evicts it.
    await cache.put('d', icon(3));
    expect((await cache.keys()).sort()).toEqual(['a', 'c', 'd']);
    cache.close();
  });

  it('drops the icons of the first version, which had no use times', async () => {
    const factory = fakeIndexedDb();
    await new Promise<void>((resolve, reject) => {
      const open = factory.open('icons', 1);
      open.onupgradeneeded = () => open.result.createObjectStore('icons');
      open.onsuccess = () => {
        const tx = open.result.transaction('icons', 'readwrite');
        tx.objectStore('icons').put(icon(1), 'old');
        tx.oncomplete = () => (open.result.close(), resolve());
      };
      open.onerror = () => reject(open.error);
    });
    const cache = await IndexedDbIconCache.open(factory, 'icons');
    expect(await cache.get('old')).toBeUndefined();
    await cache.put('new', icon(2));
    expect(await cache.usage()).toEqual({ icons: 1, bytes: ICON_BYTES });
    cache.close();
  });
});
