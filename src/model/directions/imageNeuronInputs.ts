import * as tf from '@tensorflow/tfjs';
import type { InputError } from '../../compute/atlas';
import type { ProgressCallback } from '../../compute/types';
import { abortError } from '../../lib/abort';
import { createRng } from '../../lib/rng';
import { yieldToPage } from '../../lib/yieldToPage';
import type { ImageModel } from '../image/imageModel';
import { prepareImage, type Preprocessing } from '../image/preprocess';
import type { ImageProvider } from '../image/recordImages';
import { DEFAULT_MAX_VALUES } from '../../compute/stream/recorder';
import { ModelUseError } from '../recordTable';
import type { NeuronInputs } from './neuronInputs';

/**
 * An image layer's neurons and what they read, per recorded (image, position): rows in image order, then
 * position order. `window` is the image's index in the provider; `position` is the flat row-major index in the
 * layer's [H, W] for a convolution, and -1 for a Dense layer (one vector per image, as a pooled atlas row).
 * `inputs` are zero-padded input patches (kh x kw x cin, in the kernel's layout) or the Dense input vector;
 * `kernel` and `bias` have a BatchNormalization between the weights and the nonlinearity folded in.
 */
export interface ImageNeuronInputs extends NeuronInputs {
  /** The Conv2D or Dense whose weights the neurons read. */
  weightsLayer: string;
  /** The BatchNormalization folded into `kernel` and `bias`, if one sits before the nonlinearity. */
  batchNorm: string | null;
  /** The layer's positions: [H, W] for a convolution, [] for a Dense layer. */
  positionShape: number[];
  /** Images that could not be read or prepared; the rest went through. */
  errors: InputError[];
  /** What the recording left out (a row cap), with both counts. */
  notices: string[];
}

export interface ImageNeuronInputOptions {
  /**
   * Most rows (image, position) to record; past it, a seeded choice of positions per image is kept (and of
   * images, where there are more images than rows). Default: 200,000, or fewer so that the table holds at most
   * 64 Mi float32 values.
   */
  maxRows?: number;
  seed?: number;
  /** Images per forward pass; default: as many as keep a batch's tensors near 4 Mi values (1 to 64). */
  batchSize?: number;
  /** Overrides the model's own preprocessing. */
  preprocessing?: Preprocessing;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/** Rows recorded unless `maxRows` says otherwise, before the value budget. */
export const DEFAULT_MAX_ROWS = 200_000;

const CONV_CLASSES = new Set(['Conv2D']);
const ACTIVATION_CLASSES = new Set(['Activation', 'ReLU', 'LeakyReLU', 'ELU', 'PReLU', 'ThresholdedReLU']);
const POOLING = /Pool/;
const RESHAPING = new Set(['Flatten', 'Reshape', 'Permute', 'RepeatVector', 'Cropping2D', 'ZeroPadding2D', 'UpSampling2D']);
const LINEAR = new Set(['linear', 'identity', undefined, null]);

/** A weighted layer read by neurons, and where the neurons are. */
interface NeuronSite {
  target: tf.layers.Layer;
  weights: tf.layers.Layer;
  batchNorm: tf.layers.Layer | null;
}

/** The convolution's geometry: what one output position reads. */
interface ConvGeometry {
  inH: number;
  inW: number;
  cin: number;
  kh: number;
  kw: number;
  strides: [number, number];
  dilation: [number, number];
  padTop: number;
  padLeft: number;
  outH: number;
  outW: number;
}

/**
 * Records an image layer's neurons and the inputs their weights read, for neuron embeddings (Foote 2024). The
 * layer is a Conv2D or a Dense, or an activation layer fed by one, directly or through a BatchNormalization;
 * any other layer is refused with a ModelUseError that says why.
 */
export async function recordImageNeuronInputs(
  model: ImageModel,
  images: ImageProvider,
  layer: string,
  options: ImageNeuronInputOptions = {},
): Promise<ImageNeuronInputs> {
  const site = neuronSite(model, layer);
  if (images.count === 0) throw new ModelUseError('No inputs to record: pick or drop some images first.');
  const isConv = CONV_CLASSES.has(site.weights.getClassName());
  const geometry = isConv ? convGeometry(site.weights) : null;
  const { kernel, bias, dim, width } = await foldedWeights(site);
  const positionShape = geometry ? [geometry.outH, geometry.outW] : [];
  const positions = geometry ? geometry.outH * geometry.outW : 1;
  const maxRows = Math.max(1, Math.floor(options.maxRows ?? Math.min(DEFAULT_MAX_ROWS, DEFAULT_MAX_VALUES / (dim + width))));
  const plan = rowPlan(images.count, positions, maxRows, options.seed ?? 0);
  const planned = plan.reduce((n, p) => n + (p?.length ?? 0), 0);
  const activations = new Float32Array(planned * width);
  const inputs = new Float32Array(planned * dim);
  const window = new Int32Array(planned);
  const position = new Int32Array(planned);
  const errors: InputError[] = [];
  const notices: string[] = [];

  const base = model.tfModel as tf.LayersModel;
  const source = site.weights.input as tf.SymbolicTensor;
  const fromInput = base.inputs.includes(source);
  const reader = readerOf(base, site, fromInput);
  const perImageValues = model.inputHeight * model.inputWidth * model.inputChannels + sizeOf(source) + positions * width;
  const batchSize = options.batchSize ?? Math.max(1, Math.min(64, Math.floor((4 << 20) / perImageValues)));
  const size = { height: model.inputHeight, width: model.inputWidth, channels: model.inputChannels };
  const chosen = plan.map((p, i) => (p ? i : -1)).filter((i) => i >= 0);
  let row = 0;
  for (let start = 0; start < chosen.length; start += batchSize) {
    if (options.signal?.aborted) throw abortError('Recording cancelled');
    const ids = chosen.slice(start, start + batchSize);
    const prepared: tf.Tensor3D[] = [];
    const read: number[] = [];
    try {
      for (const i of ids) {
        try {
          const { input, pixels } = prepareImage(await images.load(i), size, options.preprocessing ?? model.preprocessing);
          pixels.dispose();
          prepared.push(input);
          read.push(i);
        } catch (e) {
          errors.push({ name: images.name(i), reason: (e instanceof Error ? e.message : String(e)) || 'unknown error' });
        }
      }
      if (read.length > 0) {
        const outputs = tf.tidy(() => {
          const batch = tf.stack(prepared);
          const out = reader.predict(batch) as tf.Tensor | tf.Tensor[];
          const [x, a] = fromInput ? [batch, out as tf.Tensor] : (out as tf.Tensor[]);
          return [x, a];
        });
        let xs: Float32Array;
        let acts: Float32Array;
        try {
          [xs, acts] = (await Promise.all(outputs.map((t) => t.data()))) as [Float32Array, Float32Array];
        } finally {
          tf.dispose(outputs);
        }
        const inputSize = xs.length / read.length;
        read.forEach((i, b) => {
          for (const p of plan[i]!) {
            const at = b * positions + (geometry ? p : 0);
            activations.set(acts.subarray(at * width, (at + 1) * width), row * width);
            if (geometry) writePatch(xs, b * inputSize, p, geometry, inputs, row * dim);
            else inputs.set(xs.subarray(b * inputSize, (b + 1) * inputSize), row * dim);
            window[row] = i;
            position[row] = geometry ? p : -1;
            row++;
          }
        });
      }
    } finally {
      tf.dispose(prepared);
    }
    options.onProgress?.({ stage: 'record', done: Math.min(chosen.length, start + batchSize), total: chosen.length });
    await yieldToPage();
  }
  if (row === 0) throw new ModelUseError(`None of the ${chosen.length} inputs could be read (${errors[0]?.name}: ${errors[0]?.reason}).`);
  const available = (images.count - errors.length) * positions;
  if (row < available) {
    const kept = new Set(plan.map((p) => p?.length ?? 0).filter((k) => k > 0));
    const how = kept.size === 1 && [...kept][0] < positions ? `, ${[...kept][0]} seeded position(s) of ${positions} per image` : '';
    const imagesKept = chosen.length < images.count ? `, ${chosen.length} seeded image(s) of ${images.count}` : '';
    notices.push(`Recorded ${row.toLocaleString('en')} of ${available.toLocaleString('en')} (image, position) rows of ${layer} (at most ${maxRows.toLocaleString('en')} rows${how}${imagesKept}).`);
  }
  const trim = <T extends Float32Array | Int32Array>(a: T, per: number): T => (row === planned ? a : (a.slice(0, row * per) as T));
  return {
    layer,
    count: row,
    width,
    dim,
    activations: trim(activations, width),
    inputs: trim(inputs, dim),
    window: trim(window, 1),
    position: trim(position, 1),
    kernel,
    bias,
    available,
    weightsLayer: site.weights.name,
    batchNorm: site.batchNorm?.name ?? null,
    positionShape,
    errors,
    notices,
  };
}

/** Per model, per layer: a model from the input to [the weights' input, the neurons], sharing the model's weights. */
const readers = new WeakMap<tf.LayersModel, Map<string, tf.LayersModel>>();

/** Built once per layer: each new model adds a node to the layers it reads. Never disposed, as it owns no weights. */
function readerOf(base: tf.LayersModel, site: NeuronSite, fromInput: boolean): tf.LayersModel {
  let byLayer = readers.get(base);
  if (!byLayer) readers.set(base, (byLayer = new Map()));
  let reader = byLayer.get(site.target.name);
  if (!reader) {
    const neurons = site.target.output as tf.SymbolicTensor;
    reader = tf.model({ inputs: base.inputs, outputs: fromInput ? [neurons] : [site.weights.input as tf.SymbolicTensor, neurons] });
    byLayer.set(site.target.name, reader);
  }
  return reader;
}

/** The layers of a model whose neurons have embeddings, in model order (none in a graph model). */
export function imageNeuronLayers(model: ImageModel): string[] {
  if (model.kind !== 'layers') return [];
  return model.layers
    .map((l) => l.name)
    .filter((name) => {
      try {
        neuronSite(model, name);
        return true;
      } catch (e) {
        if (e instanceof ModelUseError) return false;
        throw e;
      }
    });
}

/**
 * The weights a layer's neurons read right before their nonlinearity: the layer itself where it is a Conv2D or
 * Dense, or the Conv2D or Dense feeding an activation layer, directly or through a BatchNormalization.
 */
function neuronSite(model: ImageModel, name: string): NeuronSite {
  if (model.kind !== 'layers') {
    throw new ModelUseError(`Neuron embeddings read a layer's weights, and "${model.name}" is a graph model whose layers are not available as weights: load a layers model.`);
  }
  model.layer(name);
  const target = (model.tfModel as tf.LayersModel).getLayer(name);
  const cls = target.getClassName();
  if (isWeighted(target)) {
    checkWeighted(target);
    if (isSoftmax(target)) throw softmaxError(target);
    return { target, weights: target, batchNorm: null };
  }
  if (ACTIVATION_CLASSES.has(cls)) {
    if (isSoftmax(target)) throw softmaxError(target);
    let feeding = sourceOf(target);
    let batchNorm: tf.layers.Layer | null = null;
    if (feeding?.getClassName() === 'BatchNormalization') {
      batchNorm = feeding;
      checkBatchNorm(batchNorm);
      feeding = sourceOf(batchNorm);
    }
    const through = batchNorm ? ` through ${batchNorm.name}` : '';
    if (!feeding || !isWeighted(feeding)) {
      const what = feeding ? `${feeding.name} (${feeding.getClassName()})` : 'more than one layer';
      throw new ModelUseError(
        `${name} is an activation of ${what}${through}, which has no weight matrix: neuron embeddings need a Conv2D or Dense right before the nonlinearity (or one BatchNormalization between them).`,
      );
    }
    checkWeighted(feeding);
    const own = activationOf(feeding);
    if (!LINEAR.has(own)) {
      throw new ModelUseError(`${name} follows ${feeding.name}${through}, whose own ${own} already comes between its weights and this nonlinearity: measure ${feeding.name} itself.`);
    }
    return { target, weights: feeding, batchNorm };
  }
  throw new ModelUseError(unsupportedReason(target));
}

/** Why a layer that is neither weighted nor an activation has no neuron embedding. */
function unsupportedReason(layer: tf.layers.Layer): string {
  const [name, cls] = [layer.name, layer.getClassName()];
  const hint = 'neuron embeddings are measured on Conv2D and Dense layers, and on an activation layer that follows one (directly or through a BatchNormalization)';
  if (POOLING.test(cls)) return `${name} is a pooling layer (${cls}): it has no weights before its nonlinearity, so its units have no neuron embedding; ${hint}.`;
  if (RESHAPING.has(cls)) return `${name} only rearranges its input (${cls}): it has no weights before a nonlinearity, so its units have no neuron embedding; ${hint}.`;
  if (cls === 'BatchNormalization') return `${name} is a batch normalisation, a per-channel affine map with no nonlinearity: measure the activation layer that follows it.`;
  if (cls === 'DepthwiseConv2D' || cls === 'SeparableConv2D') {
    return `${name} is a ${cls === 'DepthwiseConv2D' ? 'depthwise' : 'separable'} convolution: each of its units reads one input channel through its own filter, which a neuron embedding over the full input patch does not describe; ${hint}.`;
  }
  return `${name} (${cls}) has no weight matrix right before a nonlinearity: ${hint}.`;
}

function isWeighted(layer: tf.layers.Layer): boolean {
  return CONV_CLASSES.has(layer.getClassName()) || layer.getClassName() === 'Dense';
}

/** Refuses the weighted layers whose geometry the patches do not follow. */
function checkWeighted(layer: tf.layers.Layer): void {
  const config = layer.getConfig() as { dataFormat?: string };
  if (CONV_CLASSES.has(layer.getClassName())) {
    if (config.dataFormat === 'channelsFirst') throw new ModelUseError(`${layer.name} is a channels-first convolution; only channels-last ones are supported.`);
    return;
  }
  const rank = (layer.input as tf.SymbolicTensor).shape.length;
  if (rank !== 2) throw new ModelUseError(`${layer.name} is a Dense layer applied at every position of a ${rank - 1}-D input; only Dense layers on a vector are supported.`);
}

function checkBatchNorm(layer: tf.layers.Layer): void {
  const { axis } = layer.getConfig() as { axis?: number | number[] };
  const rank = (layer.input as tf.SymbolicTensor).shape.length;
  const axes = Array.isArray(axis) ? axis : [axis ?? -1];
  if (axes.length !== 1 || (axes[0] !== -1 && axes[0] !== rank - 1)) {
    throw new ModelUseError(`${layer.name} normalises axis ${JSON.stringify(axis)}, not the channels: only a per-channel batch normalisation can be folded into the weights before it.`);
  }
}

/** The single layer feeding `layer`, or null where it is fed by several (or used more than once). */
function sourceOf(layer: tf.layers.Layer): tf.layers.Layer | null {
  if (layer.inboundNodes.length !== 1) return null;
  const input = layer.input;
  return Array.isArray(input) ? null : input.sourceLayer;
}

function activationOf(layer: tf.layers.Layer): string | undefined {
  return (layer.getConfig() as { activation?: string }).activation;
}

function isSoftmax(layer: tf.layers.Layer): boolean {
  return layer.getClassName() === 'Softmax' || activationOf(layer) === 'softmax';
}

function softmaxError(layer: tf.layers.Layer): ModelUseError {
  return new ModelUseError(
    `${layer.name} ends in a softmax, which mixes every unit's pre-activation: no unit is a nonlinearity of its own input, so none has a neuron embedding; measure the layer before it.`,
  );
}

function sizeOf(t: tf.SymbolicTensor): number {
  return t.shape.slice(1).reduce<number>((a, b) => a * (b ?? 1), 1);
}

function convGeometry(layer: tf.layers.Layer): ConvGeometry {
  const config = layer.getConfig() as { kernelSize: number[]; strides: number[]; padding: string; dilationRate: number | number[] };
  const [, inH, inW, cin] = (layer.input as tf.SymbolicTensor).shape as number[];
  const [, outH, outW] = (layer.output as tf.SymbolicTensor).shape as number[];
  const [kh, kw] = config.kernelSize;
  const strides = config.strides as [number, number];
  const dilation = (Array.isArray(config.dilationRate) ? config.dilationRate : [config.dilationRate, config.dilationRate]) as [number, number];
  // TF's 'same': the padding an output of ceil(in / stride) needs, the odd one at the bottom and right.
  const pad = (out: number, stride: number, k: number, d: number, size: number) => (config.padding === 'same' ? Math.floor(Math.max(0, (out - 1) * stride + (k - 1) * d + 1 - size) / 2) : 0);
  return { inH, inW, cin, kh, kw, strides, dilation, padTop: pad(outH, strides[0], kh, dilation[0], inH), padLeft: pad(outW, strides[1], kw, dilation[1], inW), outH, outW };
}

/** The zero-padded input patch output position `p` reads, flattened as the kernel's [kh, kw, cin]. */
function writePatch(x: Float32Array, offset: number, p: number, g: ConvGeometry, out: Float32Array, at: number): void {
  const oy = Math.floor(p / g.outW);
  const ox = p % g.outW;
  for (let ky = 0; ky < g.kh; ky++) {
    const iy = oy * g.strides[0] - g.padTop + ky * g.dilation[0];
    if (iy < 0 || iy >= g.inH) continue;
    for (let kx = 0; kx < g.kw; kx++) {
      const ix = ox * g.strides[1] - g.padLeft + kx * g.dilation[1];
      if (ix < 0 || ix >= g.inW) continue;
      const from = offset + (iy * g.inW + ix) * g.cin;
      out.set(x.subarray(from, from + g.cin), at + (ky * g.kw + kx) * g.cin);
    }
  }
}

/**
 * The weights as dim x width row-major (a neuron's input weights are its column) and the bias; a
 * BatchNormalization's per-channel scale gamma / sqrt(var + eps) is folded into both, so that each embedding
 * sums to the normalised pre-activation less the folded bias.
 */
async function foldedWeights(site: NeuronSite): Promise<{ kernel: Float32Array; bias: Float32Array; dim: number; width: number }> {
  const [kernelTensor, biasTensor] = site.weights.getWeights();
  const shape = kernelTensor.shape;
  const width = shape[shape.length - 1];
  const dim = kernelTensor.size / width;
  const kernel = Float32Array.from(await kernelTensor.data());
  const useBias = (site.weights.getConfig() as { useBias?: boolean }).useBias !== false;
  const bias = useBias && biasTensor ? Float32Array.from(await biasTensor.data()) : new Float32Array(width);
  if (!site.batchNorm) return { kernel, bias, dim, width };
  const { center, scale, epsilon } = site.batchNorm.getConfig() as { center?: boolean; scale?: boolean; epsilon?: number };
  const weights = site.batchNorm.getWeights();
  const values = await Promise.all(weights.map((w) => w.data() as Promise<Float32Array>));
  // Built in this order: gamma (with scale), beta (with center), the moving mean and variance.
  const gamma = scale !== false ? values.shift()! : null;
  const beta = center !== false ? values.shift()! : null;
  const [mean, variance] = values;
  for (let k = 0; k < width; k++) {
    const s = (gamma ? gamma[k] : 1) / Math.sqrt(variance[k] + (epsilon ?? 1e-3));
    for (let j = 0; j < dim; j++) kernel[j * width + k] *= s;
    bias[k] = s * (bias[k] - mean[k]) + (beta ? beta[k] : 0);
  }
  return { kernel, bias, dim, width };
}

/**
 * Positions to record per image, ascending (null: the image is not recorded): all of them within the cap;
 * past it, the same seeded number per image; with more images than rows, one position of a seeded few.
 */
function rowPlan(images: number, positions: number, maxRows: number, seed: number): (Int32Array | null)[] {
  const all = Int32Array.from({ length: positions }, (_, p) => p);
  if (images * positions <= maxRows) return Array.from({ length: images }, () => all);
  const perImage = Math.floor(maxRows / images);
  if (perImage >= 1) return Array.from({ length: images }, (_, i) => seededChoice(positions, perImage, seed * 100003 + i));
  const keep = new Set(seededChoice(images, maxRows, seed));
  return Array.from({ length: images }, (_, i) => (keep.has(i) ? seededChoice(positions, 1, seed * 100003 + i) : null));
}

/** k of 0..n-1 by a seeded partial shuffle, ascending. */
function seededChoice(n: number, k: number, seed: number): Int32Array {
  const ids = Int32Array.from({ length: n }, (_, i) => i);
  const random = createRng(seed);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(random() * (n - i));
    [ids[i], ids[j]] = [ids[j], ids[i]];
  }
  return ids.slice(0, k).sort();
}
