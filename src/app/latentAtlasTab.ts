/**
 * The page's latent atlas opens in a new tab, so the atlas the SAE was trained on, and the SAE, stay in this one. Its
 * two files go to that tab through this browser's IndexedDB, under a key named in the tab's query (?latent-atlas=…);
 * the new tab reads them and builds their atlas on the precomputed-activations path instead of the built-in model's
 * atlas. They outlive the tab that made them: the new tab reloads, and the first tab may close. The last few stay.
 */
import type { DBSchema } from 'idb';
import { LATENT_POINTS_FILE, LATENT_ROWS_FILE } from '../export/latentAtlasFiles';
import { openDatabase } from '../lib/indexedDb';
import type { PickedFile } from '../lib/inputFiles';

const QUERY_PARAM = 'latent-atlas';
const DATABASE = 'atlas-latent-atlases';
/** Latent atlases kept, the newest: a few megabytes each. */
const KEPT = 4;

interface LatentAtlasFiles {
  npy: Uint8Array;
  jsonl: string;
}

interface LatentAtlasDb extends DBSchema {
  files: { key: string; value: LatentAtlasFiles };
}

const open = () => openDatabase<LatentAtlasDb>(indexedDB, DATABASE, 1, (database) => database.createObjectStore('files'));

/** Keys that sort in the order they were made (the time in base 36, fixed width until the year 5188). */
const newKey = () => `${Date.now().toString(36).padStart(9, '0')}-${Math.random().toString(36).slice(2, 8)}`;

/** Keeps the latent atlas's files and opens them in a new tab of this page; false when the browser blocked the tab. */
export async function openLatentAtlasTab(files: LatentAtlasFiles): Promise<boolean> {
  const key = newKey();
  const database = await open();
  try {
    await database.put('files', files, key);
    const keys = await database.getAllKeys('files');
    await Promise.all(keys.slice(0, -KEPT).map((old) => database.delete('files', old)));
  } finally {
    database.close();
  }
  const page = new URL(window.location.href);
  page.search = '';
  page.hash = '';
  page.searchParams.set(QUERY_PARAM, key);
  return window.open(page.toString(), '_blank') !== null;
}

/** The latent atlas's files named in this page's query; null when the query names none. */
export async function latentAtlasFromQuery(query: URLSearchParams): Promise<PickedFile[] | null> {
  const key = query.get(QUERY_PARAM);
  if (!key) return null;
  const database = await open();
  const files = await database.get('files', key).finally(() => database.close());
  if (!files) throw new Error(`The latent atlas's files are gone: this browser keeps the last ${KEPT}. Make it again from the Dictionary panel.`);
  return [
    { file: new File([files.npy as Uint8Array<ArrayBuffer>], LATENT_ROWS_FILE), path: LATENT_ROWS_FILE },
    { file: new File([files.jsonl], LATENT_POINTS_FILE), path: LATENT_POINTS_FILE },
  ];
}
