import { describe, expect, it } from 'vitest';
import { IndexedDbWeightCache } from '../../../src/model/text/weightCache';
import { fakeIndexedDb } from '../../fakeIndexedDb';

describe('IndexedDbWeightCache when another tab upgrades the database', () => {
  it('lets go of its closed connection and opens a new one on the next call', async () => {
    const factory = fakeIndexedDb();
    const cache = new IndexedDbWeightCache({ factory, databaseName: 'weights' });
    await cache.put('k', new Uint8Array([1]));
    // Another tab opens version 2: the cache's connection closes itself rather than block it.
    await new Promise<void>((resolve, reject) => {
      const open = factory.open('weights', 2);
      open.onsuccess = () => (open.result.close(), resolve());
      open.onerror = () => reject(open.error);
    });
    // The next call opens again (and meets the newer version), instead of using the closed connection.
    await expect(cache.get('k')).rejects.toThrow(/IndexedDB could not be opened \(VersionError/);
  });
});
