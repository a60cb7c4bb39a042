/**
 * The latent atlas (issue 19) from the CLI: an SAE's live latents laid out by their decoder rows and binned like any atlas, each
 * cell a family of latents named by their top tokens (text) or labels (images). `npm run sae -- --latent-atlas`
 * writes the unit decoder rows as an .npy and a points table beside the SAE, then builds the atlas from them by the
 * precomputed-activations path (`npm run atlas -- --activations`), so the page opens the atlas file, or the two files
 * on its precomputed import.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Atlas, InputError } from '../compute/atlas';
import type { ProgressCallback } from '../compute/types';
import { serializeAtlas } from '../export/atlasFile';
import { LATENT_POINTS_FILE, LATENT_ROWS_FILE, latentAtlasFiles, type LatentExamples } from '../export/latentAtlasFiles';
import type { Sae } from '../model/sae/sae';
import { buildPrecomputedAtlasInNode } from './precomputed';

export const LATENT_ATLAS_FILE = 'latent-atlas.json';

/**
 * Writes the live latents' unit decoder rows and their points table into `dir` and builds the latent atlas from them;
 * returns it with the count of latents laid out. Throws when fewer than two latents are alive.
 */
export async function writeLatentAtlas(dir: string, sae: Sae, latents: LatentExamples[], name: string, onProgress?: ProgressCallback): Promise<{ atlas: Atlas; errors: InputError[]; live: number }> {
  const files = latentAtlasFiles(sae.weights.W_dec, sae.config.dIn, latents);
  const rowsPath = join(dir, LATENT_ROWS_FILE);
  const pointsPath = join(dir, LATENT_POINTS_FILE);
  await writeFile(rowsPath, files.npy);
  await writeFile(pointsPath, files.jsonl);
  const built = await buildPrecomputedAtlasInNode({ activations: rowsPath, points: pointsPath, onProgress });
  if (built.atlas.modality !== 'precomputed') throw new Error('The latent atlas was not built from precomputed rows.');
  const atlas: Atlas = { ...built.atlas, model: { ...built.atlas.model, name } };
  await writeFile(join(dir, LATENT_ATLAS_FILE), serializeAtlas(atlas));
  return { atlas, errors: built.errors, live: files.live };
}
