import * as tf from '@tensorflow/tfjs';
import type { Gpt2Model, Intervention } from './gpt2';
import { tokenTexts } from './tokenizer';

/** A token whose next-token probability an intervention moved, by its mean change over the held-out positions. */
export interface TokenShift {
  id: number;
  text: string;
  /** Mean change in probability (steered − clean) over every position of the held-out contexts. */
  change: number;
}

/** How an intervention moves the next-token distribution over held-out contexts (measured, not estimated). */
export interface ProbabilityShift {
  contexts: number;
  positions: number;
  /** Mean over positions of KL(clean ‖ intervened), nats. */
  klMean: number;
  promoted: TokenShift[];
  suppressed: TokenShift[];
}

/**
 * The root mean square of the activations' component along the unit `direction` at `layer`, over every token of
 * `windows` but the first (<|endoftext|>): the unit a steering strength α is counted in, so that α means the same on
 * every layer and model.
 */
export function projectionScale(model: Gpt2Model, layer: string, direction: Float32Array, windows: Int32Array[]): number {
  let sum = 0;
  let count = 0;
  for (const ids of windows) {
    const along = tf.tidy(() => {
      const acts = model.record([ids], layer);
      const width = acts.shape[2];
      return tf.matMul(acts.reshape([ids.length, width]), tf.tensor2d(direction, [width, 1])).dataSync() as Float32Array;
    });
    for (let t = 1; t < along.length; t++) sum += along[t] * along[t];
    count += Math.max(0, along.length - 1);
  }
  if (count === 0) throw new Error('No held-out tokens to measure the layer on: give texts of at least two tokens.');
  return Math.sqrt(sum / count);
}

/** The change `intervention` makes to the next-token distribution at every position of `windows`: KL, and the tokens most promoted and suppressed. */
export function probabilityShift(model: Gpt2Model, windows: Int32Array[], intervention: Intervention, shown = 10): ProbabilityShift {
  const vocab = model.config.vocabSize;
  const change = new Float64Array(vocab);
  let kl = 0;
  let positions = 0;
  for (const ids of windows) {
    const [clean, changed] = tf.tidy(() => {
      const p = tf.softmax(model.logits([ids]).reshape([ids.length, vocab]));
      const q = tf.softmax(model.logits([ids], intervention).reshape([ids.length, vocab]));
      return [p.dataSync() as Float32Array, q.dataSync() as Float32Array];
    });
    for (let t = 0; t < ids.length; t++) {
      const at = t * vocab;
      for (let i = 0; i < vocab; i++) {
        const [p, q] = [clean[at + i], changed[at + i]];
        change[i] += q - p;
        if (p > 0) kl += p * Math.log(p / Math.max(q, 1e-30));
      }
    }
    positions += ids.length;
  }
  const order = Array.from(change.keys()).sort((a, b) => change[b] - change[a] || a - b);
  const shift = (list: number[]): TokenShift[] => {
    const texts = tokenTexts(list);
    return list.map((id, k) => ({ id, text: texts[k], change: change[id] / positions }));
  };
  return {
    contexts: windows.length,
    positions,
    klMean: kl / positions,
    promoted: shift(order.slice(0, shown)),
    suppressed: shift(order.slice(-shown).reverse()),
  };
}
