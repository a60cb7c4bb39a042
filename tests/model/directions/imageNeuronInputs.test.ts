import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { neuronEmbeddings } from '../../../src/compute/directions/neuronClusters';
import { createRng } from '../../../src/lib/rng';
import { chooseBackend } from '../../../src/model/backend';
import { imageNeuronLayers, recordImageNeuronInputs, type ImageNeuronInputs } from '../../../src/model/directions/imageNeuronInputs';
import { neuronWeights } from '../../../src/model/directions/neuronInputs';
import { IMAGE_THRESHOLD, measurePolysemanticity } from '../../../src/model/directions/polysemanticity';
import { ImageModel } from '../../../src/model/image/imageModel';
import { prepareImage, type RawImage } from '../../../src/model/image/preprocess';
import { ModelUseError } from '../../../src/model/recordTable';
import { memoryProvider, randomImage, saveArtifacts, smallCnnArtifacts } from '../helpers';

const [H, W] = [10, 11];

/**
 * Every supported site, on a 10x11 input: c1 3x3 stride 2 'same' (padding 0 above, 1 below, 1 left and right) (linear) -> a1 ReLU; c2 2x3 'valid' with its
 * own ReLU; c3 3x3 dilation 2 'same' without bias -> bn -> a3 tanh; flatten -> fc (linear) -> fc_bn -> fc_act ELU;
 * fc2 with its own ReLU; probs softmax. The batch normalisations get random statistics.
 */
async function sitesModel(): Promise<ImageModel> {
  const init = (seed: number) => tf.initializers.randomNormal({ mean: 0, stddev: 0.5, seed });
  const input = tf.input({ shape: [H, W, 3] });
  const c1 = tf.layers.conv2d({ name: 'c1', filters: 4, kernelSize: 3, strides: 2, padding: 'same', kernelInitializer: init(1), biasInitializer: init(2) }).apply(input);
  const a1 = tf.layers.activation({ name: 'a1', activation: 'relu' }).apply(c1);
  const c2 = tf.layers.conv2d({ name: 'c2', filters: 5, kernelSize: [2, 3], activation: 'relu', kernelInitializer: init(3), biasInitializer: init(4) }).apply(a1);
  const c3 = tf.layers.conv2d({ name: 'c3', filters: 6, kernelSize: 3, dilationRate: 2, padding: 'same', useBias: false, kernelInitializer: init(5) }).apply(a1);
  const bn = tf.layers.batchNormalization({ name: 'bn' });
  const a3 = tf.layers.activation({ name: 'a3', activation: 'tanh' }).apply(bn.apply(c3));
  const merged = tf.layers.concatenate({ name: 'merged' }).apply([tf.layers.flatten({ name: 'flat2' }).apply(c2) as tf.SymbolicTensor, tf.layers.flatten({ name: 'flat3' }).apply(a3) as tf.SymbolicTensor]);
  const fc = tf.layers.dense({ name: 'fc', units: 7, kernelInitializer: init(6), biasInitializer: init(7) }).apply(merged);
  const fcBn = tf.layers.batchNormalization({ name: 'fc_bn', scale: false });
  const fcAct = tf.layers.activation({ name: 'fc_act', activation: 'elu' }).apply(fcBn.apply(fc));
  const fc2 = tf.layers.dense({ name: 'fc2', units: 5, activation: 'relu', kernelInitializer: init(8) }).apply(fcAct);
  const probs = tf.layers.dense({ name: 'probs', units: 3, activation: 'softmax', kernelInitializer: init(9) }).apply(fc2);
  const model = tf.model({ inputs: input, outputs: probs as tf.SymbolicTensor });
  const random = createRng(21);
  const values = (n: number, from: number, to: number) => tf.tensor1d(Array.from({ length: n }, () => from + (to - from) * random()));
  const bnWeights = [values(6, 0.5, 2), values(6, -1, 1), values(6, -0.5, 0.5), values(6, 0.2, 3)];
  bn.setWeights(bnWeights);
  const fcBnWeights = [values(7, -1, 1), values(7, -0.5, 0.5), values(7, 0.2, 3)];
  fcBn.setWeights(fcBnWeights);
  const saved = await saveArtifacts(model);
  tf.dispose([...bnWeights, ...fcBnWeights]);
  model.dispose();
  return ImageModel.fromArtifacts(saved, 'sites');
}

/** Layers that each refuse neuron embeddings for a reason of their own. */
async function refusalsModel(): Promise<ImageModel> {
  const model = tf.sequential({
    layers: [
      tf.layers.depthwiseConv2d({ name: 'dw', inputShape: [8, 8, 3], kernelSize: 3 }),
      tf.layers.activation({ name: 'dw_act', activation: 'relu' }),
      tf.layers.conv2d({ name: 'cr', filters: 4, kernelSize: 3, activation: 'relu' }),
      tf.layers.activation({ name: 'cr_act', activation: 'relu' }),
      tf.layers.globalAveragePooling2d({ name: 'gap' }),
      tf.layers.dense({ name: 'probs', units: 3, activation: 'softmax' }),
    ],
  });
  const saved = await saveArtifacts(model);
  model.dispose();
  return ImageModel.fromArtifacts(saved, 'refusals');
}

let sites: ImageModel;
let small: ImageModel;
const images: RawImage[] = Array.from({ length: 5 }, (_, i) => randomImage(W, H, 3, i + 1));

beforeAll(async () => {
  await chooseBackend({ node: true });
  sites = await sitesModel();
  small = await ImageModel.fromArtifacts(await smallCnnArtifacts(), 'small');
});
afterAll(() => {
  sites.dispose();
  small.dispose();
});

/** The model's own output of `layer` for every image, [image][position * channels + k]. */
function direct(model: ImageModel, layer: string, inputs: RawImage[] = images): Float32Array[] {
  return inputs.map((raw) =>
    tf.tidy(() => {
      const { input } = prepareImage(raw, { height: model.inputHeight, width: model.inputWidth, channels: model.inputChannels }, model.preprocessing);
      const { activation, probabilities } = model.run(input.expandDims(0) as tf.Tensor4D, layer);
      probabilities?.dispose();
      return activation.dataSync() as Float32Array;
    }),
  );
}

/** Each row's embedding sum plus the bias, for every neuron: rows x width. */
function preActivations(recorded: ImageNeuronInputs): Float32Array {
  const { count, width, dim, inputs, bias } = recorded;
  const out = new Float32Array(count * width);
  for (let k = 0; k < width; k++) {
    const embeddings = neuronEmbeddings(inputs, count, dim, neuronWeights(recorded, k));
    for (let r = 0; r < count; r++) {
      let sum = bias[k];
      for (let j = 0; j < dim; j++) sum += embeddings[r * dim + j];
      out[r * width + k] = sum;
    }
  }
  return out;
}

/** Largest |a - b| / (1 + |b|) between each row's values and the model's own at the row's image and position. */
function worstGap(recorded: ImageNeuronInputs, values: Float32Array, own: Float32Array[], map: (x: number) => number = (x) => x): number {
  let worst = 0;
  for (let r = 0; r < recorded.count; r++) {
    const at = Math.max(0, recorded.position[r]) * recorded.width;
    for (let k = 0; k < recorded.width; k++) {
      const expected = own[recorded.window[r]][at + k];
      worst = Math.max(worst, Math.abs(map(values[r * recorded.width + k]) - expected) / (1 + Math.abs(expected)));
    }
  }
  return worst;
}

const elu = (x: number) => (x > 0 ? x : Math.expm1(x));

describe('recordImageNeuronInputs', () => {
  it.each([
    ['c1', 'c1', 'c1', null, (x: number) => x],
    ['a1', 'c1', 'c1', null, (x: number) => Math.max(0, x)],
    ['c2', 'c2', null, null, (x: number) => Math.max(0, x)],
    ['a3', 'c3', 'bn', 'bn', Math.tanh],
    ['fc_act', 'fc', 'fc_bn', 'fc_bn', elu],
    ['fc2', 'fc2', null, null, (x: number) => Math.max(0, x)],
  ] as const)('%s: each embedding sums to the pre-activation less the bias, and the nonlinearity of it is the recorded neuron', async (layer, weightsLayer, preLayer, batchNorm, nonlinearity) => {
    const recorded = await recordImageNeuronInputs(sites, memoryProvider(images), layer, { batchSize: 2 });
    expect([recorded.weightsLayer, recorded.batchNorm]).toEqual([weightsLayer, batchNorm]);
    const info = sites.layer(layer);
    const positions = info.positionShape.reduce((a, b) => a * b, 1);
    expect(recorded.positionShape).toEqual(info.positionShape);
    expect([recorded.count, recorded.available, recorded.width]).toEqual([images.length * positions, images.length * positions, info.shape[info.shape.length - 1]]);
    expect(Array.from(recorded.window)).toEqual(images.flatMap((_, i) => Array(positions).fill(i)));
    const spatial = info.positionShape.length > 0;
    expect(Array.from(recorded.position)).toEqual(images.flatMap(() => (spatial ? Array.from({ length: positions }, (_, p) => p) : [-1])));
    const pre = preActivations(recorded);
    expect(worstGap(recorded, recorded.activations, direct(sites, layer))).toBeLessThan(1e-5);
    expect(worstGap(recorded, pre, direct(sites, layer), nonlinearity)).toBeLessThan(1e-4);
    // Against the model's own pre-activation where it has a layer of its own (a linear conv, or the batch norm).
    if (preLayer) expect(worstGap(recorded, pre, direct(sites, preLayer))).toBeLessThan(1e-4);
  });

  it('lays a patch out as the kernel is: zero padding where it leaves the input, kernel column k is kernel[:, :, :, k]', async () => {
    const recorded = await recordImageNeuronInputs(sites, memoryProvider(images.slice(0, 1)), 'c1');
    expect(recorded.dim).toBe(3 * 3 * 3);
    // c1 'same' stride 2 on 10x11: out 5x6; padding 1 in all along H (TF puts the odd one at the bottom), 2 along W.
    expect(recorded.positionShape).toEqual([5, 6]);
    const [input] = tf.tidy(() => [prepareImage(images[0], { height: H, width: W, channels: 3 }, sites.preprocessing).input.dataSync()]);
    const [padTop, padLeft] = [0, 1];
    for (let p = 0; p < 30; p++) {
      const [oy, ox] = [Math.floor(p / 6), p % 6];
      const expected: number[] = [];
      for (let ky = 0; ky < 3; ky++) {
        for (let kx = 0; kx < 3; kx++) {
          const [iy, ix] = [oy * 2 - padTop + ky, ox * 2 - padLeft + kx];
          for (let c = 0; c < 3; c++) expected.push(iy < 0 || iy >= H || ix < 0 || ix >= W ? 0 : input[(iy * W + ix) * 3 + c]);
        }
      }
      expect(Array.from(recorded.inputs.subarray(p * 27, (p + 1) * 27))).toEqual(expected);
    }
    const kernel = (sites.tfModel as tf.LayersModel).getLayer('c1').getWeights()[0];
    const column = tf.tidy(() => kernel.slice([0, 0, 0, 2], [3, 3, 3, 1]).dataSync());
    expect(Array.from(neuronWeights(recorded, 2))).toEqual(Array.from(column));
  });

  it('caps rows with a seeded choice of positions per image, and says so with both counts', async () => {
    const all = await recordImageNeuronInputs(sites, memoryProvider(images), 'c1');
    const capped = await recordImageNeuronInputs(sites, memoryProvider(images), 'c1', { maxRows: 64, seed: 3 });
    expect([capped.count, capped.available]).toEqual([5 * 12, 150]);
    expect(capped.notices).toEqual(['Recorded 60 of 150 (image, position) rows of c1 (at most 64 rows, 12 seeded position(s) of 30 per image).']);
    const again = await recordImageNeuronInputs(sites, memoryProvider(images), 'c1', { maxRows: 64, seed: 3 });
    expect(again.position).toEqual(capped.position);
    for (let r = 0; r < capped.count; r++) {
      const full = capped.window[r] * 30 + capped.position[r];
      expect(capped.activations.subarray(r * 4, r * 4 + 4)).toEqual(all.activations.subarray(full * 4, full * 4 + 4));
      expect(capped.inputs.subarray(r * 27, r * 27 + 27)).toEqual(all.inputs.subarray(full * 27, full * 27 + 27));
    }
    const fewer = await recordImageNeuronInputs(sites, memoryProvider(images), 'c1', { maxRows: 3 });
    expect(fewer.count).toBe(3);
    expect(new Set(fewer.window).size).toBe(3);
    expect(fewer.notices[0]).toMatch(/^Recorded 3 of 150 .*3 seeded image\(s\) of 5\)\.$/);
  });

  it('lists images that cannot be read; the rest keep their provider index', async () => {
    const recorded = await recordImageNeuronInputs(sites, memoryProvider(images, [1, 3]), 'fc2');
    expect(Array.from(recorded.window)).toEqual([0, 2, 4]);
    expect(recorded.errors.map((e) => e.name)).toEqual(['img1.png', 'img3.png']);
    expect([recorded.count, recorded.available]).toEqual([3, 3]);
    expect(recorded.notices).toEqual([]);
    await expect(recordImageNeuronInputs(sites, memoryProvider(images, [0, 1, 2, 3, 4]), 'fc2')).rejects.toThrow(/None of the 5 inputs could be read/);
  });

  it('reads a sequential model, whose first convolution reads the input itself', async () => {
    const recorded = await recordImageNeuronInputs(small, memoryProvider([randomImage(12, 12, 3, 9)]), 'conv_a');
    expect([recorded.count, recorded.dim, recorded.width]).toEqual([100, 27, 6]);
    expect(worstGap(recorded, preActivations(recorded), direct(small, 'conv_a', [randomImage(12, 12, 3, 9)]), (x) => Math.max(0, x))).toBeLessThan(1e-4);
    expect(imageNeuronLayers(small)).toEqual(['conv_a', 'conv_b']);
    expect(imageNeuronLayers(sites).sort()).toEqual(['a1', 'a3', 'c1', 'c2', 'c3', 'fc', 'fc2', 'fc_act']);
  });

  it.each([
    ['pool', 'small', 'pool is a pooling layer (MaxPooling2D): it has no weights before its nonlinearity, so its units have no neuron embedding;'],
    ['flat', 'small', 'flat only rearranges its input (Flatten): it has no weights before a nonlinearity'],
    ['probs', 'small', "probs ends in a softmax, which mixes every unit's pre-activation: no unit is a nonlinearity of its own input, so none has a neuron embedding; measure the layer before it."],
    ['bn', 'sites', 'bn is a batch normalisation, a per-channel affine map with no nonlinearity: measure the activation layer that follows it.'],
    ['merged', 'sites', 'merged (Concatenate) has no weight matrix right before a nonlinearity'],
    ['dw', 'refusals', 'dw is a depthwise convolution: each of its units reads one input channel through its own filter'],
    ['dw_act', 'refusals', 'dw_act is an activation of dw (DepthwiseConv2D), which has no weight matrix'],
    ['cr_act', 'refusals', 'cr_act follows cr, whose own relu already comes between its weights and this nonlinearity: measure cr itself.'],
    ['gap', 'refusals', 'gap is a pooling layer (GlobalAveragePooling2D)'],
  ])('refuses %s and says why', async (layer, which, message) => {
    const model = which === 'small' ? small : which === 'sites' ? sites : await refusalsModel();
    try {
      const promise = recordImageNeuronInputs(model, memoryProvider(images), layer);
      await expect(promise).rejects.toThrow(ModelUseError);
      await expect(promise).rejects.toThrow(message);
    } finally {
      if (which === 'refusals') model.dispose();
    }
  });

  it('leaves no tensor behind, also when it fails or is cancelled', async () => {
    await recordImageNeuronInputs(sites, memoryProvider(images), 'a3');
    const start = tf.memory().numTensors;
    await recordImageNeuronInputs(sites, memoryProvider(images), 'c1', { batchSize: 2 });
    await recordImageNeuronInputs(sites, memoryProvider(images, [2]), 'a3');
    await recordImageNeuronInputs(sites, memoryProvider(images), 'fc_act', { maxRows: 2 });
    await recordImageNeuronInputs(small, memoryProvider([randomImage(12, 12, 3, 1)]), 'conv_b');
    await expect(recordImageNeuronInputs(sites, memoryProvider(images), 'bn')).rejects.toThrow(ModelUseError);
    const controller = new AbortController();
    controller.abort();
    await expect(recordImageNeuronInputs(sites, memoryProvider(images), 'c2', { signal: controller.signal })).rejects.toThrow(/cancelled/);
    expect(tf.memory().numTensors).toBe(start);
  });
});

/**
 * Truth by construction: 12x12 RGB images, dark but for one 3x3 square of pure red or pure blue. conv 'sq' (3x3,
 * 'valid', ReLU) has neuron 0 weighing red and blue alike (two unrelated patterns: their embeddings share no
 * entry) and neuron 1 weighing red only.
 */
describe('polysemanticity of a planted convolution', () => {
  async function plantedModel(): Promise<ImageModel> {
    const model = tf.sequential({ layers: [tf.layers.conv2d({ name: 'sq', inputShape: [12, 12, 3], filters: 2, kernelSize: 3, activation: 'relu' })] });
    const kernel = new Float32Array(3 * 3 * 3 * 2);
    for (let at = 0; at < 9; at++) {
      kernel[(at * 3 + 0) * 2 + 0] = 1; // red -> neuron 0
      kernel[(at * 3 + 2) * 2 + 0] = 1; // blue -> neuron 0
      kernel[(at * 3 + 0) * 2 + 1] = 1; // red -> neuron 1
    }
    const weights = [tf.tensor4d(kernel, [3, 3, 3, 2]), tf.tensor1d([-0.5, -0.5])];
    model.layers[0].setWeights(weights);
    const saved = await saveArtifacts(model);
    tf.dispose(weights);
    model.dispose();
    return ImageModel.fromArtifacts(saved, 'planted');
  }

  function squareImage(channel: number, seed: number): RawImage {
    const random = createRng(seed);
    const data = Uint8Array.from({ length: 12 * 12 * 3 }, () => Math.floor(random() * 12));
    const [y, x] = [1 + Math.floor(random() * 8), 1 + Math.floor(random() * 8)];
    const level = 230 + Math.floor(random() * 25);
    for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) data[((y + dy) * 12 + x + dx) * 3 + channel] = level;
    return { width: 12, height: 12, channels: 3, data };
  }

  it('a neuron built for two unrelated patterns has two clusters, one for a single pattern has one', async () => {
    const model = await plantedModel();
    try {
      const inputs = Array.from({ length: 24 }, (_, i) => squareImage(i % 2 ? 2 : 0, i + 1));
      const recorded = await recordImageNeuronInputs(model, memoryProvider(inputs), 'sq');
      const { neurons, histogram } = await measurePolysemanticity(recorded, { threshold: IMAGE_THRESHOLD, minMembers: 3 });
      const [both, red] = neurons;
      expect(both.polysemanticity).toBe(2);
      expect(both.clusters.map((c) => c.length)).toEqual([12, 12]);
      for (const cluster of both.clusters) expect(new Set(Array.from(cluster, (row) => recorded.window[row] % 2)).size).toBe(1);
      expect(red.polysemanticity).toBe(1);
      expect(red.clusters.map((c) => c.length)).toEqual([12]);
      expect(Array.from(red.clusters[0], (row) => recorded.window[row] % 2)).toEqual(Array(12).fill(0));
      expect(histogram).toEqual([0, 1, 1]);
    } finally {
      model.dispose();
    }
  });
});
