import { wrap, type DBSchema, type IDBPDatabase } from 'idb';

/**
 * Opens a database with idb from a given factory (idb's own openDB only reads `globalThis.indexedDB`), so
 * callers and tests can pass another one. `upgrade` creates the stores of `version`; the promise rejects
 * when the open fails or another tab's older connection blocks it. The connection closes itself when
 * another tab asks for a newer version, instead of blocking that tab, and then calls `onClosed`.
 */
export async function openDatabase<Schema extends DBSchema>(
  factory: IDBFactory,
  name: string,
  version: number,
  upgrade: (database: IDBPDatabase<Schema>, oldVersion: number) => void,
  onClosed?: () => void,
): Promise<IDBPDatabase<Schema>> {
  const request = factory.open(name, version);
  const opened = wrap(request) as Promise<IDBPDatabase<Schema>>;
  request.addEventListener('upgradeneeded', (event) => upgrade(wrap(request.result) as IDBPDatabase<Schema>, event.oldVersion));
  const blocked = new Promise<never>((_, reject) =>
    request.addEventListener('blocked', () => reject(new DOMException(`IndexedDB database ${name} is held open at an older version by another tab.`, 'BlockedError'))),
  );
  const database = await Promise.race([opened, blocked]);
  database.addEventListener('versionchange', () => {
    database.close();
    onClosed?.();
  });
  return database;
}
