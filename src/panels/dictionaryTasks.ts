import type { LatentTop, RowsLatent, SaeTrainRequest } from '../workers/protocol';

/**
 * What the dictionary panel asks of the page's SAE tasks (the app's `DictionaryController`). Training and opening
 * report through the store's `saeTask`, `saeCurve` and `saeSummary`; a failure is a message there.
 */
export interface DictionaryTasks {
  train(request: SaeTrainRequest): Promise<void>;
  /** Opens SAELens's cfg.json and .safetensors, picked together. */
  open(files: File[]): Promise<void>;
  /** Downloads the SAE held as SAELens's two files. */
  save(): Promise<void>;
  latentTop(latent: number): Promise<LatentTop>;
  /** Opens the held SAE's latent atlas (its live latents by their decoder rows) in a new tab; a failure is `saeTask`'s message. */
  openLatentAtlas(): Promise<void>;
  /** The held SAE's `k` strongest latents over the given points of the atlas (a cell's). */
  strongestLatents(points: Int32Array, k: number): Promise<RowsLatent[]>;
  /** The held SAE's latents by polysemanticity (null threshold: the modality's), into the store's `saePolysemanticity`. */
  latentPolysemanticity(threshold: number | null, minMembers: number): Promise<void>;
  /** A GPT-2 layer's SAE spliced in for the layer over the atlas's first `contexts` contexts (as typed), into the store's `saeLossRecovered`. */
  lossRecovered(contexts: string): Promise<void>;
  /** Stops the training or opening under way; the SAE held before stays. */
  cancel(): void;
}
