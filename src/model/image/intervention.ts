/**
 * Steering and ablation in an image classifier (issue 20): the class probabilities with a change to one layer's
 * activations at every spatial position, against the same change along seeded random directions. The model is cut
 * at the layer (ImageModel.splitAt); every intervention of a batch shares one forward up to it, and the change
 * itself is the modality-free `intervene` that GPT-2 steering uses.
 */
import * as tf from '@tensorflow/tfjs';
import { versusRandom, type VersusRandom } from '../../compute/directions/stats';
import { gatherRows, range, shuffle } from '../../compute/directions/vectors';
import { createRng } from '../../lib/rng';
import { createPacer, nextTask, type PacedOptions } from '../../lib/yieldToPage';
import { ablationControls, ablationOf, intervene, steeringVectors, type AblationMode, type AblationTarget, type Intervention, type SteeringControls } from '../intervention';
import { readTidyAll } from '../readTensors';
import { ModelUseError } from '../recordTable';
import type { ImageModel } from './imageModel';
import { prepareImage } from './preprocess';
import type { ImageProvider } from './recordImages';

/** Inputs as the model sees them: `count` x height x width x channels, row-major. */
export interface PreparedImages {
  inputs: Float32Array;
  count: number;
}

/** Prepared images with their labels (class indices of the model; -1 where an image has none or another). */
export interface LabelledImages extends PreparedImages {
  labels: Int32Array;
}

/** A provider's images prepared for the model and split in two: held-in (the layer's moments, class concepts) and held-out (the tests). */
export interface SplitImages {
  heldIn: LabelledImages;
  heldOut: LabelledImages;
  /** Images read (of at most `max`). */
  count: number;
  unreadable: { name: string; reason: string }[];
}

/**
 * Reads and prepares the first `max` of `provider`'s images (all by default), then splits them, seeded, into a held-in
 * share and a held-out share (`heldOut`, strictly between 0 and 1; each side gets at least one image). An unreadable
 * image is listed and skipped; fewer than 4 readable ones cannot be split and are refused.
 */
export async function splitImages(model: ImageModel, provider: ImageProvider, options: { heldOut: number; seed: number; max?: number; signal?: AbortSignal }): Promise<SplitImages> {
  const size = model.inputHeight * model.inputWidth * model.inputChannels;
  const total = Math.min(provider.count, options.max ?? provider.count);
  const inputs = new Float32Array(total * size);
  const labels: number[] = [];
  const unreadable: SplitImages['unreadable'] = [];
  const pacer = createPacer(options.signal, 50, 'Reading the images cancelled', nextTask);
  for (let i = 0; i < total; i++) {
    if (pacer.due()) await pacer.pause();
    let prepared;
    try {
      prepared = prepareImage(await provider.load(i), { height: model.inputHeight, width: model.inputWidth, channels: model.inputChannels }, model.preprocessing);
    } catch (e) {
      unreadable.push({ name: provider.name(i), reason: (e as Error).message });
      continue;
    }
    inputs.set(prepared.input.dataSync(), labels.length * size);
    prepared.input.dispose();
    prepared.pixels.dispose();
    const label = provider.label(i);
    labels.push(label === null ? -1 : (model.classNames?.indexOf(label) ?? -1));
  }
  const count = labels.length;
  if (count < 4) throw new ModelUseError(`${count} readable image(s); at least 4 are needed to split into held-in and held-out.`);
  const order = shuffle(range(count), createRng(options.seed));
  const nOut = Math.max(1, Math.min(count - 1, Math.round(count * options.heldOut)));
  const part = (indices: Int32Array): LabelledImages => {
    const chosen = Int32Array.from(indices).sort();
    return { inputs: gatherRows(inputs, chosen, size), count: chosen.length, labels: Int32Array.from(chosen, (i) => labels[i]) };
  };
  return { heldIn: part(order.subarray(nOut)), heldOut: part(order.subarray(0, nOut)), count, unreadable };
}

export interface InterventionPassOptions extends PacedOptions {
  /** Images per forward; default 64. */
  batchSize?: number;
}

/** Images [from, to) of `images` as a batch tensor. */
function batchOf(model: ImageModel, images: PreparedImages, from: number, to: number): tf.Tensor4D {
  const size = model.inputHeight * model.inputWidth * model.inputChannels;
  return tf.tensor4d(images.inputs.subarray(from * size, to * size), [to - from, model.inputHeight, model.inputWidth, model.inputChannels]);
}

function checkImages(model: ImageModel, images: PreparedImages): void {
  const size = model.inputHeight * model.inputWidth * model.inputChannels;
  if (images.count < 1) throw new ModelUseError('No images to run.');
  if (images.inputs.length !== images.count * size) {
    throw new ModelUseError(`${images.count} images of ${model.inputHeight}x${model.inputWidth}x${model.inputChannels} take ${images.count * size} values; got ${images.inputs.length}.`);
  }
}

/** The layer's width (its last axis: channels, or units of a vector layer). */
export function layerWidth(model: ImageModel, layer: string): number {
  const { shape } = model.layer(layer);
  return shape[shape.length - 1];
}

/**
 * The class probabilities [count, classes] of `images`, once for each of `interventions` at `layer` (null: the model
 * as it is), each batch sharing one forward up to the layer.
 */
export async function intervenedProbabilities(model: ImageModel, layer: string, images: PreparedImages, interventions: readonly (Intervention | null)[], options: InterventionPassOptions = {}): Promise<Float32Array[]> {
  checkImages(model, images);
  const width = layerWidth(model, layer);
  for (const i of interventions) {
    if (!i) continue;
    if (i.layer !== layer) throw new ModelUseError(`Every intervention of one pass is at one layer: ${layer} and ${i.layer}.`);
    const length = i.kind === 'add' ? i.vector.length : i.kind === 'project-out' ? i.direction.length : width;
    if (length !== width) throw new ModelUseError(`A direction in ${layer} has ${width} components; got ${length}.`);
    if (i.kind === 'set-units' && i.units.some((u) => !(Number.isInteger(u) && u >= 0 && u < width))) throw new ModelUseError(`${layer} has units 0..${width - 1}; got ${i.units.join(', ')}.`);
  }
  const classes = model.outputSize;
  const out = interventions.map(() => new Float32Array(images.count * classes));
  const batchSize = options.batchSize ?? 64;
  const pacer = createPacer(options.signal, 50, 'Intervention cancelled', nextTask);
  for (let from = 0; from < images.count; from += batchSize) {
    const to = Math.min(images.count, from + batchSize);
    const stacked = tf.tidy(() => {
      const { activation, probabilitiesFrom } = model.splitAt(batchOf(model, images, from, to), layer);
      // One intervention at a time, so that only one changed activation is alive at once.
      return tf.stack(interventions.map((i) => tf.tidy(() => probabilitiesFrom(i ? intervene(activation, i) : activation))));
    });
    let values: Float32Array;
    try {
      values = (await stacked.data()) as Float32Array;
    } finally {
      stacked.dispose();
    }
    const n = (to - from) * classes;
    out.forEach((probabilities, k) => probabilities.set(values.subarray(k * n, (k + 1) * n), from * classes));
    options.onProgress?.(to, images.count);
    if (pacer.due()) await pacer.pause();
    else pacer.check();
  }
  return out;
}

/** What one pass over a layer keeps, whatever the number of images: enough for a concept, units' means and any direction's scale. */
export interface LayerMoments {
  width: number;
  /** Positions summed over (images x spatial positions). */
  positions: number;
  /** Each image's activation averaged over its positions, count x width: the rows a concept is learnt from. */
  pooled: Float32Array;
  /** Each unit's mean over every position: what mean-ablation sets a unit to. */
  means: Float32Array;
  /** Σ x xᵀ over every position, width x width, float64. */
  secondMoment: Float64Array;
}

/** One pass over `images` recording `layer`: pooled rows, unit means and the second moment of its positions. */
export function layerMoments(model: ImageModel, layer: string, images: PreparedImages, batchSize = 64): LayerMoments {
  checkImages(model, images);
  const width = layerWidth(model, layer);
  const pooled = new Float32Array(images.count * width);
  const sums = new Float64Array(width);
  const secondMoment = new Float64Array(width * width);
  const perImage = model.layer(layer).positionShape.reduce((a, b) => a * b, 1);
  let positions = 0;
  for (let from = 0; from < images.count; from += batchSize) {
    const to = Math.min(images.count, from + batchSize);
    const [rows, sum, outer] = readTidyAll(() => {
      const { activation } = model.splitAt(batchOf(model, images, from, to), layer);
      const flat = activation.reshape([to - from, perImage, width]);
      const all = flat.reshape([-1, width]) as tf.Tensor2D;
      return [flat.mean(1), all.sum(0), tf.matMul(all, all, true, false)];
    });
    pooled.set(rows, from * width);
    for (let u = 0; u < width; u++) sums[u] += sum[u];
    for (let k = 0; k < outer.length; k++) secondMoment[k] += outer[k];
    positions += (to - from) * perImage;
  }
  return { width, positions, pooled, means: Float32Array.from(sums, (s) => s / positions), secondMoment };
}

/** The root mean square of x·v over the positions `moments` summed: the unit a steering strength α is counted in. */
export function scaleAlong(moments: LayerMoments, direction: Float32Array): number {
  const { width, secondMoment } = moments;
  if (direction.length !== width) throw new ModelUseError(`A direction in this layer has ${width} components; got ${direction.length}.`);
  let sum = 0;
  for (let i = 0; i < width; i++) {
    let row = 0;
    for (let j = 0; j < width; j++) row += secondMoment[i * width + j] * direction[j];
    sum += direction[i] * row;
  }
  return Math.sqrt(Math.max(0, sum) / moments.positions);
}

/** The mean of column `k` of probabilities [count, classes] over the rows `rows` (every row when omitted). */
function meanProbability(probabilities: Float32Array, classes: number, k: number, rows?: readonly number[]): number {
  const count = rows?.length ?? probabilities.length / classes;
  let sum = 0;
  for (let r = 0; r < count; r++) sum += probabilities[(rows ? rows[r] : r) * classes + k];
  return sum / count;
}

/** The share of `rows` whose most probable class is `k`. */
function accuracyOf(probabilities: Float32Array, classes: number, k: number, rows: readonly number[]): number {
  let right = 0;
  for (const r of rows) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (probabilities[r * classes + c] > probabilities[r * classes + best]) best = c;
    if (best === k) right++;
  }
  return right / rows.length;
}

export interface ImageSteeringOptions extends InterventionPassOptions {
  /** Random directions; at least 2. Default 20. */
  random?: number;
  seed?: number;
  controls?: SteeringControls;
  /** The held-in images' moments at the layer: each direction's scale (scaleAlong) is measured on them. */
  scale: LayerMoments;
}

/** Steering along a direction against steering along random directions: the rise in one class's probability. */
export interface ImageSteeringTest {
  classIndex: number;
  /** Held-out images the probabilities are averaged over. */
  images: number;
  alpha: number;
  controls: SteeringControls;
  /** Norm of the direction's added vector (|α| x its scale), and of each random direction's. */
  norm: number;
  randomNorms: number[];
  /** Mean probability of the class over the images, clean and steered along the direction. */
  clean: number;
  steered: number;
  /** Every class's mean change in probability (steered − clean) along the direction, by class index. */
  classChanges: number[];
  random: number;
  seed: number;
  /** The direction's rise in the class's probability against the random directions' rises. */
  rise: VersusRandom;
}

/**
 * Adds α·scale(v)·v at every position of `layer`, and the same for `random` seeded random unit directions (sized as
 * `controls` says), and tests whether v raises class `classIndex`'s mean probability over `images` more.
 */
export async function imageSteeringTest(model: ImageModel, layer: string, images: PreparedImages, direction: Float32Array, alpha: number, classIndex: number, options: ImageSteeringOptions): Promise<ImageSteeringTest> {
  const random = options.random ?? 20;
  const seed = options.seed ?? 0;
  const controls = options.controls ?? 'alpha';
  if (!Number.isInteger(random) || random < 2) throw new ModelUseError(`The controls need a spread: at least 2 random directions, not ${random}.`);
  checkClass(model, classIndex);
  const width = layerWidth(model, layer);
  if (direction.length !== width) throw new ModelUseError(`A direction in ${layer} has ${width} components; got ${direction.length}.`);
  const sized = steeringVectors(direction, alpha, random, seed, controls, (units) => units.map((v) => scaleAlong(options.scale, v)));
  const [clean, ...steered] = await intervenedProbabilities(model, layer, images, [null, ...sized.vectors.map((vector): Intervention => ({ kind: 'add', layer, vector }))], options);
  const classes = model.outputSize;
  const meanOf = (p: Float32Array) => meanProbability(p, classes, classIndex);
  const base = meanOf(clean);
  return {
    classIndex,
    images: images.count,
    alpha,
    controls,
    norm: sized.norm,
    randomNorms: sized.randomNorms,
    clean: base,
    steered: meanOf(steered[0]),
    classChanges: Array.from({ length: classes }, (_, k) => meanProbability(steered[0], classes, k) - meanProbability(clean, classes, k)),
    random,
    seed,
    rise: versusRandom(meanOf(steered[0]) - base, steered.slice(1).map((p) => meanOf(p) - base)),
  };
}

export interface ImageAblationOptions extends InterventionPassOptions {
  /** Random directions (project) or random other units (zero, mean); at least 2. Default 20. */
  random?: number;
  seed?: number;
  /** Each unit's mean over held-in positions (LayerMoments.means), for mean-ablation. */
  means?: Float32Array;
}

/** An ablation's effect on one class against the same ablation of random directions or units. */
export interface ImageAblationTest {
  classIndex: number;
  mode: AblationMode;
  /** Held-out images of the class (labelled so) the accuracy and probability are measured on. */
  images: number;
  /** The share of them classified as the class, clean and ablated. */
  accuracy: { clean: number; ablated: number };
  /** Their mean probability of the class, clean and ablated. */
  probability: { clean: number; ablated: number };
  /** Every class's accuracy over its own held-out images, clean and ablated (null for a class with none). */
  classAccuracy: { clean: (number | null)[]; ablated: (number | null)[] };
  controls: 'random directions' | 'random units';
  controlUnits?: number[];
  random: number;
  seed: number;
  /** The class's accuracy drop (clean − ablated) against the controls' drops. */
  accuracyDrop: VersusRandom;
  /** The class's mean probability drop against the controls'. */
  probabilityDrop: VersusRandom;
}

/**
 * Ablates `target` at `layer` (project it out, or zero or mean a unit) and `random` seeded controls the same way,
 * and tests whether the target lowers class `classIndex`'s accuracy over its held-out images more. `labels` holds each
 * image's class index (-1: unknown).
 */
export async function imageAblationTest(model: ImageModel, layer: string, images: PreparedImages, labels: Int32Array, target: AblationTarget, mode: AblationMode, classIndex: number, options: ImageAblationOptions = {}): Promise<ImageAblationTest> {
  const random = options.random ?? 20;
  const seed = options.seed ?? 0;
  if (!Number.isInteger(random) || random < 2) throw new ModelUseError(`The controls need a spread: at least 2 random ablations, not ${random}.`);
  checkClass(model, classIndex);
  const width = layerWidth(model, layer);
  if (target.kind === 'direction' && target.direction.length !== width) throw new ModelUseError(`A direction in ${layer} has ${width} components; got ${target.direction.length}.`);
  if (target.kind === 'unit' && !(Number.isInteger(target.unit) && target.unit >= 0 && target.unit < width)) throw new ModelUseError(`${layer} has units 0..${width - 1}; got ${target.unit}.`);
  if (labels.length !== images.count) throw new ModelUseError(`${images.count} images but ${labels.length} labels.`);
  const classes = model.outputSize;
  const byClass = Array.from({ length: classes }, (): number[] => []);
  labels.forEach((label, r) => label >= 0 && label < classes && byClass[label].push(r));
  const members = byClass[classIndex];
  if (members.length === 0) throw new ModelUseError(`No held-out image is labelled as class ${classIndex}${model.classNames ? ` (${model.classNames[classIndex]})` : ''}: there is no accuracy to lower.`);
  const { controls, controlUnits } = ablationControls(layer, width, target, mode, random, seed);
  const ablations = [target, ...controls].map((t) => ablationOf(layer, mode, t, options.means));
  const [clean, ...ablated] = await intervenedProbabilities(model, layer, images, [null, ...ablations], options);
  const accuracy = (p: Float32Array) => accuracyOf(p, classes, classIndex, members);
  const probability = (p: Float32Array) => meanProbability(p, classes, classIndex, members);
  const perClass = (p: Float32Array) => byClass.map((rows, k) => (rows.length ? accuracyOf(p, classes, k, rows) : null));
  return {
    classIndex,
    mode,
    images: members.length,
    accuracy: { clean: accuracy(clean), ablated: accuracy(ablated[0]) },
    probability: { clean: probability(clean), ablated: probability(ablated[0]) },
    classAccuracy: { clean: perClass(clean), ablated: perClass(ablated[0]) },
    controls: controlUnits ? 'random units' : 'random directions',
    ...(controlUnits ? { controlUnits } : {}),
    random,
    seed,
    accuracyDrop: versusRandom(accuracy(clean) - accuracy(ablated[0]), ablated.slice(1).map((p) => accuracy(clean) - accuracy(p))),
    probabilityDrop: versusRandom(probability(clean) - probability(ablated[0]), ablated.slice(1).map((p) => probability(clean) - probability(p))),
  };
}

function checkClass(model: ImageModel, classIndex: number): void {
  if (!(Number.isInteger(classIndex) && classIndex >= 0 && classIndex < model.outputSize)) {
    throw new ModelUseError(`Model "${model.name}" has classes 0..${model.outputSize - 1}; got ${classIndex}.`);
  }
}
