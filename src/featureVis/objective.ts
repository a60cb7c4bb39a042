import * as tf from '@tensorflow/tfjs';
import type { ImageModel } from '../model/image/imageModel';
import { normalisePixels, type Preprocessing } from '../model/image/preprocess';
import { whitenDirections } from './whitening';

/** Where a layer's vector is read: the centre position, the spatial mean, or one position per image (-1 = pooled). */
export type VectorSite = 'centre' | 'pooled' | { x: ArrayLike<number>; y: ArrayLike<number> };

export interface ObjectiveOptions {
  /** D x D whitening matrix S (see whiteningMatrix); identity when absent. */
  whitening?: Float32Array;
  /** Exponent p of the cosine term; Lucid's Activation Atlas uses 2. */
  cossimPower?: number;
}

/** Per-direction constants of the objective, k x D each: S v and v / |v|. */
export interface ObjectiveTargets {
  whitened: Float32Array;
  unit: Float32Array;
}

/** Precomputes S v and the unit direction for each of the k directions (k x D). */
export function objectiveTargets(directions: Float32Array, dim: number, whitening?: Float32Array): ObjectiveTargets {
  const whitened = whitening ? whitenDirections(directions, dim, whitening) : Float32Array.from(directions);
  const unit = new Float32Array(directions.length);
  for (let o = 0; o < directions.length; o += dim) {
    let norm = 0;
    for (let i = 0; i < dim; i++) norm += directions[o + i] ** 2;
    norm = Math.sqrt(norm) || 1;
    for (let i = 0; i < dim; i++) unit[o + i] = directions[o + i] / norm;
  }
  return { whitened, unit };
}

const layerFunctions = new WeakMap<object, Map<string, (x: tf.Tensor4D) => tf.Tensor>>();

/** The model from its input to `layer`, as a differentiable function (built once per layer). */
export function layerFunction(model: ImageModel, layer: string): (input: tf.Tensor4D) => tf.Tensor {
  model.layer(layer);
  const tfModel = model.tfModel;
  let perLayer = layerFunctions.get(tfModel);
  if (!perLayer) layerFunctions.set(tfModel, (perLayer = new Map()));
  let fn = perLayer.get(layer);
  if (!fn) {
    if (model.kind === 'graph') {
      const graph = tfModel as tf.GraphModel;
      fn = (x) => graph.execute(x, layer) as tf.Tensor;
    } else {
      const base = tfModel as tf.LayersModel;
      // Shares the base model's weights; never disposed on its own.
      const sub = tf.model({ inputs: base.inputs, outputs: base.getLayer(layer).output as tf.SymbolicTensor });
      fn = (x) => sub.apply(x, { training: false }) as tf.Tensor;
    }
    perLayer.set(layer, fn);
  }
  return fn;
}

/** Images in [0, 1] as the model's inputs (its preprocessing applied). */
export function toModelInput(pixels: tf.Tensor4D, preprocessing: Preprocessing): tf.Tensor4D {
  return tf.tidy(() => normalisePixels(tf.mul(pixels, 255), preprocessing) as tf.Tensor4D);
}

/** One vector per image [B, D] from a layer output [B, H, W, D] or [B, D]. */
export function layerVectors(activation: tf.Tensor, site: VectorSite): tf.Tensor2D {
  return tf.tidy(() => {
    if (activation.rank === 2) return activation as tf.Tensor2D;
    if (activation.rank !== 4) throw new Error(`cannot read vectors from a rank-${activation.rank} layer output`);
    const [b, h, w, d] = activation.shape as [number, number, number, number];
    if (site === 'pooled') return tf.mean(activation, [1, 2]) as tf.Tensor2D;
    if (site === 'centre') {
      return tf.reshape(tf.slice(activation, [0, Math.floor(h / 2), Math.floor(w / 2), 0], [b, 1, 1, d]), [b, d]) as tf.Tensor2D;
    }
    const rows = new Int32Array(b);
    const pooled = new Array<boolean>(b);
    for (let i = 0; i < b; i++) {
      pooled[i] = site.x[i] < 0;
      rows[i] = pooled[i] ? 0 : (i * h + site.y[i]) * w + site.x[i];
    }
    const picked = tf.gather(tf.reshape(activation, [b * h * w, d]), tf.tensor1d(rows, 'int32'));
    if (!pooled.some(Boolean)) return picked as tf.Tensor2D;
    const mask = tf.tensor2d(pooled.map((p) => (p ? 1 : 0)), [b, 1], 'bool');
    return tf.where(mask, tf.mean(activation, [1, 2]), picked) as tf.Tensor2D;
  });
}

/** Activation Atlas objective per row: dot(h, S v) · max(0.1, cos(h, v))^p, shape [B]. */
export function directionObjective(h: tf.Tensor2D, whitened: tf.Tensor2D, unit: tf.Tensor2D, power: number): tf.Tensor1D {
  return tf.tidy(() => {
    const dot = tf.sum(tf.mul(h, whitened), 1);
    // The epsilon sits inside the square root: a dead (all-zero) vector must not give a NaN gradient.
    const norm = tf.sqrt(tf.add(tf.sum(tf.square(h), 1), 1e-8));
    const cos = tf.div(tf.sum(tf.mul(h, unit), 1), norm);
    return tf.mul(dot, tf.pow(tf.maximum(cos, 0.1), power)) as tf.Tensor1D;
  });
}

export interface ScoreOptions extends ObjectiveOptions {
  /** Where each image's vector is read; 'centre' by default, as the icons are optimised. */
  site?: VectorSite;
  batchSize?: number;
}

/**
 * The objective of given images for given directions (image i scored on direction i): how the benchmark
 * compares icons with dataset examples. `pixels` is N x H x W x C in [0, 1] at the model's input size.
 */
export async function scoreImages(
  model: ImageModel,
  layer: string,
  pixels: Float32Array,
  directions: Float32Array,
  options: ScoreOptions = {},
): Promise<Float32Array> {
  const { inputHeight: h, inputWidth: w, inputChannels: c } = model;
  const dim = model.layer(layer).shape.at(-1)!;
  const n = pixels.length / (h * w * c);
  if (!Number.isInteger(n) || directions.length !== n * dim) {
    throw new Error(`scoreImages: ${pixels.length} pixel values and ${directions.length} direction values do not make whole ${h}x${w}x${c} images with ${dim}-d directions`);
  }
  const targets = objectiveTargets(directions, dim, options.whitening);
  const forward = layerFunction(model, layer);
  const site = options.site ?? 'centre';
  const batchSize = options.batchSize ?? 16;
  const scores = new Float32Array(n);
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    const batchSite: VectorSite =
      typeof site === 'string' ? site : { x: Array.from(site.x).slice(start, end), y: Array.from(site.y).slice(start, end) };
    const score = tf.tidy(() => {
      const images = tf.tensor4d(pixels.subarray(start * h * w * c, end * h * w * c), [end - start, h, w, c]);
      const vectors = layerVectors(forward(toModelInput(images, model.preprocessing)), batchSite);
      const whitened = tf.tensor2d(targets.whitened.subarray(start * dim, end * dim), [end - start, dim]);
      const unit = tf.tensor2d(targets.unit.subarray(start * dim, end * dim), [end - start, dim]);
      return directionObjective(vectors, whitened, unit, options.cossimPower ?? 2);
    });
    try {
      scores.set(await score.data(), start);
    } finally {
      score.dispose();
    }
  }
  return scores;
}
