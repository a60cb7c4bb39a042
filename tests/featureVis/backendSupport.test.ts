import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelForCli } from '../../src/cli/buildAtlas';
import { ImageModel } from '../../src/model/image/imageModel';
import { chooseBackend } from '../../src/model/backend';
import { chooseFeatureVisBackend, gradientSupport } from '../../src/featureVis/backendSupport';
import { installWasmGradientKernels, uninstallWasmGradientKernels } from '../../src/model/wasmKernels';
import { FIXTURES, hasFixtures, SKIP_FIXTURES } from '../fixtures';
import { smallCnnArtifacts } from '../model/helpers';
import { noGradientArtifacts } from './helpers';

let small: ImageModel;
beforeAll(async () => {
  await chooseBackend({ node: true });
  small = await ImageModel.fromArtifacts(await smallCnnArtifacts(), 'small');
});
afterAll(() => {
  uninstallWasmGradientKernels();
});

describe('gradientSupport', () => {
  it('finds nothing missing for a plain CNN on wasm and cpu, restores the backend, leaks nothing', async () => {
    const before = tf.memory().numTensors;
    for (const backend of ['wasm', 'cpu']) {
      const s = await gradientSupport(small, 'conv_b', backend);
      expect(s).toMatchObject({ backend, ok: true, missing: [], noGradient: [] });
      expect(s.needed).toEqual(['Conv2DBackpropInput', 'MaxPoolGrad']);
    }
    expect(tf.getBackend()).toBe('wasm');
    expect(tf.memory().numTensors).toBe(before);
  });

  it('names an op without a gradient, and the choice falls back to exemplars', async () => {
    const model = await ImageModel.fromArtifacts(await noGradientArtifacts(), 'cropper');
    const s = await gradientSupport(model, 'conv', 'cpu');
    expect(s.ok).toBe(false);
    expect(s.noGradient).toContain('StridedSlice');
    const choice = await chooseFeatureVisBackend(model, 'conv', { order: ['wasm', 'cpu'] });
    expect(choice.backend).toBeNull();
    expect(choice.message).toBe('cropper: StridedSlice has no gradient in TF.js; feature visualisation is off and cells show dataset exemplars.');
    model.dispose();
  });
});

describe('chooseFeatureVisBackend', () => {
  it('picks wasm for a plain CNN', async () => {
    const choice = await chooseFeatureVisBackend(small, 'conv_b');
    expect(choice.backend).toBe('wasm');
    expect(choice.message).toBe('small: feature visualisation runs on wasm.');
  });

  it.skipIf(!hasFixtures)(`MobileNet: cpu without the wasm depthwise gradient, wasm with it ${hasFixtures ? '' : SKIP_FIXTURES}`, async () => {
    const model = await loadModelForCli(join(FIXTURES, 'models/mobilenet_v1_025_224'));
    // The layer right after the first depthwise convolution keeps the probe small.
    const layer = model.layers.find((l) => /Conv2d_1_pointwise/.test(l.name))!.name;
    try {
      uninstallWasmGradientKernels();
      const plain = await chooseFeatureVisBackend(model, layer, { supplyWasmKernels: false });
      expect(plain.backend).toBe('cpu');
      expect(plain.message).toBe(
        `${model.name}: DepthwiseConv2dNativeBackpropInput has no wasm kernel; feature visualisation runs on cpu (slower).`,
      );
      expect(plain.support[0].missing).toEqual(['DepthwiseConv2dNativeBackpropInput']);
      const helped = await chooseFeatureVisBackend(model, layer);
      expect(helped.backend).toBe('wasm');
      expect(helped.message).toMatch(/runs on wasm \(with featureVis's own DepthwiseConv2dNativeBackpropInput for wasm\)/);
      expect(tf.getBackend()).toBe('wasm');
    } finally {
      model.dispose();
    }
  });
});

describe('featureVis wasm gradient kernels', () => {
  const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
  /** The input gradient of sum(conv(x)^2) on cpu and on wasm (with the featureVis kernels). */
  async function bothBackends(conv: (x: tf.Tensor4D, f: tf.Tensor4D) => tf.Tensor, xShape: readonly number[], fShape: readonly number[]) {
    installWasmGradientKernels();
    const xs = Float32Array.from({ length: size(xShape) }, (_, i) => Math.sin(i * 0.7));
    const fs = Float32Array.from({ length: size(fShape) }, (_, i) => Math.cos(i * 1.3));
    const grads: Float32Array[] = [];
    for (const backend of ['cpu', 'wasm']) {
      await tf.setBackend(backend);
      grads.push(
        tf.tidy(() => {
          const f = tf.tensor4d(fs, [...fShape] as [number, number, number, number]);
          const loss = (x: tf.Tensor) => tf.sum(tf.square(conv(x as tf.Tensor4D, f)));
          return tf.grad(loss)(tf.tensor4d(xs, [...xShape] as [number, number, number, number])).dataSync() as Float32Array;
        }),
      );
    }
    grads[0].forEach((v, i) => expect(grads[1][i]).toBeCloseTo(v, 3));
  }

  it.each([
    [[2, 9, 9, 4], [3, 3, 4, 1], 1, 'same'],
    [[1, 9, 8, 3], [3, 3, 3, 2], 2, 'same'],
    [[1, 10, 8, 2], [5, 3, 2, 1], 2, 'valid'],
  ] as const)('DepthwiseConv2dNativeBackpropInput matches cpu for x %j, filter %j, stride %i, %s', async (xShape, fShape, stride, pad) => {
    await bothBackends((x, f) => tf.depthwiseConv2d(x, f, stride, pad), xShape, fShape);
  });

  it.each([
    [[2, 7, 7, 5], [1, 1, 5, 6], 1, 'same'],
    [[1, 9, 8, 3], [3, 3, 3, 4], 2, 'same'],
    [[1, 10, 9, 2], [3, 2, 2, 3], 1, 'valid'],
    [[1, 11, 11, 3], [5, 5, 3, 2], 3, 'valid'],
  ] as const)('the XNNPACK route of Conv2DBackpropInput matches cpu for x %j, filter %j, stride %i, %s', async (xShape, fShape, stride, pad) => {
    await bothBackends((x, f) => tf.conv2d(x, f, stride, pad), xShape, fShape);
  });

  it('uninstalling restores wasm as shipped', () => {
    installWasmGradientKernels();
    const fast = tf.getKernel('Conv2DBackpropInput', 'wasm')!.kernelFunc;
    uninstallWasmGradientKernels();
    expect(tf.getKernel('DepthwiseConv2dNativeBackpropInput', 'wasm')).toBeUndefined();
    expect(tf.getKernel('Conv2DBackpropInput', 'wasm')!.kernelFunc).not.toBe(fast);
  });
});
