import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseBackend } from '../../src/model/backend';
import { ImageModel } from '../../src/model/image/imageModel';
import { chooseFeatureVisBackend, gradientSupport } from '../../src/featureVis/backendSupport';
import { layerFunction } from '../../src/featureVis/objective';
import { installWasmGradientKernels, uninstallWasmGradientKernels } from '../../src/model/wasmKernels';
import { classGradients } from '../../src/model/directions/classGradients';
import { onGradientBackend } from '../../src/model/directions/gradientBackend';
import { createRng, gaussian } from '../../src/lib/rng';
import { darknetArtifacts } from './darknetModel';
import { readTidy } from '../../src/model/readTensors';

type Shape4 = [number, number, number, number];
type Pad = 'same' | 'valid';

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
/** max |wasm - cpu| over max |cpu|: the error relative to the result's scale. */
function relativeError(cpu: ArrayLike<number>, wasm: ArrayLike<number>): number {
  expect(wasm.length).toBe(cpu.length);
  let worst = 0;
  for (let i = 0; i < cpu.length; i++) worst = Math.max(worst, Math.abs(cpu[i] - wasm[i]));
  return worst / Math.max(maxAbs(cpu), 1e-30);
}

const normal = (n: number, seed: number) => {
  const random = createRng(seed);
  return Float32Array.from({ length: n }, () => gaussian(random));
};
/** Small whole numbers from -2 to 1: many ties, many windows whose maximum is 0 or below. */
const tied = (n: number, seed: number) => {
  const random = createRng(seed);
  return Float32Array.from({ length: n }, () => Math.floor(random() * 4) - 2);
};

/** Runs one kernel on cpu and on wasm (with the supplied gradient kernels) on the same values. */
async function kernelOnBoth(kernel: string, inputs: Record<string, { values: Float32Array; shape: number[] }>, attrs: object): Promise<[Float32Array, Float32Array]> {
  installWasmGradientKernels();
  const out: Float32Array[] = [];
  for (const backend of ['cpu', 'wasm']) {
    await tf.setBackend(backend);
    out.push(
      tf.tidy(() => {
        const tensors = Object.fromEntries(Object.entries(inputs).map(([name, t]) => [name, tf.tensor(t.values, t.shape)]));
        return (tf.engine().runKernel(kernel, tensors, attrs as tf.NamedAttrMap) as tf.Tensor).dataSync() as Float32Array;
      }),
    );
  }
  expect(tf.getBackend()).toBe('wasm');
  return [out[0], out[1]];
}

/** Tensors, and wasm's own data ids: a kernel that forgets an intermediate leaves an id without a tensor. */
const counts = () => [tf.memory().numTensors, tf.findBackend('wasm')!.numDataIds()];

const errors: string[] = [];
afterAll(() => {
  uninstallWasmGradientKernels();
  console.log(`wasm vs cpu, max relative error:\n${errors.join('\n')}`);
});
beforeAll(async () => {
  await chooseBackend({ node: true });
});

describe('supplied wasm gradient kernels against the cpu backend', () => {
  // XNNPACK sums in float32 in its own order, cpu in float64: the error grows with the number of terms (3.8e-6 of
  // the result's scale for 37k); an indexing mistake gives errors of order 1.
  it.each([
    [[2, 9, 9, 4], [3, 3, 4, 5], 1, 'same'],
    [[1, 10, 8, 3], [3, 3, 3, 2], 2, 'same'],
    [[1, 11, 11, 3], [5, 5, 3, 2], 3, 'valid'],
    [[2, 7, 9, 6], [1, 1, 6, 4], 1, 'valid'],
    [[1, 12, 12, 2], [2, 2, 2, 3], 2, 'valid'],
    // 18432 positions x 400 taps: more than one im2col block.
    [[2, 96, 96, 16], [5, 5, 16, 2], 1, 'same'],
  ] as [Shape4, Shape4, number, Pad][])('Conv2DBackpropFilter: x %j, filter %j, stride %i, %s', async (xShape, filterShape, stride, pad) => {
    const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, stride, 1, pad);
    const [cpu, wasm] = await kernelOnBoth(
      'Conv2DBackpropFilter',
      { x: { values: normal(size(xShape), 1), shape: xShape }, dy: { values: normal(size(info.outShape), 2), shape: info.outShape } },
      { strides: stride, pad, dataFormat: 'NHWC', filterShape },
    );
    const error = relativeError(cpu, wasm);
    errors.push(`Conv2DBackpropFilter ${xShape} ${filterShape} s${stride} ${pad}: ${error.toExponential(1)}`);
    expect(error).toBeLessThan(1e-5);
  });

  it.each([
    [[2, 9, 9, 4], [3, 3, 4, 1], 1, 'same'],
    [[1, 9, 8, 3], [3, 3, 3, 2], 2, 'same'],
    [[1, 10, 8, 2], [5, 3, 2, 1], 2, 'valid'],
    [[2, 11, 11, 3], [3, 3, 3, 3], 3, 'valid'],
  ] as [Shape4, Shape4, number, Pad][])('DepthwiseConv2dNativeBackpropFilter: x %j, filter %j, stride %i, %s', async (xShape, filterShape, stride, pad) => {
    const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, stride, 1, pad, undefined, true);
    const [cpu, wasm] = await kernelOnBoth(
      'DepthwiseConv2dNativeBackpropFilter',
      { x: { values: normal(size(xShape), 3), shape: xShape }, dy: { values: normal(size(info.outShape), 4), shape: info.outShape } },
      { strides: stride, dilations: 1, pad, filterShape },
    );
    const error = relativeError(cpu, wasm);
    errors.push(`DepthwiseConv2dNativeBackpropFilter ${xShape} ${filterShape} s${stride} ${pad}: ${error.toExponential(1)}`);
    expect(error).toBeLessThan(1e-6);
  });

  // Each window's dy goes to its first largest input, as on cpu: exact but for the order of sums where windows overlap.
  it.each([
    [[2, 8, 8, 3], 2, 2, 'valid', 'normal'],
    [[2, 8, 8, 3], 2, 2, 'valid', 'tied'],
    [[1, 7, 9, 4], 3, 2, 'same', 'tied'],
    [[1, 5, 5, 2], 2, 2, 'same', 'normal'],
    [[1, 6, 6, 5], 3, 1, 'same', 'tied'],
    [[2, 9, 7, 3], 3, 2, 'valid', 'negative'],
    [[1, 4, 4, 2], 2, 2, 'valid', 'zeros'],
  ] as [Shape4, number, number, Pad, 'zeros' | 'tied' | 'normal' | 'negative'][])('MaxPoolGrad: x %j, window %i, stride %i, %s, %s values', async (xShape, filterSize, stride, pad, values) => {
    const make = { zeros: () => new Float32Array(size(xShape)), tied: () => tied(size(xShape), 5), normal: () => normal(size(xShape), 5), negative: () => normal(size(xShape), 5).map((v) => v - 1) };
    const x = make[values]();
    const info = tf.backend_util.computePool2DInfo(xShape, filterSize, stride, 1, pad);
    const output = readTidy(() => tf.maxPool(tf.tensor4d(x, xShape), filterSize, stride, pad));
    const [cpu, wasm] = await kernelOnBoth(
      'MaxPoolGrad',
      { dy: { values: normal(size(info.outShape), 6), shape: info.outShape }, input: { values: x, shape: xShape }, output: { values: output, shape: info.outShape } },
      { filterSize, strides: stride, pad },
    );
    const error = relativeError(cpu, wasm);
    errors.push(`MaxPoolGrad ${xShape} ${filterSize}/${stride} ${pad} ${values}: ${error.toExponential(1)}`);
    expect(error).toBeLessThan(1e-6);
  });

  // Block copies: exact.
  it.each([
    ['float32', [1, 1, 1, 5], [2, 6, 7, 1]],
    ['float32', [2, 3, 4], [3, 1, 2]],
    ['int32', [3, 1, 2], [1, 4, 3]],
    ['bool', [2, 2], [2, 3]],
    ['float32', [4], [3]],
    ['float32', [2, 0, 3], [2, 2, 2]],
  ] as [tf.DataType, number[], number[]][])('Tile: %s x %j, reps %j', async (dtype, shape, reps) => {
    const random = createRng(13);
    const values = Float32Array.from({ length: size(shape) }, () => (dtype === 'float32' ? gaussian(random) : Math.floor(random() * 3)));
    const out: number[][] = [];
    installWasmGradientKernels();
    for (const backend of ['cpu', 'wasm']) {
      await tf.setBackend(backend);
      out.push(tf.tidy(() => Array.from(tf.tile(tf.tensor(values, shape, dtype), reps).dataSync())));
    }
    expect(out[1]).toEqual(out[0]);
  });

  // wasm has these itself and they are right: checked so that the whole path of such a model is known to agree.
  it('wasm\'s own AvgPoolGrad, EluGrad and ResizeBilinearGrad agree (they are not replaced)', async () => {
    for (const [xShape, filterSize, stride, pad] of [[[2, 8, 8, 3], 2, 2, 'valid'], [[1, 7, 9, 4], 3, 2, 'same']] as [Shape4, number, number, Pad][]) {
      const info = tf.backend_util.computePool2DInfo(xShape, filterSize, stride, 1, pad);
      const [cpu, wasm] = await kernelOnBoth('AvgPoolGrad', { dy: { values: normal(size(info.outShape), 7), shape: info.outShape }, input: { values: normal(size(xShape), 8), shape: xShape } }, { filterSize, strides: stride, pad });
      expect(relativeError(cpu, wasm)).toBeLessThan(1e-6);
    }
    const y = normal(2 * 6 * 6 * 3, 9).map((v) => (v > 0 ? v : Math.expm1(v)));
    const [cpuElu, wasmElu] = await kernelOnBoth('EluGrad', { dy: { values: normal(y.length, 10), shape: [2, 6, 6, 3] }, y: { values: y, shape: [2, 6, 6, 3] } }, {});
    expect(relativeError(cpuElu, wasmElu)).toBeLessThan(1e-6);
    for (const alignCorners of [false, true]) {
      const [cpu, wasm] = await kernelOnBoth(
        'ResizeBilinearGrad',
        { images: { values: normal(2 * 7 * 7 * 3, 11), shape: [2, 7, 7, 3] }, dy: { values: normal(2 * 12 * 12 * 3, 12), shape: [2, 12, 12, 3] } },
        { alignCorners },
      );
      expect(relativeError(cpu, wasm)).toBeLessThan(1e-5);
    }
  });
});

describe('supplied wasm gradient kernels leak nothing', () => {

  it('on each kernel\'s paths (one and several im2col blocks, each fast-path case, an error)', async () => {
    installWasmGradientKernels();
    await tf.setBackend('wasm');
    const x = (shape: Shape4, seed: number) => tf.tensor4d(normal(size(shape), seed), shape);
    const run = (kernel: string, inputs: Record<string, tf.Tensor>, attrs: object) =>
      tf.tidy(() => (tf.engine().runKernel(kernel, inputs, attrs as tf.NamedAttrMap) as tf.Tensor).dataSync());
    const before = counts();
    tf.tidy(() => {
      run('Conv2DBackpropFilter', { x: x([1, 8, 8, 3], 1), dy: x([1, 8, 8, 4], 2) }, { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 3, 4] });
      run('Conv2DBackpropFilter', { x: x([2, 96, 96, 16], 1), dy: x([2, 96, 96, 2], 2) }, { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [5, 5, 16, 2] });
      run('DepthwiseConv2dNativeBackpropFilter', { x: x([1, 8, 8, 3], 3), dy: x([1, 4, 4, 6], 4) }, { strides: 2, dilations: 1, pad: 'same', filterShape: [3, 3, 3, 2] });
      run('DepthwiseConv2dNativeBackpropInput', { dy: x([1, 4, 4, 6], 4), filter: x([3, 3, 3, 2], 5) }, { strides: 2, dilations: 1, pad: 'same', inputShape: [1, 8, 8, 3] });
      run('Conv2DBackpropInput', { dy: x([1, 8, 8, 4], 2), filter: x([3, 3, 3, 4], 6) }, { strides: 1, pad: 'same', dataFormat: 'NHWC', inputShape: [1, 8, 8, 3] });
      run('Conv2DBackpropInput', { dy: x([1, 4, 4, 4], 2), filter: x([3, 3, 3, 4], 6) }, { strides: 2, pad: 'same', dataFormat: 'NHWC', inputShape: [1, 8, 8, 3] });
      const input = x([1, 8, 8, 3], 7);
      run('MaxPoolGrad', { dy: x([1, 4, 4, 3], 8), input, output: tf.maxPool(input, 2, 2, 'valid') }, { filterSize: 2, strides: 2, pad: 'valid' });
      run('Tile', { x: x([1, 1, 1, 3], 9) }, { reps: [2, 4, 4, 1] });
      expect(() => run('DepthwiseConv2dNativeBackpropFilter', { x: x([1, 8, 8, 3], 3), dy: x([1, 8, 8, 3], 4) }, { strides: 1, dilations: 2, pad: 'same', filterShape: [3, 3, 3, 1] })).toThrow(/dilation 1 only/);
    });
    expect(counts()).toEqual(before);
  });
});

describe('a darknet-style model (conv, batch norm, LeakyReLU, max pooling) on wasm', () => {
  let model: ImageModel;
  const N = 3;
  let pixels: Float32Array;
  beforeAll(async () => {
    model = await ImageModel.fromArtifacts(await darknetArtifacts(32), 'darknet');
    const random = createRng(21);
    pixels = Float32Array.from({ length: N * 32 * 32 * 3 }, () => random());
  });
  afterAll(() => model.dispose());

  /** The input gradient of the mean of channel 5 of leaky_4, as a feature-visualisation step takes it. */
  const inputGradient = () =>
    tf.tidy(() => {
      const forward = layerFunction(model, 'leaky_4');
      const objective = (x: tf.Tensor) => tf.mean(tf.slice(forward(x as tf.Tensor4D), [0, 0, 0, 5], [-1, -1, -1, 1])) as tf.Scalar;
      return tf.grad(objective)(tf.tensor4d(pixels, [N, 32, 32, 3])).dataSync() as Float32Array;
    });

  it('takes gradients on wasm itself, equal to cpu\'s, and leaks nothing', async () => {
    let used = '';
    const onWasm = await onGradientBackend(() => ((used = tf.getBackend()), inputGradient()), { backends: ['wasm', 'cpu'] });
    expect(used).toBe('wasm');
    // The weights are on wasm now.
    const before = counts();
    await onGradientBackend(inputGradient, { backends: ['wasm'] });
    expect(counts()).toEqual(before);

    const onCpu = await onGradientBackend(inputGradient, { backends: ['cpu'] });
    expect(maxAbs(onCpu)).toBeGreaterThan(0);
    const error = relativeError(onCpu, onWasm);
    errors.push(`darknet input gradient (leaky_4 channel 5): ${error.toExponential(1)}`);
    expect(error).toBeLessThan(1e-4);
    expect(tf.getBackend()).toBe('wasm');
  });

  it('class gradients at an inner layer agree with cpu, every position', async () => {
    const before = tf.memory().numTensors;
    const onWasm = await classGradients(model, 'leaky_2', pixels, 1, { sites: 'all', backends: ['wasm'] });
    expect(tf.memory().numTensors).toBe(before);
    const onCpu = await classGradients(model, 'leaky_2', pixels, 1, { sites: 'all', backends: ['cpu'] });
    const error = relativeError(onCpu, onWasm);
    errors.push(`darknet class gradient at leaky_2: ${error.toExponential(1)}`);
    expect(error).toBeLessThan(1e-4);
  });

  it('feature visualisation goes to cpu without the kernels (wasm lacks Conv2DBackpropFilter), to wasm with them, and leaks nothing', async () => {
    uninstallWasmGradientKernels();
    try {
      const plain = await chooseFeatureVisBackend(model, 'leaky_4', { size: 32, supplyWasmKernels: false });
      expect(plain.backend).toBe('cpu');
      expect(plain.support[0]).toMatchObject({ backend: 'wasm', ok: false, missing: ['Conv2DBackpropFilter'] });
      expect(plain.message).toBe('darknet: Conv2DBackpropFilter has no wasm kernel; feature visualisation runs on cpu (slower).');
    } finally {
      installWasmGradientKernels();
    }
    const before = tf.memory().numTensors;
    const support = await gradientSupport(model, 'leaky_4', 'wasm', { size: 32 });
    expect(support).toMatchObject({ backend: 'wasm', ok: true, missing: [], noGradient: [] });
    expect(support.needed).toEqual(expect.arrayContaining(['Conv2DBackpropInput', 'Conv2DBackpropFilter', 'MaxPoolGrad']));
    const choice = await chooseFeatureVisBackend(model, 'leaky_4', { size: 32 });
    expect(choice.backend).toBe('wasm');
    expect(choice.message).toBe("darknet: feature visualisation runs on wasm (with featureVis's own Conv2DBackpropFilter for wasm).");
    expect(tf.getBackend()).toBe('wasm');
    expect(tf.memory().numTensors).toBe(before);
  });
});
