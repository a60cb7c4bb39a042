import * as tf from '@tensorflow/tfjs';
import { ModelUseError } from '../recordTable';
import type { TextModel } from '../text/textModel';
import { onGradientBackend, type GradientBackendOptions } from './gradientBackend';

export interface NextTokenGradientOptions extends GradientBackendOptions {
  batchSize?: number;
}

/**
 * For GPT-2: row i is the gradient of the next-token logit of `tokenId` at position positions[i] of windows[i]
 * with respect to that position's activation at `layer` (h.I.attn, h.I.mlp.act or h.I); rows x D. Rows that name
 * the same window (the same array) share one pass: the later blocks' attention passes gradient to a position's own
 * key and value only (Gpt2Model.splitAt's ownPositions), so one position's row never takes in another's logit.
 * Runs on a backend with the gradient kernels, restores the current one.
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
  // The rows of each window; windows of one length go through in batches.
  const rowsOf = new Map<Int32Array, number[]>();
  windows.forEach((w, i) => (rowsOf.get(w) ?? rowsOf.set(w, []).get(w)!).push(i));
  const byLength = new Map<number, Int32Array[]>();
  for (const w of rowsOf.keys()) (byLength.get(w.length) ?? byLength.set(w.length, []).get(w.length)!).push(w);
  const batchSize = options.batchSize ?? 16;

  return onGradientBackend(() => {
    const out = new Float32Array(windows.length * dim);
    for (const sameLength of byLength.values()) {
      for (let start = 0; start < sameLength.length; start += batchSize) {
        const batch = sameLength.slice(start, start + batchSize);
        const rows = batch.flatMap((w, i) => rowsOf.get(w)!.map((r) => ({ r, at: i * w.length + positions[r] })));
        const grads = tf.tidy(() => {
          const { activation, logitsFrom } = model.gpt2.splitAt(batch, layer, [tokenId], true);
          const [b, t] = activation.shape;
          // A mask rather than a gather: gather's gradient needs UnsortedSegmentSum, which wasm lacks.
          const mask = tf.buffer([b * t, 1]);
          for (const { at } of rows) mask.set(1, at, 0);
          const picked = mask.toTensor().reshape([b, t, 1]);
          const score = (a: tf.Tensor) => tf.sum(tf.mul(logitsFrom(a as tf.Tensor3D), picked)) as tf.Scalar;
          return tf.gather(tf.reshape(tf.grad(score)(activation), [b * t, dim]), tf.tensor1d(rows.map(({ at }) => at), 'int32'));
        });
        try {
          const values = grads.dataSync();
          rows.forEach(({ r }, i) => out.set(values.subarray(i * dim, (i + 1) * dim), r * dim));
        } finally {
          grads.dispose();
        }
      }
    }
    return out;
  }, options);
}
