import type * as tf from '@tensorflow/tfjs';
import { neuronClusters, neuronEmbeddings, neuronExamples } from '../../compute/directions/neuronClusters';
import { gatherRows } from '../../compute/directions/vectors';
import type { ProgressCallback } from '../../compute/types';
import { abortError } from '../../lib/abort';
import { yieldToPage } from '../../lib/yieldToPage';
import { ModelUseError } from '../recordTable';
import { lengthBatches } from '../text/recordText';
import type { TextModel } from '../text/textModel';

/**
 * One MLP layer's neurons and what they read, per recorded token (token 0, `<|endoftext|>`, never recorded):
 * rows in window order, then token order.
 */
export interface NeuronInputs {
  layer: string;
  /** Recorded tokens N. */
  count: number;
  /** Neurons (nInner). */
  width: number;
  /** Width of a neuron's input (nEmbd). */
  dim: number;
  /** N x width: the neurons after GELU. */
  activations: Float32Array;
  /** N x dim: block I's ln_2 output, what every neuron of the block reads. */
  inputs: Float32Array;
  /** Each row's window and token position in it. */
  window: Int32Array;
  position: Int32Array;
  /** c_fc: kernel dim x width row-major (a neuron's input weights are its column) and bias [width]. */
  kernel: Float32Array;
  bias: Float32Array;
  /** Tokens the windows hold (but token 0); more than `count` when --max-tokens capped the recording. */
  available: number;
}

export interface NeuronInputOptions {
  /** Record at most this many tokens, the first ones in window order. */
  maxTokens?: number;
  /** Windows per forward pass (all of one length); default: as many as make about 4096 tokens. */
  batchSize?: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/** Records an MLP layer's neurons and their inputs (ln_2 output) for every token but the first of each window. */
export async function recordNeuronInputs(model: TextModel, tokenIds: readonly Int32Array[], layer: string, options: NeuronInputOptions = {}): Promise<NeuronInputs> {
  if (!/\.mlp\.act$/.test(layer)) throw new ModelUseError(`Polysemanticity is measured on MLP neurons (h.I.mlp.act); ${layer} is not one.`);
  model.layer(layer);
  const { nEmbd: dim } = model.gpt2.config;
  const width = model.gpt2.config.nInner;
  const available = tokenIds.reduce((n, ids) => n + Math.max(0, ids.length - 1), 0);
  const cap = Math.min(available, options.maxTokens ?? Infinity);
  // Rows per window under the cap: whole windows first, the last one cut short.
  const first = new Int32Array(tokenIds.length + 1);
  const rowsOf = tokenIds.map((ids, w) => {
    const rows = Math.max(0, Math.min(ids.length - 1, cap - first[w]));
    first[w + 1] = first[w] + rows;
    return rows;
  });
  const count = first[tokenIds.length];
  const activations = new Float32Array(count * width);
  const inputs = new Float32Array(count * dim);
  const window = new Int32Array(count);
  const position = new Int32Array(count);
  const recorded = tokenIds.map((_, w) => w).filter((w) => rowsOf[w] > 0);
  let done = 0;
  for (const batch of lengthBatches(recorded.map((w) => tokenIds[w]), options.batchSize)) {
    if (options.signal?.aborted) throw abortError('Recording cancelled');
    const windows = batch.map((b) => recorded[b]);
    const length = tokenIds[windows[0]].length;
    const { inputs: x, activation } = model.gpt2.mlpInputs(windows.map((w) => tokenIds[w]), layer);
    let xs: Float32Array;
    let acts: Float32Array;
    try {
      [xs, acts] = (await Promise.all([x.data(), activation.data()])) as [Float32Array, Float32Array];
    } finally {
      disposeAll(x, activation);
    }
    windows.forEach((w, b) => {
      for (let k = 0; k < rowsOf[w]; k++) {
        const row = first[w] + k;
        const at = b * length + k + 1;
        activations.set(acts.subarray(at * width, (at + 1) * width), row * width);
        inputs.set(xs.subarray(at * dim, (at + 1) * dim), row * dim);
        window[row] = w;
        position[row] = k + 1;
      }
    });
    done += windows.length;
    options.onProgress?.({ stage: 'record', done, total: recorded.length });
    await yieldToPage();
  }
  const { kernel, bias } = model.gpt2.mlpInputWeights(layer);
  return { layer, count, width, dim, activations, inputs, window, position, kernel, bias, available };
}

/** One neuron's activations over the recorded tokens (column `neuron` of the N x width table). */
export function neuronColumn(recorded: NeuronInputs, neuron: number): Float32Array {
  const { count, width, activations } = recorded;
  const out = new Float32Array(count);
  for (let r = 0; r < count; r++) out[r] = activations[r * width + neuron];
  return out;
}

/** A neuron's input weights: column `neuron` of c_fc (dim). */
export function neuronWeights(recorded: NeuronInputs, neuron: number): Float32Array {
  const { dim, width, kernel } = recorded;
  const out = new Float32Array(dim);
  for (let j = 0; j < dim; j++) out[j] = kernel[j * width + neuron];
  return out;
}

export interface PolysemanticityOptions {
  /** Cosine similarity that joins two examples. */
  threshold: number;
  /** Members a cluster needs to count. */
  minMembers: number;
  /** An example reaches this fraction of the neuron's maximum; 0.75 unless given. */
  fraction?: number;
  /** Cluster at most this many examples, the most active ones; all unless given. */
  maxExamples?: number;
}

/** One neuron's examples and the clusters of their embeddings. */
export interface NeuronPolysemanticity {
  neuron: number;
  maxActivation: number;
  /** Rows (recorded tokens) whose activation reaches the fraction of the maximum, ascending. */
  examples: Int32Array;
  /** The examples clustered: all of them, or the maxExamples most active. */
  clustered: Int32Array;
  /** Clusters as rows, largest first; each ascending by row. */
  clusters: number[][];
  polysemanticity: number;
}

/**
 * Polysemanticity of one neuron by neuron embeddings (Foote 2024): its examples' inputs times its input
 * weights, clustered by cosine similarity; the count of clusters with at least minMembers examples.
 */
export function neuronPolysemanticity(recorded: NeuronInputs, neuron: number, options: PolysemanticityOptions): NeuronPolysemanticity {
  const column = neuronColumn(recorded, neuron);
  let maxActivation = -Infinity;
  for (const a of column) if (a > maxActivation) maxActivation = a;
  const examples = neuronExamples(column, options.fraction ?? 0.75);
  let clustered = examples;
  if (options.maxExamples !== undefined && examples.length > options.maxExamples) {
    const top = Array.from(examples).sort((a, b) => column[b] - column[a] || a - b).slice(0, options.maxExamples);
    clustered = Int32Array.from(top.sort((a, b) => a - b));
  }
  const m = clustered.length;
  const embeddings = neuronEmbeddings(gatherRows(recorded.inputs, clustered, recorded.dim), m, recorded.dim, neuronWeights(recorded, neuron));
  const { clusters, polysemanticity } = neuronClusters(embeddings, m, recorded.dim, { threshold: options.threshold, minMembers: options.minMembers });
  return {
    neuron,
    maxActivation: Number.isFinite(maxActivation) ? maxActivation : 0,
    examples,
    clustered,
    clusters: clusters.map((c) => c.map((i) => clustered[i])),
    polysemanticity,
  };
}

function disposeAll(...tensors: tf.Tensor[]): void {
  for (const t of tensors) t.dispose();
}
