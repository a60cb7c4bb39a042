import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactsFromDirectory } from '../../../src/cli/nodeIo';
import { chooseBackend } from '../../../src/model/backend';
import { ImageModel } from '../../../src/model/image/imageModel';
import { imageAblationTest, imageSteeringTest, intervenedProbabilities, layerMoments, scaleAlong, type PreparedImages } from '../../../src/model/image/intervention';
import { prepareImage } from '../../../src/model/image/preprocess';
import { sampleProvider } from '../../../src/model/image/providers';
import { loadSampleFromDisk } from '../../../src/model/image/sampleNode';
import type { Intervention } from '../../../src/model/intervention';
import { randomDirections } from '../../../src/compute/directions/vectors';
import { FIXTURES, hasFixtures, SKIP_FIXTURES } from '../../fixtures';
import { saveArtifacts, smallCnnArtifacts } from '../helpers';
import { readTidy } from '../../../src/model/readTensors';

const COUNT = 48;
let cnn: ImageModel;
let images: PreparedImages;
let labels: Int32Array;

beforeAll(async () => {
  await chooseBackend({ node: true });
  const { artifacts, name } = await artifactsFromDirectory(join(__dirname, '../../../models/fashion-cnn'));
  cnn = await ImageModel.fromArtifacts(artifacts, name);
  const sample = await loadSampleFromDisk();
  const provider = sampleProvider(sample);
  const inputs = new Float32Array(COUNT * 28 * 28);
  for (let i = 0; i < COUNT; i++) {
    const { input, pixels } = prepareImage(await provider.load(i), { height: 28, width: 28, channels: 1 }, cnn.preprocessing);
    inputs.set(input.dataSync(), i * 28 * 28);
    tf.dispose([input, pixels]);
  }
  images = { inputs, count: COUNT };
  labels = sample.labels.slice(0, COUNT);
});
afterAll(() => cnn?.dispose());

function batch(): tf.Tensor4D {
  return tf.tensor4d(images.inputs, [COUNT, 28, 28, 1]);
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** fashion-cnn's head after conv3 (flatten, fc + ReLU, prediction + softmax) in float64 from its weights: an oracle independent of TF.js's graph. */
function headInFloat64(conv3: Float32Array, count: number): Float64Array {
  const { layers } = cnn.tfModel as tf.LayersModel;
  const [fcKernel, fcBias] = layers.find((l) => l.name === 'fc')!.getWeights().map((w) => w.dataSync());
  const [outKernel, outBias] = layers[layers.length - 1].getWeights().map((w) => w.dataSync());
  const inWidth = conv3.length / count;
  const hidden = fcBias.length;
  const classes = outBias.length;
  const out = new Float64Array(count * classes);
  for (let n = 0; n < count; n++) {
    const h = new Float64Array(hidden);
    for (let j = 0; j < hidden; j++) {
      let s = fcBias[j];
      for (let i = 0; i < inWidth; i++) s += conv3[n * inWidth + i] * fcKernel[i * hidden + j];
      h[j] = Math.max(0, s);
    }
    const logits = Array.from({ length: classes }, (_, k) => h.reduce((s, x, j) => s + x * outKernel[j * classes + k], outBias[k]));
    const top = Math.max(...logits);
    const e = logits.map((z) => Math.exp(z - top));
    const total = e.reduce((a, b) => a + b, 0);
    e.forEach((x, k) => (out[n * classes + k] = x / total));
  }
  return out;
}

describe('interventions in an image model (fashion-cnn, conv3)', () => {
  it('with α = 0 the probabilities are classify\'s', async () => {
    expect(cnn.defaultLayer).toBe('conv3');
    const input = batch();
    const plain = readTidy(() => cnn.classify(input));
    input.dispose();
    const zero: Intervention = { kind: 'add', layer: 'conv3', vector: new Float32Array(32) };
    const [clean, added] = await intervenedProbabilities(cnn, 'conv3', images, [null, zero], { batchSize: 20 });
    expect(maxAbs(clean, plain)).toBeLessThanOrEqual(1e-6);
    expect(maxAbs(added, plain)).toBeLessThanOrEqual(1e-6);
  });

  it('adding along a channel\'s axis equals the head recomputed in float64 on the changed activation', async () => {
    const [unit, alpha] = [5, 3.5];
    const input = batch();
    const { activation } = cnn.run(input, 'conv3');
    const changed = activation.dataSync().slice() as Float32Array;
    tf.dispose([input, activation]);
    for (let at = unit; at < changed.length; at += 32) changed[at] += alpha;
    const expected = headInFloat64(changed, COUNT);
    const vector = new Float32Array(32);
    vector[unit] = alpha;
    const [clean, steered] = await intervenedProbabilities(cnn, 'conv3', images, [null, { kind: 'add', layer: 'conv3', vector }]);
    expect(maxAbs(steered, expected)).toBeLessThan(1e-5);
    expect(maxAbs(steered, clean)).toBeGreaterThan(1e-3);
  });

  it('mean-ablating a channel equals the head recomputed in float64 with the channel set to its held-in mean', async () => {
    const unit = 11;
    const heldIn = { inputs: images.inputs.subarray(0, 24 * 784), count: 24 };
    const heldOut = { inputs: images.inputs.subarray(24 * 784), count: COUNT - 24 };
    const { means } = layerMoments(cnn, 'conv3', heldIn);
    const input = tf.tensor4d(heldOut.inputs, [heldOut.count, 28, 28, 1]);
    const changed = readTidy(() => cnn.run(input, 'conv3').activation).slice();
    input.dispose();
    for (let at = unit; at < changed.length; at += 32) changed[at] = means[unit];
    const expected = headInFloat64(changed, heldOut.count);
    const test = await imageAblationTest(cnn, 'conv3', heldOut, labels.slice(24), { kind: 'unit', unit }, 'mean', labels[24], { random: 2, means });
    const rows = Array.from(labels.slice(24).keys()).filter((r) => labels[24 + r] === labels[24]);
    const probability = rows.reduce((s, r) => s + expected[r * 10 + labels[24]], 0) / rows.length;
    expect(test.probability.ablated).toBeCloseTo(probability, 5);
    await expect(imageAblationTest(cnn, 'conv3', heldOut, labels.slice(24), { kind: 'unit', unit }, 'mean', labels[24], { random: 2 })).rejects.toThrow('Mean-ablation needs the units');
  });

  it('scales a direction by the root mean square of x·v over every position', () => {
    const moments = layerMoments(cnn, 'conv3', images, 16);
    const v = randomDirections(32, 1, 4);
    const input = batch();
    const rows = readTidy(() => cnn.run(input, 'conv3').activation);
    input.dispose();
    let sum = 0;
    for (let p = 0; p < rows.length / 32; p++) sum += rows.subarray(p * 32, p * 32 + 32).reduce((s, x, u) => s + x * v[u], 0) ** 2;
    expect(moments.positions).toBe(COUNT * 49);
    expect(scaleAlong(moments, v)).toBeCloseTo(Math.sqrt(sum / (COUNT * 49)), 4);
    const pooled0 = Array.from({ length: 32 }, (_, u) => rows.filter((_, k) => k < 49 * 32 && k % 32 === u).reduce((a, b) => a + b, 0) / 49);
    expect(maxAbs(moments.pooled.subarray(0, 32), pooled0)).toBeLessThan(1e-5);
  });

  it('leaks no tensors', async () => {
    const v = randomDirections(32, 1, 2);
    const run = async () => {
      await intervenedProbabilities(cnn, 'conv2', images, [null, { kind: 'project-out', layer: 'conv2', direction: v }]);
      layerMoments(cnn, 'conv2', images);
    };
    await run();
    const before = tf.memory().numTensors;
    await run();
    const moments = layerMoments(cnn, 'conv3', images);
    await imageSteeringTest(cnn, 'conv3', images, randomDirections(32, 1, 3), 2, 1, { random: 2, scale: moments });
    await imageAblationTest(cnn, 'conv3', images, labels, { kind: 'direction', direction: randomDirections(32, 1, 3) }, 'project', labels[0], { random: 2 });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('steering with α = 0 moves nothing; same-norm controls have the direction\'s norm', async () => {
    const moments = layerMoments(cnn, 'conv3', images);
    const v = randomDirections(32, 1, 9);
    const none = await imageSteeringTest(cnn, 'conv3', images, v, 0, 1, { random: 3, scale: moments });
    expect(none.rise.value).toBe(0);
    expect(none.rise.randomValues).toEqual([0, 0, 0]);
    expect(none.rise.pT).toBe(1);
    const sameNorm = await imageSteeringTest(cnn, 'conv3', images, v, 4, 1, { random: 3, controls: 'norm', scale: moments });
    expect(sameNorm.norm).toBeCloseTo(4 * scaleAlong(moments, v), 4);
    sameNorm.randomNorms.forEach((n) => expect(n).toBeCloseTo(sameNorm.norm, 3));
    expect(sameNorm.classChanges.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 5);
    expect(sameNorm.classChanges[1]).toBeCloseTo(sameNorm.steered - sameNorm.clean, 6);
  });

  it('projecting a channel\'s axis out is zero-ablating it; a class without held-out images is refused', async () => {
    const unit = 7;
    const axis = new Float32Array(32);
    axis[unit] = 1;
    const cls = labels[0];
    const projected = await imageAblationTest(cnn, 'conv3', images, labels, { kind: 'direction', direction: axis }, 'project', cls, { random: 3 });
    const zeroed = await imageAblationTest(cnn, 'conv3', images, labels, { kind: 'unit', unit }, 'zero', cls, { random: 3 });
    expect(projected.controls).toBe('random directions');
    expect(zeroed.controls).toBe('random units');
    expect(zeroed.controlUnits).toHaveLength(3);
    expect(zeroed.controlUnits).not.toContain(unit);
    expect(projected.images).toBe(labels.filter((l) => l === cls).length);
    expect(zeroed.probability.ablated).toBeCloseTo(projected.probability.ablated, 6);
    expect(zeroed.accuracy).toEqual(projected.accuracy);
    expect(projected.accuracyDrop.value).toBeCloseTo(projected.accuracy.clean - projected.accuracy.ablated, 12);
    const missing = Array.from({ length: 10 }, (_, k) => k).find((k) => !labels.includes(k));
    const noLabels = new Int32Array(COUNT).fill(-1);
    await expect(imageAblationTest(cnn, 'conv3', images, noLabels, { kind: 'direction', direction: axis }, 'project', missing ?? 0, { random: 2 })).rejects.toThrow(/No held-out image is labelled as class/);
  });

  it('refuses a direction of another width, another layer, and a class out of range', async () => {
    await expect(intervenedProbabilities(cnn, 'conv3', images, [{ kind: 'add', layer: 'conv3', vector: new Float32Array(16) }])).rejects.toThrow('A direction in conv3 has 32 components; got 16.');
    await expect(intervenedProbabilities(cnn, 'conv3', images, [{ kind: 'add', layer: 'conv2', vector: new Float32Array(32) }])).rejects.toThrow(/one layer: conv3 and conv2/);
    const moments = layerMoments(cnn, 'conv3', images);
    await expect(imageSteeringTest(cnn, 'conv3', images, randomDirections(32, 1, 1), 1, 10, { random: 2, scale: moments })).rejects.toThrow('has classes 0..9; got 10');
  });
});

describe('other topologies: a dead channel, a skip connection, a graph model', () => {
  it('projecting out a direction orthogonal to every activation changes nothing (a channel ReLU keeps at 0)', async () => {
    const artifacts = await smallCnnArtifacts();
    const built = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
    const conv = built.getLayer('conv_b');
    const [kernel, bias] = conv.getWeights();
    const deadKernel = tf.tidy(() => kernel.mul(tf.tensor1d([0, 1, 1, 1, 1, 1, 1, 1])));
    const deadBias = tf.tensor1d([-1, 0, 0, 0, 0, 0, 0, 0]);
    conv.setWeights([deadKernel, deadBias]);
    const model = await ImageModel.fromArtifacts(await saveArtifacts(built), 'dead');
    tf.dispose([deadKernel, deadBias]);
    built.dispose();
    const count = 6;
    const inputs = Float32Array.from({ length: count * 12 * 12 * 3 }, (_, i) => ((i * 7919) % 255) / 255);
    const few = { inputs, count };
    const axis = new Float32Array(8);
    axis[0] = 1;
    const [clean, projected, shifted] = await intervenedProbabilities(model, 'conv_b', few, [
      null,
      { kind: 'project-out', layer: 'conv_b', direction: axis },
      { kind: 'project-out', layer: 'conv_b', direction: randomDirections(8, 1, 1) },
    ]);
    expect(maxAbs(projected, clean)).toBe(0);
    expect(maxAbs(shifted, clean)).toBeGreaterThan(1e-4);
    model.dispose();
  });

  it('refuses a layer a skip connection goes around', async () => {
    const input = tf.input({ shape: [6, 6, 2] });
    const a = tf.layers.conv2d({ name: 'a', filters: 2, kernelSize: 1 }).apply(input) as tf.SymbolicTensor;
    const b = tf.layers.conv2d({ name: 'b', filters: 2, kernelSize: 1 }).apply(a) as tf.SymbolicTensor;
    const sum = tf.layers.add({ name: 'sum' }).apply([a, b]) as tf.SymbolicTensor;
    const flat = tf.layers.flatten({ name: 'flat' }).apply(sum) as tf.SymbolicTensor;
    const out = tf.layers.dense({ name: 'out', units: 3, activation: 'softmax' }).apply(flat) as tf.SymbolicTensor;
    const built = tf.model({ inputs: input, outputs: out });
    const model = await ImageModel.fromArtifacts(await saveArtifacts(built), 'skip');
    built.dispose();
    const few = { inputs: new Float32Array(2 * 72).fill(0.5), count: 2 };
    await expect(intervenedProbabilities(model, 'b', few, [null])).rejects.toThrow('Layer "b" does not cut model "skip": "sum" also reads');
    // After the join the rest is a chain again, and the cut is exact.
    const input4 = tf.tensor4d(few.inputs, [2, 6, 6, 2]);
    const plain = readTidy(() => model.classify(input4));
    input4.dispose();
    const [clean] = await intervenedProbabilities(model, 'sum', few, [null]);
    expect(maxAbs(clean, plain)).toBeLessThanOrEqual(1e-6);
    model.dispose();
  });

  it('a graph model runs on from an inner node with the image still fed, so a branch around the layer sees it', async () => {
    // images -> a = Relu -> b = Relu -> sum = images + b -> Reshape [-1, 4]: a skip connection around a and b.
    const float = { T: { type: 'DT_FLOAT' } };
    const node = (name: string, op: string, input: string[], attr: object = float) => ({ name, op, input, attr });
    const topology = {
      node: [
        node('images', 'Placeholder', [], { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: [{ size: '-1' }, { size: '2' }, { size: '2' }, { size: '1' }] } } }),
        node('shape', 'Const', [], { dtype: { type: 'DT_INT32' }, value: { tensor: { dtype: 'DT_INT32', tensorShape: { dim: [{ size: '2' }] } } } }),
        node('a', 'Relu', ['images']),
        node('b', 'Relu', ['a']),
        node('sum', 'AddV2', ['images', 'b']),
        node('logits', 'Reshape', ['sum', 'shape'], { T: { type: 'DT_FLOAT' }, Tshape: { type: 'DT_INT32' } }),
        // A dead end: a second output of the graph, which the model's first output (the logits) does not read.
        node('side', 'Relu', ['images']),
      ],
      versions: { producer: 1 },
    };
    const artifacts: tf.io.ModelArtifacts = {
      format: 'graph-model',
      modelTopology: topology,
      weightSpecs: [{ name: 'shape', shape: [2], dtype: 'int32' }],
      weightData: new Int32Array([-1, 4]).buffer,
    };
    const model = await ImageModel.fromArtifacts(artifacts, 'graph-skip');
    const inputs = Float32Array.from([0.5, -1, 2, -0.25, -3, 1, 0, 0.75]);
    const before = tf.memory().numTensors;
    const batch = tf.tensor4d(inputs, [2, 2, 2, 1]);
    const { activation, probabilitiesFrom } = model.splitAt(batch, 'b');
    // A shift of the first position only: were the image not fed to the branch around b, softmax(1 + relu(x)) would differ.
    const SHIFT = [1, 0, 0, 0];
    const [shifted, zeros] = tf.tidy(() => [activation.add(tf.tensor4d([...SHIFT, ...SHIFT], [2, 2, 2, 1])), tf.zerosLike(activation)]);
    const [clean, moved, zeroed, plain] = [probabilitiesFrom(activation), probabilitiesFrom(shifted), probabilitiesFrom(zeros), model.classify(batch)].map((t) => {
      const values = t.dataSync() as Float32Array;
      t.dispose();
      return values;
    });
    tf.dispose([batch, activation, shifted, zeros]);
    expect(tf.memory().numTensors).toBe(before);
    // float64: softmax over each image's 4 values of x + relu(x) (+ the shift at b).
    const softmax = (row: number[]) => {
      const top = Math.max(...row);
      const e = row.map((x) => Math.exp(x - top));
      return e.map((x) => x / e.reduce((a, b) => a + b, 0));
    };
    const expected = (shift: number[]) => [0, 1].flatMap((i) => softmax(Array.from(inputs.subarray(i * 4, i * 4 + 4), (x, p) => x + Math.max(0, x) + shift[p])));
    expect(maxAbs(clean, expected([0, 0, 0, 0]))).toBeLessThanOrEqual(1e-6);
    expect(maxAbs(clean, plain)).toBeLessThanOrEqual(1e-7);
    expect(maxAbs(moved, expected(SHIFT))).toBeLessThanOrEqual(1e-6);
    expect(maxAbs(moved, clean)).toBeGreaterThan(1e-3);
    expect(maxAbs(zeroed, [0, 1].flatMap((i) => softmax(Array.from(inputs.subarray(i * 4, i * 4 + 4)))))).toBeLessThanOrEqual(1e-6);
    // A node the output does not read is refused, not run as "no effect".
    const again = tf.tensor4d(inputs, [2, 2, 2, 1]);
    expect(() => model.splitAt(again, 'side')).toThrow('The output of model "graph-skip" does not depend on layer "side".');
    again.dispose();
    model.dispose();
  });

  it.skipIf(!hasFixtures)(`MobileNet (a graph model): adding and projecting out at Conv2d_13 equal its head in float64 ${hasFixtures ? '' : SKIP_FIXTURES}`, async () => {
    const { artifacts, name } = await artifactsFromDirectory(join(FIXTURES, 'models/mobilenet_v1_025_224'));
    const model = await ImageModel.fromArtifacts(artifacts, name);
    const layer = model.defaultLayer;
    expect(layer).toMatch(/Conv2d_13_pointwise\/Relu6$/);
    const count = 2;
    const inputs = Float32Array.from({ length: count * 224 * 224 * 3 }, (_, i) => (((i * 7919) % 251) / 125) - 1);
    const few = { inputs, count };
    const v = randomDirections(256, 1, 3);
    const before = tf.memory().numTensors;
    const [clean, added, projected] = await intervenedProbabilities(model, layer, few, [
      null,
      { kind: 'add', layer, vector: v.map((x) => 2 * x) },
      { kind: 'project-out', layer, direction: v },
    ]);
    expect(tf.memory().numTensors).toBe(before);
    const batch = tf.tensor4d(inputs, [count, 224, 224, 3]);
    const plain = readTidy(() => model.classify(batch));
    const { activation } = model.run(batch, layer);
    const h = activation.dataSync() as Float32Array; // count x 7 x 7 x 256
    tf.dispose([batch, activation]);
    // The head after the layer: global mean pool, a 1x1 convolution with bias (1001 logits), softmax; in float64.
    const weights = (model.tfModel as tf.GraphModel).weights;
    const W = weights['module/MobilenetV1/Logits/Conv2d_1c_1x1/weights'][0].dataSync() as Float32Array;
    const b = weights['module/MobilenetV1/Logits/Conv2d_1c_1x1/biases'][0].dataSync() as Float32Array;
    const head = (change: (row: Float64Array) => void) =>
      Array.from({ length: count }, (_, n) => {
        const pooled = new Float64Array(256);
        for (let p = 0; p < 49; p++) {
          const row = Float64Array.from(h.subarray((n * 49 + p) * 256, (n * 49 + p + 1) * 256));
          change(row);
          row.forEach((x, c) => (pooled[c] += x / 49));
        }
        const logits = Array.from(b, (bias, k) => pooled.reduce((sum, x, c) => sum + x * W[c * 1001 + k], bias));
        const top = Math.max(...logits);
        const e = logits.map((z) => Math.exp(z - top));
        const total = e.reduce((a, x) => a + x, 0);
        return e.map((x) => x / total);
      }).flat();
    expect(maxAbs(clean, plain)).toBeLessThanOrEqual(1e-6);
    expect(maxAbs(clean, head(() => {}))).toBeLessThanOrEqual(1e-5);
    expect(maxAbs(added, head((row) => row.forEach((x, c) => (row[c] = x + 2 * v[c]))))).toBeLessThanOrEqual(1e-5);
    expect(maxAbs(projected, head((row) => {
      const dot = row.reduce((sum, x, c) => sum + x * v[c], 0);
      row.forEach((x, c) => (row[c] = x - dot * v[c]));
    }))).toBeLessThanOrEqual(1e-5);
    // Each intervention moves the probabilities by more than the tolerance.
    expect(maxAbs(added, clean)).toBeGreaterThan(1e-4);
    expect(maxAbs(projected, clean)).toBeGreaterThan(1e-4);
    model.dispose();
  });
});
