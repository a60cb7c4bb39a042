/**
 * The latent atlas's two files (issue 19): an SAE's live latents as rows of an .npy (each its unit decoder row) and a
 * points table naming each by its top examples. The precomputed-activations path lays them out and bins them like any
 * atlas, each cell a family of latents. `npm run sae -- --latent-atlas` writes them beside the SAE; the page's
 * Dictionary panel makes them from the SAE it holds and opens them in a new tab.
 */
import { unitVector } from '../compute/directions/vectors';
import { npyFloat32 } from './npy';
import { writePointsJsonl, type PointsRow } from './pointsTable';

export const LATENT_ROWS_FILE = 'latents.npy';
export const LATENT_POINTS_FILE = 'latents.jsonl';

/** What a latent's point says: its top examples' tokens (text) or labels (images). */
export interface LatentExamples {
  index: number;
  frequency: number;
  topExamples: { token?: string; label?: string | null }[];
}

/** Values of `items` by how often they occur, most first (ties in first-seen order). */
function byCount(items: string[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]);
}

/**
 * A latent's row of the points table: its label is the token (text) or label (images) most common among its top
 * examples, which a cell shows as its heading over the cell's latents; its text is `#i` and the distinct ones with
 * their counts.
 */
export function latentPoint(latent: LatentExamples): PointsRow {
  const tokens = byCount(latent.topExamples.flatMap((e) => (e.token === undefined ? [] : [e.token.trim() || e.token])));
  const names = tokens.length ? tokens : byCount(latent.topExamples.flatMap((e) => (e.label ? [e.label] : [])));
  const named = names.slice(0, 5).map(([t, n]) => (n > 1 ? `${t} ×${n}` : t));
  return { text: [`#${latent.index}`, ...named].join(' · '), label: names[0]?.[0] ?? null };
}

/**
 * The live latents' (frequency above 0) unit decoder rows as a [live, dIn] .npy and their points table as JSONL, in
 * latent order; `decoder` is the SAE's W_dec, dSae x dIn. Throws when fewer than two latents are alive.
 */
export function latentAtlasFiles(decoder: Float32Array, dIn: number, latents: readonly LatentExamples[]): { npy: Uint8Array; jsonl: string; live: number } {
  const live = latents.filter((l) => l.frequency > 0);
  if (live.length < 2) throw new Error(`${live.length} live latent(s); a latent atlas needs at least 2.`);
  const rows = new Float32Array(live.length * dIn);
  live.forEach(({ index }, k) => rows.set(unitVector(decoder.subarray(index * dIn, (index + 1) * dIn)), k * dIn));
  return { npy: npyFloat32(rows, [live.length, dIn]), jsonl: writePointsJsonl(live.map(latentPoint)), live: live.length };
}
