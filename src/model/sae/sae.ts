/**
 * A sparse autoencoder (SAE) as plain data: its config and four Float32Arrays, named and laid out as SAELens
 * stores them, so that one object crosses a worker boundary, goes to a file and comes back without conversion.
 *
 * encode: pre = (x - b_dec) @ W_enc + b_enc (b_dec subtracted only when applyBDecToInput), then
 *   topk: the k largest pre-activations, ReLU'd, the rest zero; relu: ReLU(pre).
 * decode: x_hat = f @ W_dec + b_dec.
 */

/** The tensors of an SAE by their SAELens names, in the order files list them. */
export const SAE_TENSORS = ['W_enc', 'W_dec', 'b_enc', 'b_dec'] as const;
export type SaeTensorName = (typeof SAE_TENSORS)[number];

/** TopK (Gao et al. 2024) or ReLU with an L1 penalty (SAELens's "standard"). */
export type SaeArchitecture = 'topk' | 'relu';

export interface SaeConfig {
  architecture: SaeArchitecture;
  /** Width of the activations it reads. */
  dIn: number;
  /** Number of latents. */
  dSae: number;
  /** Latents kept per row (topk); null for relu. */
  k: number | null;
  /** Whether encode subtracts b_dec from the input first (SAELens's apply_b_dec_to_input; true for SAEs trained here). */
  applyBDecToInput: boolean;
  /** The layer it reads, in this tool's names (`h.2.mlp.act`, a CNN layer's name), or null when unknown. */
  layer: string | null;
  /** The model it was trained on, where known (SAELens's metadata.model_name). */
  modelName: string | null;
}

/** W_enc [dIn, dSae], W_dec [dSae, dIn] (row i is latent i's direction), b_enc [dSae], b_dec [dIn]; row-major. */
export type SaeWeights = Record<SaeTensorName, Float32Array>;

export interface Sae {
  config: SaeConfig;
  weights: SaeWeights;
}

/** The shape of one of an SAE's tensors. */
export function saeTensorShape(name: SaeTensorName, config: Pick<SaeConfig, 'dIn' | 'dSae'>): number[] {
  const { dIn, dSae } = config;
  switch (name) {
    case 'W_enc':
      return [dIn, dSae];
    case 'W_dec':
      return [dSae, dIn];
    case 'b_enc':
      return [dSae];
    case 'b_dec':
      return [dIn];
  }
}

/** Latent activations in compressed sparse rows: row r's non-zero latents are entries rowStart[r] to rowStart[r + 1]. */
export interface SparseLatents {
  /** Rows encoded. */
  count: number;
  dSae: number;
  /** [count + 1] offsets into latent and value. */
  rowStart: Int32Array;
  /** Latent index of each entry; within a row, the largest activation first. */
  latent: Int32Array;
  /** Activation of each entry (always > 0). */
  value: Float32Array;
}

/** One latent's activation on every row (zero where it is not active). */
export function latentColumn(latents: SparseLatents, index: number): Float32Array {
  const column = new Float32Array(latents.count);
  for (let r = 0; r < latents.count; r++) {
    for (let e = latents.rowStart[r]; e < latents.rowStart[r + 1]; e++) {
      if (latents.latent[e] === index) column[r] = latents.value[e];
    }
  }
  return column;
}

/** The dense [count, dSae] matrix of sparse latents (for small inputs and tests: it is count x dSae floats). */
export function denseLatents(latents: SparseLatents): Float32Array {
  const dense = new Float32Array(latents.count * latents.dSae);
  for (let r = 0; r < latents.count; r++) {
    for (let e = latents.rowStart[r]; e < latents.rowStart[r + 1]; e++) dense[r * latents.dSae + latents.latent[e]] = latents.value[e];
  }
  return dense;
}

/** An input the SAE code cannot use: wrong widths, non-finite rows, settings out of range. */
export class SaeInputError extends Error {
  override name = 'SaeInputError';
}
