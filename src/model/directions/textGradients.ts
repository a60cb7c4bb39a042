import * as tf from '@tensorflow/tfjs';
import { ModelUseError } from '../recordTable';
import type { TextModel } from '../text/textModel';
import { onGradientBackend, type GradientBackendOptions } from './gradientBackend';

export interface NextTokenGradientOptions extends GradientBackendOptions {
  batchSize?: number;
}

/**
 * For GPT-2: row i is the gradient of the next-token logit of `tokenId` at position positions[i] of windows[i]
 * with respect to that position's activation at `layer` (h.I.attn, h.I.mlp.act or h.I); rows x D. Each row is
 * its own sequence in the batch, so a window named twice never mixes one position's logit into another's row
 * (a later logit also depends on earlier positions). Runs on a backend with the gradient kernels, restores the current one.
 */
export async function nextTokenGradients(
  model: TextModel,
  layer: string,
  windows: Int32Array[],
  positions: number[],
  tokenId: number,
  options: NextTokenGradientOptions = {},
): Promise<Float32Array> {
  const info = model.layer(layer);
  const dim = info.shape[info.shape.length - 1];
  if (windows.length !== positions.length) throw new ModelUseError(`${windows.length} windows but ${positions.length} positions: give one position per window.`);
  positions.forEach((p, i) => {
    if (!Number.isInteger(p) || p < 0 || p >= windows[i].length) throw new ModelUseError(`Position ${p} is outside window ${i} of ${windows[i].length} tokens.`);
  });
  // Rows are batched with windows of their own length.
  const byLength = new Map<number, number[]>();
  windows.forEach((w, i) => {
    const rows = byLength.get(w.length);
    if (rows) rows.push(i);
    else byLength.set(w.length, [i]);
  });
  const batchSize = options.batchSize ?? 16;

  return onGradientBackend(() => {
    const out = new Float32Array(windows.length * dim);
    for (const rows of byLength.values()) {
      for (let start = 0; start < rows.length; start += batchSize) {
        const batch = rows.slice(start, start + batchSize);
        const grads = tf.tidy(() => {
          const { activation, logitsFrom } = model.gpt2.splitAt(batch.map((r) => windows[r]), layer, [tokenId]);
          const [b, t] = activation.shape;
          const at = tf.tensor1d(batch.map((r, i) => i * t + positions[r]), 'int32');
          // A mask rather than a gather: gather's gradient needs UnsortedSegmentSum, which wasm lacks.
          const mask = tf.buffer([b, t, 1]);
          batch.forEach((r, i) => mask.set(1, i, positions[r], 0));
          const picked = mask.toTensor();
          const score = (a: tf.Tensor) => tf.sum(tf.mul(logitsFrom(a as tf.Tensor3D), picked)) as tf.Scalar;
          return tf.gather(tf.reshape(tf.grad(score)(activation), [b * t, dim]), at);
        });
        try {
          const values = grads.dataSync();
          batch.forEach((r, i) => out.set(values.subarray(i * dim, (i + 1) * dim), r * dim));
        } finally {
          grads.dispose();
        }
      }
    }
    return out;
  }, options);
}
