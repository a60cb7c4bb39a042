/**
 * "Loss recovered" (SAELens's and SAEBench's figure) of an SAE on a GPT-2 layer: the next-token cross-entropy
 * over a set of windows (a) clean, (b) with the layer replaced by the SAE's reconstruction, (c) with the layer
 * zero-ablated; loss recovered = (zero - spliced) / (zero - clean): 1 when the reconstruction loses nothing the
 * rest of the model uses, 0 when it is as bad as removing the layer.
 *
 * The layer is replaced through Gpt2Model.splitAt, so the clean, spliced and ablated losses share one forward up
 * to the layer. Token 0 of every window is <|endoftext|>, which recording never keeps, so the SAE was not trained
 * on it (its activations there are often outliers): the loss is given both with every position spliced and with
 * token 0 left clean.
 */
import * as tf from '@tensorflow/tfjs';
import { createPacer, nextTask, type PacedOptions } from '../../lib/yieldToPage';
import type { Gpt2Model } from '../text/gpt2';
import { nextTokenTargets, summedNextTokenLoss } from '../text/nextTokenLoss';
import { lengthBatches } from '../text/recordText';
import { SaeInputError, type Sae } from './sae';

export interface SaeLossRecovered {
  /** Windows scored (those of at least 2 tokens). */
  windows: number;
  /** Next-token predictions scored: every position but each window's last. */
  predictions: number;
  /** Mean cross-entropy (nats per token) of the model as it is. */
  clean: number;
  /** With the layer replaced by the SAE's reconstruction at every position. */
  spliced: number;
  /** With the reconstruction at every position but token 0 (<|endoftext|>, never in the training rows). */
  splicedExceptFirst: number;
  /** With the layer set to zero at every position. */
  zero: number;
  /** (zero - spliced) / (zero - clean); NaN when zero-ablation leaves the loss unchanged (meaningless unless zero > clean). */
  lossRecovered: number;
  /** The same with token 0 left clean. */
  lossRecoveredExceptFirst: number;
}

export interface SaeLossRecoveredOptions extends PacedOptions {
  /** Windows per forward; memory follows batchSize x tokens x vocabulary (the logits). Default 4. */
  batchSize?: number;
  /**
   * An earlier measure over the same windows (of another SAE of the layer, as training measures each epoch's): its
   * clean and zero-ablated losses, which no SAE changes, are taken as they are, and only the spliced passes run.
   */
  baseline?: SaeLossRecovered;
}

/** The SAE as tensors; the caller disposes them. */
interface SaeTensors {
  wEnc: tf.Tensor2D;
  wDec: tf.Tensor2D;
  bEnc: tf.Tensor1D;
  bDec: tf.Tensor1D;
}

/** The SAE's reconstruction of [rows, dIn] activations, dense on the backend (ties at the k-th value may keep a few more than k). */
function reconstruct(sae: Sae, t: SaeTensors, x: tf.Tensor2D): tf.Tensor2D {
  const { architecture, k, applyBDecToInput } = sae.config;
  const pre = tf.add(tf.matMul(applyBDecToInput ? tf.sub(x, t.bDec) : x, t.wEnc), t.bEnc) as tf.Tensor2D;
  let latents = tf.relu(pre);
  if (architecture === 'topk') {
    const kth = tf.topk(pre, k!).values.slice([0, k! - 1], [-1, 1]);
    latents = tf.mul(latents, tf.cast(tf.greaterEqual(pre, kth), 'float32'));
  }
  return tf.add(tf.matMul(latents, t.wDec), t.bDec) as tf.Tensor2D;
}

/** The clean, SAE-spliced and zero-ablated next-token losses of `model` over `windows` at `layer`, and the loss recovered. */
export async function saeLossRecovered(model: Gpt2Model, sae: Sae, layer: string, windows: readonly Int32Array[], options: SaeLossRecoveredOptions = {}): Promise<SaeLossRecovered> {
  const width = model.layers.find((l) => l.name === layer)?.width;
  if (width === undefined) throw new SaeInputError(`${layer} is not a layer of this GPT-2; layers are h.I.attn, h.I.mlp.act and h.I.`);
  if (sae.config.dIn !== width) throw new SaeInputError(`The SAE reads ${sae.config.dIn}-wide rows, but ${layer} is ${width} wide.`);
  const batchSize = options.batchSize ?? 4;
  if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new SaeInputError(`The batch size must be a positive integer, not ${batchSize}.`);
  const scored = windows.filter((w) => w.length >= 2);
  const { dIn, dSae } = sae.config;
  const tensors: SaeTensors = {
    wEnc: tf.tensor2d(sae.weights.W_enc, [dIn, dSae]),
    wDec: tf.tensor2d(sae.weights.W_dec, [dSae, dIn]),
    bEnc: tf.tensor1d(sae.weights.b_enc),
    bDec: tf.tensor1d(sae.weights.b_dec),
  };
  const { baseline } = options;
  const pacer = createPacer(options.signal, 50, 'Loss recovered cancelled', nextTask);
  const sums = { clean: 0, spliced: 0, splicedExceptFirst: 0, zero: 0 };
  let predictions = 0;
  let done = 0;
  try {
    for (const batch of lengthBatches(scored, batchSize)) {
      const ids = batch.map((w) => scored[w]);
      const tokens = ids[0].length;
      const losses = tf.tidy(() => {
        const { activation, logitsFrom } = model.splitAt(ids, layer);
        const { predicting, targets } = nextTokenTargets(ids, model.config.vocabSize);
        const spliced = reconstruct(sae, tensors, activation.reshape([-1, dIn]) as tf.Tensor2D).reshape(activation.shape) as tf.Tensor3D;
        const firstClean = tf.concat([activation.slice([0, 0, 0], [-1, 1, -1]), spliced.slice([0, 1, 0], [-1, -1, -1])], 1) as tf.Tensor3D;
        // One loss at a time, so that only one set of logits [batch, tokens, vocab] is alive at once.
        const loss = (value: tf.Tensor3D) => tf.tidy(() => summedNextTokenLoss(logitsFrom(value), predicting, targets));
        if (baseline) return tf.stack([loss(spliced), loss(firstClean)]);
        return tf.stack([loss(spliced), loss(firstClean), loss(activation), loss(tf.zerosLike(activation))]);
      });
      let values: Float32Array;
      try {
        values = (await losses.data()) as Float32Array;
      } finally {
        losses.dispose();
      }
      sums.spliced += values[0];
      sums.splicedExceptFirst += values[1];
      if (!baseline) {
        sums.clean += values[2];
        sums.zero += values[3];
      }
      predictions += ids.length * (tokens - 1);
      done += ids.length;
      options.onProgress?.(done, scored.length);
      if (pacer.due()) await pacer.pause();
      else pacer.check();
    }
  } finally {
    tf.dispose(Object.values(tensors));
  }
  if (predictions === 0) throw new SaeInputError('No window holds two tokens: there is no next token to predict.');
  if (baseline && (baseline.windows !== scored.length || baseline.predictions !== predictions)) {
    throw new SaeInputError(`The baseline was measured over ${baseline.windows} windows (${baseline.predictions} predictions), not these ${scored.length} (${predictions}).`);
  }
  const mean = (sum: number) => sum / predictions;
  const [spliced, splicedExceptFirst] = [mean(sums.spliced), mean(sums.splicedExceptFirst)];
  const [clean, zero] = baseline ? [baseline.clean, baseline.zero] : [mean(sums.clean), mean(sums.zero)];
  const recovered = (loss: number) => (zero !== clean ? (zero - loss) / (zero - clean) : Number.NaN);
  return {
    windows: scored.length,
    predictions,
    clean,
    spliced,
    splicedExceptFirst,
    zero,
    lossRecovered: recovered(spliced),
    lossRecoveredExceptFirst: recovered(splicedExceptFirst),
  };
}
