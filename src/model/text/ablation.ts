/**
 * Ablation of a direction or a unit in a GPT-2 layer (issue 20): the mean next-token loss over a set of windows,
 * clean and with the layer's activations changed at every position, against the same ablation of random
 * directions (or random units), with a one-sided test of "this ablation raises the loss more than random ones".
 *
 * Every ablation of a batch shares one forward up to the layer (Gpt2Model.splitAt); each then runs the rest of the
 * model once. The change itself is the shared `intervene` (src/model/intervention.ts) that Gpt2Model applies, so an ablation here is the same forward as
 * model.logits(ids, intervention) (tests/model/text/ablation.test.ts checks it).
 */
import * as tf from '@tensorflow/tfjs';
import { versusRandom, type VersusRandom } from '../../compute/directions/stats';
import { createPacer, nextTask, type PacedOptions } from '../../lib/yieldToPage';
import { ablationControls, ablationOf, type AblationMode, type AblationTarget } from '../intervention';
import { readTidy } from '../readTensors';
import { Gpt2InputError, intervene, layerWidth, type Gpt2Model, type Intervention } from './gpt2';
import { nextTokenIndexes, summedNextTokenLoss, targetTensors } from './nextTokenLoss';
import { lengthBatches } from './recordText';

export type { AblationMode, AblationTarget } from '../intervention';
export { ablationOf } from '../intervention';

export interface AblatedLosses {
  /** Windows scored (those of at least 2 tokens). */
  windows: number;
  /** Next-token predictions scored: every position but each window's last (with `only`, those predicting one of its tokens). */
  predictions: number;
  /** Mean cross-entropy (nats per token) of the model as it is. */
  clean: number;
  /** The same with each ablation, in the order given. */
  ablated: number[];
}

export interface AblationOptions extends PacedOptions {
  /** Windows per forward; memory follows batchSize x tokens x vocabulary (the logits). Default 4. */
  batchSize?: number;
  /** Score only the predictions whose next token is one of these ids (e.g. the words a direction is about); default: all. */
  only?: readonly number[];
}

/** Each unit's mean over every position but token 0 (<|endoftext|>, whose activations are outliers) of `windows`: what mean-ablation sets a unit to. */
export function unitMeans(model: Gpt2Model, layer: string, windows: readonly Int32Array[]): Float32Array {
  const width = layerWidth(model, layer);
  const sums = new Float64Array(width);
  let count = 0;
  for (const ids of windows) {
    if (ids.length < 2) continue;
    const rows = readTidy(() => model.record([ids], layer).slice([0, 1, 0], [1, -1, -1]).sum([0, 1]));
    for (let u = 0; u < width; u++) sums[u] += rows[u];
    count += ids.length - 1;
  }
  if (count === 0) throw new Gpt2InputError('No window holds two tokens: there is no position to take a mean over.');
  return Float32Array.from(sums, (s) => s / count);
}

/** The mean next-token loss over `windows`, clean and with each of `ablations` (all at one layer), sharing each batch's forward up to that layer. */
export async function ablatedLosses(model: Gpt2Model, windows: readonly Int32Array[], ablations: readonly Intervention[], options: AblationOptions = {}): Promise<AblatedLosses> {
  const layer = ablations[0]?.layer;
  if (layer === undefined) throw new Gpt2InputError('No ablation to measure.');
  const other = ablations.find((a) => a.layer !== layer);
  if (other) throw new Gpt2InputError(`Every ablation of one pass is at one layer: ${layer} and ${other.layer}.`);
  layerWidth(model, layer);
  const batchSize = options.batchSize ?? 4;
  if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new Gpt2InputError(`The batch size must be a positive integer, not ${batchSize}.`);
  const scored = windows.filter((w) => w.length >= 2);
  const only = options.only && new Set(options.only);
  const sums = new Float64Array(1 + ablations.length);
  const pacer = createPacer(options.signal, 50, 'Ablation cancelled', nextTask);
  let predictions = 0;
  let done = 0;
  for (const batch of lengthBatches(scored, batchSize)) {
    const ids = batch.map((w) => scored[w]);
    const indexes = nextTokenIndexes(ids, model.config.vocabSize, only);
    const count = indexes.positions.length;
    if (count > 0) {
      const losses = tf.tidy(() => {
        const { activation, logitsFrom } = model.splitAt(ids, layer);
        const { predicting, targets } = targetTensors(indexes);
        // One loss at a time, so that only one set of logits [batch, tokens, vocab] is alive at once.
        const loss = (value: tf.Tensor3D) => tf.tidy(() => summedNextTokenLoss(logitsFrom(value), predicting, targets));
        return tf.stack([loss(activation), ...ablations.map((a) => loss(intervene(activation, a)))]);
      });
      let values: Float32Array;
      try {
        values = (await losses.data()) as Float32Array;
      } finally {
        losses.dispose();
      }
      for (let k = 0; k < sums.length; k++) sums[k] += values[k];
      predictions += count;
    }
    done += ids.length;
    options.onProgress?.(done, scored.length);
    if (pacer.due()) await pacer.pause();
    else pacer.check();
  }
  if (predictions === 0) {
    throw new Gpt2InputError(only ? 'No window predicts any of the watched tokens: there is no loss to measure.' : 'No window holds two tokens: there is no next token to predict.');
  }
  const [clean, ...ablated] = Array.from(sums, (s) => s / predictions);
  return { windows: scored.length, predictions, clean, ablated };
}

export interface AblationTestOptions extends AblationOptions {
  /** Random directions (or units) ablated the same way as controls; at least 2. Default 20. */
  random?: number;
  seed?: number;
  /** Mean mode: each unit's mean (unitMeans) over the texts that set what is usual; default: over `windows` themselves. */
  means?: Float32Array;
}

/** An ablation's loss against the same ablation of random directions or units. */
export interface AblationTest {
  layer: string;
  mode: AblationMode;
  windows: number;
  predictions: number;
  clean: number;
  /** Mean loss with the ablation. */
  ablated: number;
  /** What the controls are: seeded random unit directions (project) or distinct random other units (zero, mean). */
  controls: 'random directions' | 'random units';
  /** The control units, for zero and mean. */
  controlUnits?: number[];
  seed: number;
  /** The ablation's loss increase (ablated − clean) against the controls' increases. */
  increase: VersusRandom;
}

/** Ablates `target` at `layer` and `random` seeded controls the same way, and tests whether the target raises the loss more. */
export async function ablationTest(model: Gpt2Model, layer: string, windows: readonly Int32Array[], target: AblationTarget, mode: AblationMode, options: AblationTestOptions = {}): Promise<AblationTest> {
  const width = layerWidth(model, layer);
  const random = options.random ?? 20;
  const seed = options.seed ?? 0;
  if (!Number.isInteger(random) || random < 2) throw new Gpt2InputError(`The controls need a spread: at least 2 random ablations, not ${random}.`);
  if (target.kind === 'direction' && target.direction.length !== width) {
    throw new Gpt2InputError(`A direction in ${layer} has ${width} components; got ${target.direction.length}.`);
  }
  if (target.kind === 'unit' && !(Number.isInteger(target.unit) && target.unit >= 0 && target.unit < width)) {
    throw new Gpt2InputError(`${layer} has units 0..${width - 1}; got ${target.unit}.`);
  }
  const { controls, controlUnits } = ablationControls(layer, width, target, mode, random, seed);
  if (options.means && options.means.length !== width) throw new Gpt2InputError(`${layer} has ${width} units; got ${options.means.length} means.`);
  const means = mode === 'mean' ? (options.means ?? unitMeans(model, layer, windows)) : undefined;
  const ablations = [target, ...controls].map((t) => ablationOf(layer, mode, t, means));
  const losses = await ablatedLosses(model, windows, ablations, options);
  const [ablated, ...controlLosses] = losses.ablated;
  return {
    layer,
    mode,
    windows: losses.windows,
    predictions: losses.predictions,
    clean: losses.clean,
    ablated,
    controls: controlUnits ? 'random units' : 'random directions',
    ...(controlUnits ? { controlUnits } : {}),
    seed,
    increase: versusRandom(ablated - losses.clean, controlLosses.map((l) => l - losses.clean)),
  };
}
