import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Modality } from '../compute/atlas';
import type { Sae } from '../model/sae/sae';
import { readSaeLens, SAE_CFG_FILE, SAE_WEIGHTS_FILE, SaeFileError } from '../model/sae/saelens';

/** The two SAELens files of an --sae folder, read but not yet checked. */
export interface SaeFolderFiles {
  folder: string;
  cfg: string;
  weights: Uint8Array;
}

/** Reads an --sae folder's cfg.json and sae_weights.safetensors; a missing file is a message naming the folder. */
export async function readSaeFolder(folder: string): Promise<SaeFolderFiles> {
  const read = async (file: string) => {
    try {
      return await readFile(join(folder, file));
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      throw new Error(`--sae ${folder}: cannot read ${file} there (${why}); the folder needs ${SAE_CFG_FILE} and ${SAE_WEIGHTS_FILE}, as npm run sae writes them.`);
    }
  };
  // In turn, not together: with both missing, the message names cfg.json every time (together, whichever failed first).
  const cfg = await read(SAE_CFG_FILE);
  const weights = await read(SAE_WEIGHTS_FILE);
  return { folder, cfg: cfg.toString('utf8'), weights: new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength) };
}

/** The SAE of an --sae folder, checked against the recorded layer and width: a mismatch or a broken file is a message naming the folder. */
export function openSaeForLayer(files: SaeFolderFiles, modality: Modality, layer: string, width: number): Sae {
  try {
    return readSaeLens(files, { modality, target: { layer, width } });
  } catch (e) {
    if (e instanceof SaeFileError) throw new Error(`--sae ${files.folder}: ${e.message}`);
    throw e;
  }
}
