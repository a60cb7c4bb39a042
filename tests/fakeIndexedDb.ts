/**
 * IndexedDB for Node tests: fake-indexeddb's classes as globals (idb checks results with `instanceof
 * IDBRequest` and the like), but no global `indexedDB`, so code that looks for one still finds none.
 * `fakeIndexedDb(quotaBytes)` is a fresh, empty factory whose puts fail as a full browser storage does.
 */
import * as fake from 'fake-indexeddb';

const names = ['IDBCursor', 'IDBCursorWithValue', 'IDBDatabase', 'IDBFactory', 'IDBIndex', 'IDBKeyRange', 'IDBObjectStore', 'IDBOpenDBRequest', 'IDBRequest', 'IDBTransaction', 'IDBVersionChangeEvent'] as const;
for (const name of names) Object.defineProperty(globalThis, name, { value: fake[name], configurable: true, writable: true });

/** Bytes stored per database connection, and its quota: only what these tests store is counted. */
const quotas = new WeakMap<IDBDatabase, { quota: number; stored: Map<IDBValidKey, number> }>();

const sizeOf = (value: unknown) => (ArrayBuffer.isView(value) ? value.byteLength : 0);

const put = fake.IDBObjectStore.prototype.put;
fake.IDBObjectStore.prototype.put = function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
  const budget = quotas.get(this.transaction.db);
  if (budget && key !== undefined) {
    let used = sizeOf(value);
    for (const [k, n] of budget.stored) if (k !== key) used += n;
    // Browsers report a full storage as a QuotaExceededError; this one comes at once rather than at commit.
    if (used > budget.quota) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    budget.stored.set(key, sizeOf(value));
  }
  return put.call(this, value, key);
};

/** A fresh, empty IndexedDB; puts past `quotaBytes` (counting typed arrays' bytes) fail with QuotaExceededError. */
export function fakeIndexedDb(quotaBytes = Infinity): IDBFactory {
  const factory = new fake.IDBFactory();
  if (quotaBytes === Infinity) return factory;
  const open = factory.open.bind(factory);
  factory.open = (name: string, version?: number) => {
    const request = open(name, version);
    request.addEventListener('success', () => quotas.set(request.result, { quota: quotaBytes, stored: new Map() }));
    return request;
  };
  return factory;
}
