import type * as tf from '@tensorflow/tfjs';
import type { ProgressCallback } from '../../compute/types';
import { abortError } from '../../lib/abort';
import { yieldToPage } from '../../lib/yieldToPage';
import { ModelUseError } from '../recordTable';
import { lengthBatches } from '../text/recordText';
import type { TextModel } from '../text/textModel';

/**
 * One layer's neurons and what their weights read, per recorded row, in either modality. GPT-2 (this file):
 * an MLP layer per token (token 0, `<|endoftext|>`, never recorded), rows in window order, then token order.
 * Images: see `ImageNeuronInputs`. Each embedding (input times a neuron's weights) sums to the pre-activation
 * less the bias.
 */
export interface NeuronInputs {
  layer: string;
  /** Recorded rows N (tokens, or image positions). */
  count: number;
  /** Neurons (GPT-2: nInner; images: channels or units). */
  width: number;
  /** Width of a neuron's input (GPT-2: nEmbd; a convolution: kh x kw x cin). */
  dim: number;
  /** N x width: the neurons after their nonlinearity (GPT-2: GELU). */
  activations: Float32Array;
  /** N x dim: what every neuron of the layer reads (GPT-2: block I's ln_2 output). */
  inputs: Float32Array;
  /** Each row's window (GPT-2) or image and its position there. */
  window: Int32Array;
  position: Int32Array;
  /** Input weights: kernel dim x width row-major (a neuron's input weights are its column) and bias [width] (GPT-2: c_fc). */
  kernel: Float32Array;
  bias: Float32Array;
  /** Rows the inputs hold; more than `count` when the recording was capped (GPT-2: --max-tokens). */
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

/** One neuron's activations over the recorded rows (column `neuron` of the N x width table). */
export function neuronColumn(recorded: NeuronInputs, neuron: number): Float32Array {
  const { count, width, activations } = recorded;
  const out = new Float32Array(count);
  for (let r = 0; r < count; r++) out[r] = activations[r * width + neuron];
  return out;
}

/** A neuron's input weights: column `neuron` of the kernel (dim). */
export function neuronWeights(recorded: NeuronInputs, neuron: number): Float32Array {
  const { dim, width, kernel } = recorded;
  const out = new Float32Array(dim);
  for (let j = 0; j < dim; j++) out[j] = kernel[j * width + neuron];
  return out;
}

function disposeAll(...tensors: tf.Tensor[]): void {
  for (const t of tensors) t.dispose();
}
