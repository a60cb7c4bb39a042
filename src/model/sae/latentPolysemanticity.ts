/**
 * Polysemanticity of SAE latents by neuron embeddings (Foote 2024), Foote's own suggestion for evaluating SAEs: a
 * latent is a neuron whose input weights are its encoder column W_enc[:, i] and whose input is what the encoder
 * reads, x - b_dec (or x); an example's embedding is that input times those weights, elementwise, so it sums to the
 * latent's pre-activation less b_enc. The examples (rows at >= 75% of the latent's maximum) are clustered by cosine
 * similarity exactly as the neurons' are (compute/directions/neuronClusters.ts), so the two histograms compare.
 */
import { neuronClusters, neuronEmbeddings } from '../../compute/directions/neuronClusters';
import { EXAMPLE_FRACTION, type PolysemanticityOptions } from '../directions/polysemanticity';
import { createPacer, nextTask, type PacedOptions } from '../../lib/yieldToPage';
import { SaeInputError, type Sae, type SparseLatents } from './sae';

export interface LatentPolysemanticity {
  index: number;
  /** Rows at >= the fraction of the latent's maximum activation. */
  examples: number;
  /** Examples clustered: all, or the maxExamples most active. */
  clusteredExamples: number;
  /** Cluster sizes, largest first. */
  clusters: number[];
  polysemanticity: number;
}

export interface SaePolysemanticity {
  latents: LatentPolysemanticity[];
  /** histogram[k] latents have k clusters of at least minMembers examples. */
  histogram: number[];
  meanPolysemanticity: number;
  /** Latents with no example (never active on these rows). */
  deadLatents: number;
  /** Latents with more than maxExamples examples, of which only the most active were clustered. */
  capped: number;
}

/**
 * Each latent's polysemanticity over `activations` (count x dIn rows) and their sparse latents from encodeSae. It
 * pauses between latents (`signal` stops it; `onProgress` counts latents), so a worker stays responsive.
 */
export async function measureLatentPolysemanticity(
  sae: Sae,
  activations: Float32Array,
  latents: SparseLatents,
  options: PolysemanticityOptions & PacedOptions,
): Promise<SaePolysemanticity> {
  const { dIn, dSae, applyBDecToInput } = sae.config;
  if (latents.dSae !== dSae || latents.count * dIn !== activations.length) throw new SaeInputError(`The latents (${latents.count} rows of ${latents.dSae}) do not belong to these ${activations.length / dIn} rows and this SAE.`);
  const fraction = options.fraction ?? EXAMPLE_FRACTION;
  // Each latent's active rows and values, gathered once from the compressed rows.
  const fired = new Int32Array(dSae);
  for (const i of latents.latent) fired[i]++;
  const start = new Int32Array(dSae + 1);
  for (let i = 0; i < dSae; i++) start[i + 1] = start[i] + fired[i];
  const rowOf = new Int32Array(latents.latent.length);
  const valueOf = new Float32Array(latents.latent.length);
  const at = start.slice(0, dSae);
  for (let r = 0; r < latents.count; r++) {
    for (let e = latents.rowStart[r]; e < latents.rowStart[r + 1]; e++) {
      const i = latents.latent[e];
      rowOf[at[i]] = r;
      valueOf[at[i]++] = latents.value[e];
    }
  }
  const weights = new Float32Array(dIn);
  const bDec = sae.weights.b_dec;
  const out: LatentPolysemanticity[] = [];
  const histogram: number[] = [];
  let capped = 0;
  const pacer = createPacer(options.signal, 50, 'Measuring the latents cancelled', nextTask);
  for (let i = 0; i < dSae; i++) {
    if (pacer.due()) {
      options.onProgress?.(i, dSae);
      await pacer.pause();
    }
    const rows = rowOf.subarray(start[i], start[i + 1]);
    const values = valueOf.subarray(start[i], start[i + 1]);
    let max = 0;
    for (const v of values) max = Math.max(max, v);
    let examples = Array.from(rows.keys()).filter((j) => max > 0 && values[j] >= fraction * max);
    const count = examples.length;
    if (options.maxExamples !== undefined && count > options.maxExamples) {
      examples = examples.sort((a, b) => values[b] - values[a] || a - b).slice(0, options.maxExamples);
      capped++;
    }
    const m = examples.length;
    const inputs = new Float32Array(m * dIn);
    examples.forEach((j, e) => {
      const base = rows[j] * dIn;
      for (let d = 0; d < dIn; d++) inputs[e * dIn + d] = activations[base + d] - (applyBDecToInput ? bDec[d] : 0);
    });
    for (let d = 0; d < dIn; d++) weights[d] = sae.weights.W_enc[d * dSae + i];
    const { clusters, polysemanticity } = neuronClusters(neuronEmbeddings(inputs, m, dIn, weights), m, dIn, { threshold: options.threshold, minMembers: options.minMembers });
    out.push({ index: i, examples: count, clusteredExamples: m, clusters: clusters.map((c) => c.length), polysemanticity });
    while (histogram.length <= polysemanticity) histogram.push(0);
    histogram[polysemanticity]++;
  }
  // The last step always comes, so a progress bar ends full however few latents there were.
  options.onProgress?.(dSae, dSae);
  return {
    latents: out,
    histogram,
    meanPolysemanticity: out.reduce((s, l) => s + l.polysemanticity, 0) / Math.max(1, dSae),
    deadLatents: out.filter((l) => l.examples === 0).length,
    capped,
  };
}
