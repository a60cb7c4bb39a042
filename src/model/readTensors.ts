/**
 * Tensors computed in a tidy and read to the host. The read happens after the tidy, not inside it: a typed array that
 * a tidy returns (alone or in an array) is walked key by key by tf.tidy's check for tensors in its result, each value
 * put in a Set, and for a [positions, vocabulary] read that costs seconds (steering's held-out shift on the built-in
 * GPT-2 spent 70% of its time there).
 */
import * as tf from '@tensorflow/tfjs';

/** `fn`'s tensor as a Float32Array on the host; every tensor `fn` made is freed. */
export function readTidy(fn: () => tf.Tensor): Float32Array {
  const [values] = readTidyAll(() => [fn()]);
  return values;
}

/** Each of `fn`'s tensors as a Float32Array on the host, in order; every tensor `fn` made is freed. */
export function readTidyAll(fn: () => tf.Tensor[]): Float32Array[] {
  const tensors = tf.tidy(fn);
  try {
    return tensors.map((t) => t.dataSync() as Float32Array);
  } finally {
    tf.dispose(tensors);
  }
}
