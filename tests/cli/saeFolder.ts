import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Modality } from '../../src/compute/atlas';
import { createRng, gaussian } from '../../src/lib/rng';
import type { Sae } from '../../src/model/sae/sae';
import { SAE_CFG_FILE, SAE_WEIGHTS_FILE, writeSaeLens } from '../../src/model/sae/saelens';
import { tempDir } from '../tempDir';

/** A seeded TopK SAE with gaussian weights and unit decoder rows; layer null: SAELens files without a hook_name. */
export function randomSae(options: { dIn: number; dSae: number; k: number; layer: string | null; seed: number }): Sae {
  const { dIn, dSae, k, layer, seed } = options;
  const random = createRng(seed);
  const normal = (n: number, scale: number) => Float32Array.from({ length: n }, () => scale * gaussian(random));
  const wDec = normal(dSae * dIn, 1);
  for (let i = 0; i < dSae; i++) {
    const row = wDec.subarray(i * dIn, (i + 1) * dIn);
    const norm = Math.hypot(...row);
    row.forEach((x, j) => (row[j] = x / norm));
  }
  return {
    config: { architecture: 'topk', dIn, dSae, k, applyBDecToInput: true, layer, modelName: null },
    weights: { W_enc: normal(dIn * dSae, 1 / Math.sqrt(dIn)), W_dec: wDec, b_enc: normal(dSae, 0.1), b_dec: normal(dIn, 0.1) },
  };
}

/** Writes `sae` as SAELens's files into a new folder and returns its path. */
export function writeSaeFolder(sae: Sae, modality: Modality): string {
  const dir = tempDir('sae-folder-');
  const files = writeSaeLens(sae, { modality });
  writeFileSync(join(dir, SAE_CFG_FILE), files.cfg);
  writeFileSync(join(dir, SAE_WEIGHTS_FILE), files.weights);
  return dir;
}
