/**
 * The page's latent atlas opens in a new tab, so the atlas the SAE was trained on, and the SAE, stay in this one. Its
 * two files go to that tab as blob URLs in its query (?latents=…&points=…); the new tab fetches them and builds their
 * atlas on the precomputed-activations path instead of the built-in model's atlas. A blob URL lives while the tab that
 * made it does: each new latent atlas frees the last one's files (its tab read them when it opened).
 */
import { LATENT_POINTS_FILE, LATENT_ROWS_FILE } from '../export/latentAtlasFiles';
import type { PickedFile } from '../lib/inputFiles';

const ROWS_PARAM = 'latents';
const POINTS_PARAM = 'points';

let lastUrls: string[] = [];

/** Opens the latent atlas's files in a new tab of this page; false when the browser blocked the tab. */
export function openLatentAtlasTab(files: { npy: Uint8Array; jsonl: string }): boolean {
  for (const url of lastUrls) URL.revokeObjectURL(url);
  const rows = URL.createObjectURL(new Blob([files.npy as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
  const points = URL.createObjectURL(new Blob([files.jsonl], { type: 'application/x-ndjson' }));
  lastUrls = [rows, points];
  const page = new URL(window.location.href);
  page.search = '';
  page.hash = '';
  page.searchParams.set(ROWS_PARAM, rows);
  page.searchParams.set(POINTS_PARAM, points);
  return window.open(page.toString(), '_blank') !== null;
}

/** The latent atlas's files named in this page's query, fetched; null when the query names none. */
export async function latentAtlasFromQuery(query: URLSearchParams): Promise<PickedFile[] | null> {
  const rows = query.get(ROWS_PARAM);
  const points = query.get(POINTS_PARAM);
  if (!rows || !points) return null;
  const fetched = async (url: string, name: string): Promise<PickedFile> => {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${response.status}`);
    return { file: new File([await response.blob()], name), path: name };
  };
  try {
    return await Promise.all([fetched(rows, LATENT_ROWS_FILE), fetched(points, LATENT_POINTS_FILE)]);
  } catch {
    throw new Error("The latent atlas's files are gone: the tab that made them was closed, or made another since. Make it again from that tab's Dictionary panel.");
  }
}
