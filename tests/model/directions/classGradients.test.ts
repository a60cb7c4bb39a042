import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseBackend } from '../../../src/model/backend';
import { ImageModel } from '../../../src/model/image/imageModel';
import { ModelUseError } from '../../../src/model/recordTable';
import { classAttribution } from '../../../src/compute/directions/attribution';
import { tcavScore } from '../../../src/compute/directions/tcav';
import { classGradients, classLogitFunction } from '../../../src/model/directions/classGradients';
import { uninstallWasmGradientKernels } from '../../../src/model/wasmKernels';
import { createRng } from '../../../src/lib/rng';
import { saveArtifacts, smallCnnArtifacts } from '../helpers';

let small: ImageModel;
let dense: ImageModel;
const N = 4;
let pixels: Float32Array;

/** conv 12x12x3 -> 10x10x4 (ReLU), flatten, a hidden dense layer of 6 (tanh), 3 softmax classes. */
async function denseArtifacts(): Promise<tf.io.ModelArtifacts> {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ name: 'conv', inputShape: [12, 12, 3], filters: 4, kernelSize: 3, activation: 'relu', kernelInitializer: init(11) }),
      tf.layers.flatten({ name: 'flat' }),
      tf.layers.dense({ name: 'hidden', units: 6, activation: 'tanh', kernelInitializer: init(12) }),
      tf.layers.dense({ name: 'probs', units: 3, activation: 'softmax', kernelInitializer: init(13) }),
    ],
  });
  const saved = await saveArtifacts(model);
  model.dispose();
  return saved;
}

beforeAll(async () => {
  await chooseBackend({ node: true });
  small = await ImageModel.fromArtifacts(await smallCnnArtifacts(), 'small');
  dense = await ImageModel.fromArtifacts(await denseArtifacts(), 'dense');
  const random = createRng(3);
  pixels = Float32Array.from({ length: N * 12 * 12 * 3 }, () => random());
});
afterAll(() => {
  small.dispose();
  dense.dispose();
  uninstallWasmGradientKernels();
});

/** The logit of `k` for each input with the layer's activation replaced by `activation` (float64 copy). */
function logitsAt(model: ImageModel, layer: string, activation: Float32Array, shape: number[], k: number): number[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(pixels, [N, 12, 12, 3]);
    const z = classLogitFunction(model, layer)(x, tf.tensor(activation, shape));
    return Array.from(z.slice([0, k], [-1, 1]).dataSync());
  });
}

function activationOf(model: ImageModel, layer: string): { values: Float32Array; shape: number[] } {
  return tf.tidy(() => {
    const { activation } = model.run(tf.tensor4d(pixels, [N, 12, 12, 3]), layer);
    return { values: activation.dataSync() as Float32Array, shape: activation.shape };
  });
}

const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

describe('classLogitFunction', () => {
  it('gives logits whose softmax is the model\'s probabilities, for the recorded activation', () => {
    for (const [model, layer] of [[small, 'conv_a'], [small, 'flat'], [dense, 'hidden']] as const) {
      const [probs, fromLogits] = tf.tidy(() => {
        const x = tf.tensor4d(pixels, [N, 12, 12, 3]);
        const { activation, probabilities } = model.run(x, layer);
        return [probabilities!.dataSync(), tf.softmax(classLogitFunction(model, layer)(x, activation)).dataSync()];
      });
      for (let i = 0; i < probs.length; i++) expect(fromLogits[i]).toBeCloseTo(probs[i], 5);
    }
  });
});

describe('classGradients', () => {
  it.each([
    ['small', 'conv_a'],
    ['small', 'conv_b'],
    ['small', 'flat'],
    ['dense', 'hidden'],
  ])('%s %s: each position\'s gradient matches a central difference of the logit', async (name, layer) => {
    const model = name === 'small' ? small : dense;
    const k = 1;
    const { values, shape } = activationOf(model, layer);
    const dim = shape[shape.length - 1];
    const positions = values.length / N / dim;
    const grads = await classGradients(model, layer, pixels, k, { sites: 'all' });
    expect(grads.length).toBe(values.length);
    const scale = maxAbs(grads);
    expect(scale).toBeGreaterThan(0);
    const random = createRng(9);
    const eps = 1e-3;
    for (let t = 0; t < 8; t++) {
      // A ReLU'd zero can tie in a max-pool window, where the logit has no derivative: probe positive values.
      let i = 0;
      let at = 0;
      do {
        i = Math.floor(random() * N);
        at = i * positions * dim + Math.floor(random() * positions * dim);
      } while (values[at] <= 10 * eps);
      const plus = Float32Array.from(values);
      const minus = Float32Array.from(values);
      plus[at] += eps;
      minus[at] -= eps;
      const fd = (logitsAt(model, layer, plus, shape, k)[i] - logitsAt(model, layer, minus, shape, k)[i]) / (2 * eps);
      expect(Math.abs(fd - grads[at])).toBeLessThan(1e-2 * scale + 1e-4);
    }
  });

  it('pooled rows are the sum over positions: the derivative of moving every position by v', async () => {
    const layer = 'conv_a';
    const k = 2;
    const { values, shape } = activationOf(small, layer);
    const dim = shape[3];
    const positions = shape[1] * shape[2];
    // On cpu: tfjs-backend-wasm 4.22's MaxPoolGrad gives nothing to a window of tied zeros, where moving
    // every position by v moves the max by v; cpu gives the tie to one of them, which is right here.
    const pooled = await classGradients(small, layer, pixels, k, { backends: ['cpu'] });
    const all = await classGradients(small, layer, pixels, k, { sites: 'all', backends: ['cpu'] });
    expect(pooled.length).toBe(N * dim);
    const random = createRng(4);
    const v = Float32Array.from({ length: dim }, () => random() - 0.5);
    const eps = 1e-3;
    const shifted = (sign: number) => values.map((a, j) => a + sign * eps * v[j % dim]);
    const plus = logitsAt(small, layer, shifted(1), shape, k);
    const minus = logitsAt(small, layer, shifted(-1), shape, k);
    for (let i = 0; i < N; i++) {
      let gv = 0;
      for (let d = 0; d < dim; d++) {
        gv += pooled[i * dim + d] * v[d];
        let sum = 0;
        for (let p = 0; p < positions; p++) sum += all[(i * positions + p) * dim + d];
        expect(pooled[i * dim + d]).toBeCloseTo(sum, 4);
      }
      const fd = (plus[i] - minus[i]) / (2 * eps);
      expect(Math.abs(fd - gv)).toBeLessThan(1e-2 * Math.max(1, Math.abs(gv)));
    }
  });

  it('agrees with model.run: the change of the centred log-probability along an input perturbation is sum_p g_p · dh_p', async () => {
    // Through model.run alone: log p_k - mean_j log p_j = z_k - mean_j z_j, whose gradient is g_k - mean_j g_j.
    const layer = 'conv_a';
    const perClass = await Promise.all([0, 1, 2].map((k) => classGradients(small, layer, pixels, k, { sites: 'all' })));
    const random = createRng(5);
    const u = Float32Array.from(pixels, () => random() - 0.5);
    const eps = 1e-3;
    const runAt = (sign: number) => tf.tidy(() => {
      const x = tf.tensor4d(pixels.map((p, j) => p + sign * eps * u[j]), [N, 12, 12, 3]);
      const { activation, probabilities } = small.run(x, layer);
      return { h: activation.dataSync() as Float32Array, logp: tf.log(probabilities!).dataSync() as Float32Array };
    });
    const plus = runAt(1);
    const minus = runAt(-1);
    const rowLength = perClass[0].length / N;
    for (let i = 0; i < N; i++) {
      for (let k = 0; k < 3; k++) {
        const centred = (r: { logp: Float32Array }) => r.logp[i * 3 + k] - (r.logp[i * 3] + r.logp[i * 3 + 1] + r.logp[i * 3 + 2]) / 3;
        const observed = centred(plus) - centred(minus);
        let predicted = 0;
        for (let j = i * rowLength; j < (i + 1) * rowLength; j++) {
          const g = perClass[k][j] - (perClass[0][j] + perClass[1][j] + perClass[2][j]) / 3;
          predicted += g * (plus.h[j] - minus.h[j]);
        }
        expect(Math.abs(observed - predicted)).toBeLessThan(1e-2 * Math.max(Math.abs(predicted), 1e-2));
      }
    }
  });

  it('takes one site per input (-1 pooled), a tensor input, and leaves the backend and tensors as they were', async () => {
    const all = await classGradients(small, 'conv_b', pixels, 0, { sites: 'all' });
    const pooled = await classGradients(small, 'conv_b', pixels, 0);
    const before = tf.memory().numTensors;
    const x = tf.tensor4d(pixels, [N, 12, 12, 3]);
    const picked = await classGradients(small, 'conv_b', x, 0, { sites: [3, -1, 0, 15], batchSize: 3 });
    x.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.getBackend()).toBe('wasm');
    const dim = 8;
    const expected = [all.subarray(3 * dim, 4 * dim), pooled.subarray(dim, 2 * dim), all.subarray(2 * 16 * dim, 2 * 16 * dim + dim), all.subarray((3 * 16 + 15) * dim, (3 * 16 + 16) * dim)];
    expected.forEach((row, i) => row.forEach((g, d) => expect(picked[i * dim + d]).toBeCloseTo(g, 5)));
  });

  it('routes to a backend that works and restores the current one', async () => {
    const cpu = await classGradients(small, 'conv_b', pixels, 1, { backends: ['cpu'] });
    expect(tf.getBackend()).toBe('wasm');
    const here = await classGradients(small, 'conv_b', pixels, 1);
    here.forEach((g, j) => expect(cpu[j]).toBeCloseTo(g, 4));
  });

  it('refuses the softmax output, a class out of range and bad sites', async () => {
    await expect(classGradients(small, 'probs', pixels, 0)).rejects.toThrow(ModelUseError);
    await expect(classGradients(small, 'conv_a', pixels, 3)).rejects.toThrow(/not an output/);
    await expect(classGradients(small, 'conv_a', pixels, 0, { sites: [0, 1] })).rejects.toThrow(/2 positions for 4 inputs/);
    await expect(classGradients(small, 'conv_a', pixels, 0, { sites: [0, 1, 2, 100] })).rejects.toThrow(/Position 100/);
  });
});

describe('concepts and attribution', () => {
  it('a concept built to drive a class logit (the mean gradient) scores near 1 for that class', async () => {
    const random = createRng(8);
    const many = Float32Array.from({ length: 16 * 12 * 12 * 3 }, () => random());
    const grads = await classGradients(small, 'conv_a', many, 0);
    const dim = 6;
    const mean = new Float32Array(dim);
    for (let j = 0; j < grads.length; j++) mean[j % dim] += grads[j] / 16;
    expect(tcavScore(grads, 16, dim, mean)).toBeGreaterThanOrEqual(0.9);
    expect(tcavScore(grads, 16, dim, mean.map((m) => -m))).toBeLessThanOrEqual(0.1);
  });

  it('activation x gradient is the logit itself for the linear path to it', async () => {
    // flat -> probs is one dense layer: z_k = h · W_k + b_k, so h · g = z_k - b_k.
    const grads = await classGradients(small, 'flat', pixels, 2);
    const { values } = activationOf(small, 'flat');
    const attribution = classAttribution(values, grads, 128);
    const bias = (small.tfModel as tf.LayersModel).getLayer('probs').getWeights()[1].dataSync()[2];
    const logits = logitsAt(small, 'flat', values, [N, 128], 2);
    attribution.forEach((a, i) => expect(a).toBeCloseTo(logits[i] - bias, 4));
  });

  it('classAttribution refuses rows that do not match', () => {
    expect(() => classAttribution(new Float32Array(6), new Float32Array(4), 2)).toThrow(/same whole rows/);
  });
});
