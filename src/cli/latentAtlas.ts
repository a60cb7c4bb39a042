/**
 * The latent atlas (issue 19): an SAE's live latents laid out by their decoder rows and binned like any atlas, each
 * cell a family of latents named by their top tokens (text) or labels (images). `npm run sae -- --latent-atlas`
 * writes the unit decoder rows as an .npy and a points table beside the SAE, then builds the atlas from them by the
 * precomputed-activations path (`npm run atlas -- --activations`), so the page opens the atlas file, or the two files
 * on its precomputed import.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Atlas, InputError } from '../compute/atlas';
import type { ProgressCallback } from '../compute/types';
import { unitVector } from '../compute/directions/vectors';
import { serializeAtlas } from '../export/atlasFile';
import { writePointsJsonl, type PointsRow } from '../export/pointsTable';
import type { Sae } from '../model/sae/sae';
import { NpyRowWriter } from './npyWriter';
import { buildPrecomputedAtlasInNode } from './precomputed';

export const LATENT_ROWS_FILE = 'latents.npy';
export const LATENT_POINTS_FILE = 'latents.jsonl';
export const LATENT_ATLAS_FILE = 'latent-atlas.json';

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
 * Writes the live latents' unit decoder rows and their points table into `dir` and builds the latent atlas from them;
 * returns it with the count of latents laid out. Throws when fewer than two latents are alive.
 */
export async function writeLatentAtlas(dir: string, sae: Sae, latents: LatentExamples[], name: string, onProgress?: ProgressCallback): Promise<{ atlas: Atlas; errors: InputError[]; live: number }> {
  const { dIn } = sae.config;
  const live = latents.filter((l) => l.frequency > 0);
  if (live.length < 2) throw new Error(`--latent-atlas: ${live.length} live latent(s); an atlas needs at least 2.`);
  const rowsPath = join(dir, LATENT_ROWS_FILE);
  const writer = new NpyRowWriter(rowsPath, dIn, 'float32');
  for (const { index } of live) writer.append(unitVector(sae.weights.W_dec.subarray(index * dIn, (index + 1) * dIn)));
  writer.close();
  const pointsPath = join(dir, LATENT_POINTS_FILE);
  await writeFile(pointsPath, writePointsJsonl(live.map(latentPoint)));
  const built = await buildPrecomputedAtlasInNode({ activations: rowsPath, points: pointsPath, onProgress });
  if (built.atlas.modality !== 'precomputed') throw new Error('The latent atlas was not built from precomputed rows.');
  const atlas: Atlas = { ...built.atlas, model: { ...built.atlas.model, name } };
  await writeFile(join(dir, LATENT_ATLAS_FILE), serializeAtlas(atlas));
  return { atlas, errors: built.errors, live: live.length };
}
