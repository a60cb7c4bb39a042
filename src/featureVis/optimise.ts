import * as tf from '@tensorflow/tfjs';
import { abortError } from '../lib/abort';
import { createRng, gaussian } from '../lib/rng';
import { nextTask } from '../lib/yieldToPage';
import type { ImageModel } from '../model/image/imageModel';
import { directionObjective, layerFunction, layerVectors, objectiveTargets, toModelInput, type ObjectiveOptions } from './objective';
import { FourierImage, rowsToImages } from './parameterisation';
import { IDENTITY_TRANSFORM, resampleMode, resampleRows, resampleTaps, sampleTransform, weakenTransform, type TransformOptions } from './transforms';

export interface VisualiseOptions extends ObjectiveOptions {
  /** Adam steps per try. */
  steps?: number;
  /** Independent starts per icon; the best-scoring one is kept. */
  tries?: number;
  seed?: number;
  /** Side of the optimised image and of the returned icons; the model's input size by default (resampled to it when different). */
  size?: number;
  /** 3 x 3 colour basis from colourBasisFromImages (RGB models); none means plain RGB. */
  colourBasis?: Float32Array;
  learningRate?: number;
  /** Icons optimised together in one batch (one graph, one Adam). */
  batchSize?: number;
  /** 'centre' (spatial layers, the default) or 'pooled' (for atlases recorded as one pooled vector per input). */
  site?: 'centre' | 'pooled';
  /** Robustness transforms, or false for none. */
  transforms?: TransformOptions | false;
  /** Final fraction of the steps over which the transforms fade to none, settling the icon as it is scored (0.2). */
  settle?: number;
  /** Exponent of the 1/f spectrum scaling. */
  decayPower?: number;
  onProgress?: (progress: { done: number; total: number }) => void;
  signal?: AbortSignal;
}

export interface VisualiseResult {
  /** One RGBA image per direction, width x height. */
  images: Uint8ClampedArray[];
  width: number;
  height: number;
  /** The objective of each final icon (untransformed, at the model's input size). */
  scores: Float32Array;
  /** The TF.js backend the icons were computed on. */
  backend: string;
}

/**
 * Feature visualisation of k directions at a layer (directions: k x D row-major) by gradient ascent on
 * Fourier-parameterised images with robustness transforms, many icons per batch. Runs on the current
 * TF.js backend (see chooseFeatureVisBackend); leaves no tensors behind, also when cancelled.
 */
export async function visualiseDirections(
  model: ImageModel,
  layer: string,
  directions: Float32Array,
  options: VisualiseOptions = {},
): Promise<VisualiseResult> {
  const info = model.layer(layer);
  const dim = info.shape[info.shape.length - 1];
  const k = directions.length / dim;
  if (!Number.isInteger(k) || k === 0) throw new Error(`visualiseDirections: ${directions.length} values are not whole ${dim}-d directions`);
  const { inputHeight: modelH, inputWidth: modelW, inputChannels: channels } = model;
  const height = options.size ?? modelH;
  const width = options.size ? Math.max(1, Math.round((options.size * modelW) / modelH)) : modelW;
  const steps = options.steps ?? 256;
  const tries = options.tries ?? 1;
  const seed = options.seed ?? 0;
  const batchSize = options.batchSize ?? 16;
  const power = options.cossimPower ?? 2;
  const site = info.positionShape.length === 2 ? (options.site ?? 'centre') : 'centre';
  const targets = objectiveTargets(directions, dim, options.whitening);
  const forward = layerFunction(model, layer);
  const total = Math.ceil(k / batchSize) * tries * steps;
  const settleSteps = Math.round((options.settle ?? 0.2) * steps);
  // Square icons are transformed at their own size (a fifth of the taps of 224 for a 96 icon), then resized
  // bilinearly to the model's input; tfjs 4.22's cpu resize gradient is wrong for non-square images, so those
  // are resampled straight to the model's size.
  const resize = (height !== modelH || width !== modelW) && height === width;
  const [outH, outW] = resize ? [height, width] : [modelH, modelW];
  const mode = resampleMode({ inHeight: height, inWidth: width, outHeight: outH, outWidth: outW });
  const toModelSize = (images: tf.Tensor4D) => (resize ? tf.image.resizeBilinear(images, [modelH, modelW], false, true) : images);
  const finalTaps = !resize && (height !== modelH || width !== modelW) ? resampleTaps(IDENTITY_TRANSFORM, height, width, modelH, modelW) : null;

  const images: Uint8ClampedArray[] = new Array(k);
  const scores = new Float32Array(k).fill(-Infinity);
  let done = 0;
  const colour = options.colourBasis && channels === 3 ? tf.tensor2d(options.colourBasis, [3, 3]) : null;
  try {
    for (let start = 0; start < k; start += batchSize) {
      const end = Math.min(k, start + batchSize);
      const count = end - start;
      const whitened = tf.tensor2d(targets.whitened.subarray(start * dim, end * dim), [count, dim]);
      const unit = tf.tensor2d(targets.unit.subarray(start * dim, end * dim), [count, dim]);
      try {
        for (let attempt = 0; attempt < tries; attempt++) {
          const trySeed = (seed * 7919 + start * 31 + attempt * 1_000_003) >>> 0;
          const image = new FourierImage({ batch: count, height, width, channels, seed: trySeed, decayPower: options.decayPower });
          const optimiser = tf.train.adam(options.learningRate ?? 0.05);
          const random = createRng(trySeed ^ 0x5bd1e995);
          try {
            for (let step = 0; step < steps; step++) {
              if (options.signal?.aborted) throw abortError('Feature visualisation cancelled');
              const drawn = options.transforms === false ? IDENTITY_TRANSFORM : sampleTransform(random, options.transforms ?? {}, Math.max(height, width));
              const transform = settleSteps > 0 ? weakenTransform(drawn, (steps - step - 1) / settleSteps) : drawn;
              const taps = resampleTaps(transform, height, width, outH, outW);
              tf.tidy(() => {
                const climb = () => {
                  const pixels = toModelSize(rowsToImages(resampleRows(image.rows(), taps, mode), outH, outW, channels, colour));
                  const vectors = layerVectors(forward(toModelInput(pixels, model.preprocessing)), site);
                  return tf.neg(tf.sum(directionObjective(vectors, whitened, unit, power))) as tf.Scalar;
                };
                optimiser.minimize(climb, false, [image.coefficients]);
              });
              done++;
              if (step % 8 === 7 || step === steps - 1) {
                options.onProgress?.({ done, total });
                await nextTask();
              }
            }
            const [icon, score] = tf.tidy(() => {
              const rows = image.rows();
              const icon = rowsToImages(rows, height, width, channels, colour);
              const input = finalTaps ? rowsToImages(resampleRows(rows, finalTaps, mode), modelH, modelW, channels, colour) : toModelSize(icon);
              const vectors = layerVectors(forward(toModelInput(input, model.preprocessing)), site);
              return [icon, directionObjective(vectors, whitened, unit, power)];
            });
            const [pixels, values] = await Promise.all([icon.data(), score.data()]).finally(() => tf.dispose([icon, score]));
            for (let i = 0; i < count; i++) {
              if (!(values[i] > scores[start + i]) && images[start + i]) continue;
              scores[start + i] = values[i];
              images[start + i] = toRgba(pixels as Float32Array, i, width * height, channels);
            }
          } finally {
            optimiser.dispose();
            image.dispose();
          }
        }
      } finally {
        tf.dispose([whitened, unit]);
      }
    }
  } finally {
    colour?.dispose();
  }
  return { images, width, height, scores, backend: tf.getBackend() };
}

/** Icon i of a [B, H, W, C] batch in [0, 1] as RGBA bytes (grey for one channel). */
function toRgba(pixels: Float32Array, i: number, area: number, channels: number): Uint8ClampedArray {
  const out = new Uint8ClampedArray(area * 4);
  const base = i * area * channels;
  for (let p = 0; p < area; p++) {
    for (let ch = 0; ch < 3; ch++) out[p * 4 + ch] = Math.round(255 * pixels[base + p * channels + (channels === 3 ? ch : 0)]);
    out[p * 4 + 3] = 255;
  }
  return out;
}

export { neuronDirections, randomDirections } from '../compute/directions/vectors';
