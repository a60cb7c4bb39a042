/**
 * Trains the built-in default model: a small Fashion-MNIST CNN whose conv3 layer (7x7xC) is the
 * layer users explore first. Writes a TF.js layers model to models/fashion-cnn/.
 *
 * Usage: npm run train
 * Env overrides (for timing runs): TRAIN_EPOCHS, TRAIN_BATCH, TRAIN_LIMIT (train images used),
 * TRAIN_OUT (output dir), TRAIN_SEED. Details and measured results: models/fashion-cnn/MODEL_CARD.md.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../src/lib/rng';
import { FASHION_MNIST_CLASS_NAMES, loadFashionMnist, type FashionMnistSplitData } from './fashion-mnist';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const SEED = Number(process.env.TRAIN_SEED ?? 42);
const EPOCHS = Number(process.env.TRAIN_EPOCHS ?? 2);
const BATCH_SIZE = Number(process.env.TRAIN_BATCH ?? 64);
const TRAIN_LIMIT = Number(process.env.TRAIN_LIMIT ?? 60_000);
const LEARNING_RATE = 1e-3;
const EVAL_BATCH = 500;
/** Channels of conv1..conv3. */
const CONV_WIDTHS = [16, 32, 32] as const;
const OUT_DIR = resolve(repoRoot, process.env.TRAIN_OUT ?? 'models/fashion-cnn');

const IMAGE_SIZE = 28;
const PIXELS = IMAGE_SIZE * IMAGE_SIZE;
const NUM_CLASSES = FASHION_MNIST_CLASS_NAMES.length;

// ---------------------------------------------------------------------------------------------
// Faster cpu kernels for training. tfjs 4.22's pure-JS kernels for the conv/pool gradients read
// every element through TensorBuffer.get (Conv2DBackpropFilter alone took ~25 s per batch of 64
// here). These compute the same maths as im2col + a register-blocked matrix product (NHWC,
// dilation 1 only; any other call falls through to the original kernel).

interface CpuBackendData {
  data: { get(id: tf.DataId): { values: Float32Array } };
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): tf.TensorInfo;
}
type Shape4 = [number, number, number, number];

function overrideCpuKernel(
  kernelName: string,
  fast: (inputs: Record<string, tf.TensorInfo>, backend: CpuBackendData, attrs: tf.NamedAttrMap) => tf.TensorInfo | null,
): void {
  const original = tf.getKernel(kernelName, 'cpu');
  if (!original) throw new Error(`cpu backend has no ${kernelName} kernel to replace`);
  const kernelFunc: tf.KernelFunc = (args) =>
    fast(args.inputs as Record<string, tf.TensorInfo>, args.backend as unknown as CpuBackendData, args.attrs ?? {}) ?? original.kernelFunc(args);
  tf.unregisterKernel(kernelName, 'cpu');
  tf.registerKernel({ kernelName, backendName: 'cpu', kernelFunc });
}

function isUnitDilation(dilations: unknown): boolean {
  return dilations == null || dilations === 1 || (Array.isArray(dilations) && dilations.every((d) => d === 1));
}

/** C[M,N] = A[M,K] . B[N,K]^T, row-major; 4x4 register blocks keep the running sums out of memory. */
function gemmABt(a: Float32Array, b: Float32Array, m: number, n: number, k: number): Float32Array {
  const c = new Float32Array(m * n);
  const m4 = m - (m % 4);
  const n4 = n - (n % 4);
  for (let i = 0; i < m4; i += 4) {
    const a0 = i * k;
    const a1 = a0 + k;
    const a2 = a1 + k;
    const a3 = a2 + k;
    for (let j = 0; j < n4; j += 4) {
      const b0 = j * k;
      const b1 = b0 + k;
      const b2 = b1 + k;
      const b3 = b2 + k;
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      for (let p = 0; p < k; p++) {
        const x0 = a[a0 + p], x1 = a[a1 + p], x2 = a[a2 + p], x3 = a[a3 + p];
        const y0 = b[b0 + p], y1 = b[b1 + p], y2 = b[b2 + p], y3 = b[b3 + p];
        c00 += x0 * y0; c01 += x0 * y1; c02 += x0 * y2; c03 += x0 * y3;
        c10 += x1 * y0; c11 += x1 * y1; c12 += x1 * y2; c13 += x1 * y3;
        c20 += x2 * y0; c21 += x2 * y1; c22 += x2 * y2; c23 += x2 * y3;
        c30 += x3 * y0; c31 += x3 * y1; c32 += x3 * y2; c33 += x3 * y3;
      }
      let o = i * n + j;
      c[o] = c00; c[o + 1] = c01; c[o + 2] = c02; c[o + 3] = c03; o += n;
      c[o] = c10; c[o + 1] = c11; c[o + 2] = c12; c[o + 3] = c13; o += n;
      c[o] = c20; c[o + 1] = c21; c[o + 2] = c22; c[o + 3] = c23; o += n;
      c[o] = c30; c[o + 1] = c31; c[o + 2] = c32; c[o + 3] = c33;
    }
  }
  // Ragged edges: the right columns of the blocked rows, then the leftover rows.
  const dot = (i: number, j: number) => {
    let sum = 0;
    for (let p = 0, ai = i * k, bj = j * k; p < k; p++) sum += a[ai + p] * b[bj + p];
    c[i * n + j] = sum;
  };
  for (let i = 0; i < m4; i++) for (let j = n4; j < n; j++) dot(i, j);
  for (let i = m4; i < m; i++) for (let j = 0; j < n; j++) dot(i, j);
  return c;
}

function transpose(src: Float32Array, rows: number, cols: number): Float32Array {
  const dst = new Float32Array(src.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) dst[c * rows + r] = src[r * cols + c];
  return dst;
}

type ConvInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

/** Visits each (output pixel, in-bounds filter tap) pair with its patch and input offsets. */
function forEachTap(info: ConvInfo, visit: (patchBase: number, xBase: number) => void): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth } = info;
  const { filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const patchSize = patchSizeOf(info);
  let row = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++, row++) {
        for (let kh = 0; kh < filterHeight; kh++) {
          const iy = oy * strideHeight + kh - top;
          if (iy < 0 || iy >= inHeight) continue;
          for (let kw = 0; kw < filterWidth; kw++) {
            const ix = ox * strideWidth + kw - left;
            if (ix < 0 || ix >= inWidth) continue;
            visit(row * patchSize + (kh * filterWidth + kw) * inChannels, ((b * inHeight + iy) * inWidth + ix) * inChannels);
          }
        }
      }
    }
  }
}

/** im2col: one row of kh*kw*ci values per output pixel (zeros where the filter hangs off the edge). */
function imageToPatches(xs: Float32Array, info: ConvInfo): Float32Array {
  const patches = new Float32Array(info.batchSize * info.outHeight * info.outWidth * patchSizeOf(info));
  const channels = info.inChannels;
  forEachTap(info, (patchBase, xBase) => patches.set(xs.subarray(xBase, xBase + channels), patchBase));
  return patches;
}

/** The convolution's geometry, with the im2col sizes: values per patch and patches (output pixels). */
function convGeometry(
  xShape: number[],
  filterShape: number[],
  attrs: { strides: [number, number] | number; pad: unknown; dimRoundingMode?: 'floor' | 'round' | 'ceil' },
): { info: ConvInfo; patchSize: number; rows: number } {
  const info = tf.backend_util.computeConv2DInfo(
    xShape as Shape4,
    filterShape as Shape4,
    attrs.strides,
    1,
    attrs.pad as 'same' | 'valid',
    attrs.dimRoundingMode,
  );
  return { info, patchSize: patchSizeOf(info), rows: info.batchSize * info.outHeight * info.outWidth };
}

function patchSizeOf(info: ConvInfo): number {
  return info.filterHeight * info.filterWidth * info.inChannels;
}

/** y = patches . w, with w [kh*kw*ci, co]. */
function fastConv2D(inputs: Record<string, tf.TensorInfo>, backend: CpuBackendData, attrs: tf.NamedAttrMap): tf.TensorInfo | null {
  const a = attrs as unknown as tf.Conv2DAttrs;
  if (a.dataFormat !== 'NHWC' || !isUnitDilation(a.dilations)) return null;
  const { x, filter } = inputs;
  const { info, patchSize, rows } = convGeometry(x.shape, filter.shape, a);
  const patches = imageToPatches(backend.data.get(x.dataId).values, info);
  const filterT = transpose(backend.data.get(filter.dataId).values, patchSize, info.outChannels);
  return backend.makeTensorInfo(info.outShape, 'float32', gemmABt(patches, filterT, rows, info.outChannels, patchSize));
}

/** dpatches = dy . w^T, then col2im adds each patch entry back onto the input pixel it came from. */
function fastConv2DBackpropInput(inputs: Record<string, tf.TensorInfo>, backend: CpuBackendData, attrs: tf.NamedAttrMap): tf.TensorInfo | null {
  const a = attrs as unknown as tf.Conv2DBackpropInputAttrs;
  if (a.dataFormat !== 'NHWC') return null;
  const { dy, filter } = inputs;
  const { info, patchSize, rows } = convGeometry(a.inputShape, filter.shape, a);
  const dPatches = gemmABt(backend.data.get(dy.dataId).values, backend.data.get(filter.dataId).values, rows, patchSize, info.outChannels);
  const dx = new Float32Array(info.batchSize * info.inHeight * info.inWidth * info.inChannels);
  const channels = info.inChannels;
  forEachTap(info, (patchBase, xBase) => {
    for (let ci = 0; ci < channels; ci++) dx[xBase + ci] += dPatches[patchBase + ci];
  });
  return backend.makeTensorInfo(a.inputShape, 'float32', dx);
}

/** dw = patches^T . dy, computed as (dy^T . patches)^T so both gemm operands run along the pixels. */
function fastConv2DBackpropFilter(inputs: Record<string, tf.TensorInfo>, backend: CpuBackendData, attrs: tf.NamedAttrMap): tf.TensorInfo | null {
  const a = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (a.dataFormat !== 'NHWC') return null;
  const { x, dy } = inputs;
  const { info, patchSize, rows } = convGeometry(x.shape, a.filterShape, a);
  const patchesT = transpose(imageToPatches(backend.data.get(x.dataId).values, info), rows, patchSize);
  const dyT = transpose(backend.data.get(dy.dataId).values, rows, info.outChannels);
  const dwT = gemmABt(dyT, patchesT, info.outChannels, patchSize, rows);
  return backend.makeTensorInfo(a.filterShape, 'float32', transpose(dwT, info.outChannels, patchSize));
}

/** Routes each dy to the first maximum of its pooling window, as the original kernel does. */
function fastMaxPoolGrad(inputs: Record<string, tf.TensorInfo>, backend: CpuBackendData, attrs: tf.NamedAttrMap): tf.TensorInfo | null {
  const a = attrs as unknown as tf.MaxPoolGradAttrs;
  const { dy, input } = inputs;
  const info = tf.backend_util.computePool2DInfo(input.shape as Shape4, a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
  const { filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const xs = backend.data.get(input.dataId).values;
  const dys = backend.data.get(dy.dataId).values;
  const dx = new Float32Array(xs.length);
  for (let b = 0; b < batchSize; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++) {
        const dyBase = ((b * outHeight + oy) * outWidth + ox) * channels;
        for (let c = 0; c < channels; c++) {
          let best = -Infinity;
          let bestIndex = -1;
          for (let kh = 0; kh < filterHeight; kh++) {
            const iy = oy * strideHeight + kh - top;
            if (iy < 0 || iy >= inHeight) continue;
            for (let kw = 0; kw < filterWidth; kw++) {
              const ix = ox * strideWidth + kw - left;
              if (ix < 0 || ix >= inWidth) continue;
              const index = ((b * inHeight + iy) * inWidth + ix) * channels + c;
              if (xs[index] > best) {
                best = xs[index];
                bestIndex = index;
              }
            }
          }
          if (bestIndex >= 0) dx[bestIndex] += dys[dyBase + c];
        }
      }
    }
  }
  return backend.makeTensorInfo(input.shape, 'float32', dx);
}

/** Installs the kernels above on the cpu backend; call once per process. */
export function installFastCpuTrainingKernels(): void {
  overrideCpuKernel('Conv2D', fastConv2D);
  overrideCpuKernel('Conv2DBackpropInput', fastConv2DBackpropInput);
  overrideCpuKernel('Conv2DBackpropFilter', fastConv2DBackpropFilter);
  overrideCpuKernel('MaxPoolGrad', fastMaxPoolGrad);
}
// ---------------------------------------------------------------------------------------------

/** Builds the CNN; layer names are stable because the app and saved atlases refer to them. */
export function buildFashionCnn(seed: number, widths: readonly [number, number, number] = CONV_WIDTHS): tf.LayersModel {
  let s = seed;
  const init = () => tf.initializers.glorotUniform({ seed: s++ });
  const input = tf.input({ shape: [IMAGE_SIZE, IMAGE_SIZE, 1], name: 'input' });
  const conv = (name: string, filters: number) =>
    tf.layers.conv2d({ name, filters, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init() });
  let x = conv('conv1', widths[0]).apply(input) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ name: 'pool1', poolSize: 2 }).apply(x) as tf.SymbolicTensor;
  x = conv('conv2', widths[1]).apply(x) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ name: 'pool2', poolSize: 2 }).apply(x) as tf.SymbolicTensor;
  x = conv('conv3', widths[2]).apply(x) as tf.SymbolicTensor;
  // Flatten rather than global pooling: keeps where-in-the-image information, which buys a few
  // points of accuracy within the short CPU training budget.
  x = tf.layers.flatten({ name: 'flatten' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ name: 'fc', units: 64, activation: 'relu', kernelInitializer: init() }).apply(x) as tf.SymbolicTensor;
  const output = tf.layers
    .dense({ name: 'predictions', units: NUM_CLASSES, activation: 'softmax', kernelInitializer: init() })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ name: 'fashion_cnn', inputs: input, outputs: output });
}

/** Gathers images[indices] into a [n,28,28,1] tensor scaled to [0,1]. */
function imageBatch(data: FashionMnistSplitData, indices: ArrayLike<number>): tf.Tensor4D {
  const n = indices.length;
  const pixels = new Float32Array(n * PIXELS);
  for (let i = 0; i < n; i++) {
    const src = indices[i] * PIXELS;
    for (let p = 0; p < PIXELS; p++) pixels[i * PIXELS + p] = data.images[src + p] / 255;
  }
  return tf.tensor4d(pixels, [n, IMAGE_SIZE, IMAGE_SIZE, 1]);
}

function labelBatch(data: FashionMnistSplitData, indices: ArrayLike<number>): tf.Tensor2D {
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) labels[i] = data.labels[indices[i]];
  return tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), NUM_CLASSES).toFloat() as tf.Tensor2D);
}

function range(start: number, end: number): Int32Array {
  const out = new Int32Array(end - start);
  for (let i = 0; i < out.length; i++) out[i] = start + i;
  return out;
}

/** Fisher-Yates with the project PRNG, so every run sees the same batch order. */
function shuffleInPlace(order: Int32Array, random: () => number): void {
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
}

/** Predicted class per image, computed in batches. */
function predictClasses(model: tf.LayersModel, data: FashionMnistSplitData, count = data.count): Int32Array {
  const predicted = new Int32Array(count);
  for (let start = 0; start < count; start += EVAL_BATCH) {
    const end = Math.min(count, start + EVAL_BATCH);
    const argmax = tf.tidy(() => (model.predict(imageBatch(data, range(start, end))) as tf.Tensor).argMax(-1));
    predicted.set(argmax.dataSync() as Int32Array, start);
    argmax.dispose();
  }
  return predicted;
}

function formatSeconds(s: number): string {
  return s < 120 ? `${s.toFixed(1)} s` : `${(s / 60).toFixed(1)} min`;
}

async function saveLayersModel(model: tf.LayersModel, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightData = tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const modelJson = {
        modelTopology: artifacts.modelTopology,
        format: 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: null,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
        userDefinedMetadata: artifacts.userDefinedMetadata,
      };
      writeFileSync(join(dir, 'model.json'), JSON.stringify(modelJson));
      writeFileSync(join(dir, 'weights.bin'), new Uint8Array(weightData));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
}

/** Reloads model.json + weights.bin the way the app's loader reads them. */
async function loadSavedModel(dir: string): Promise<tf.LayersModel> {
  const modelJson = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as tf.io.ModelJSON;
  const artifacts = await tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
    const specs = manifest.flatMap((group) => group.weights);
    const buffers = manifest.flatMap((group) =>
      group.paths.map((p) => {
        const bytes = readFileSync(join(dir, p));
        return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      }),
    );
    return [specs, tf.io.CompositeArrayBuffer.join(buffers)];
  });
  return tf.loadLayersModel(tf.io.fromMemory(artifacts));
}

async function main(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
  installFastCpuTrainingKernels();
  console.log(`tfjs ${tf.version.tfjs}, backend ${tf.getBackend()}`);
  console.log(`epochs ${EPOCHS}, batch ${BATCH_SIZE}, train images ${TRAIN_LIMIT}, seed ${SEED}`);

  const train = loadFashionMnist('train');
  const test = loadFashionMnist('t10k');

  const model = buildFashionCnn(SEED);
  model.compile({ optimizer: tf.train.adam(LEARNING_RATE), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  model.summary(undefined, undefined, (line) => console.log(line));

  const random = createRng(SEED);
  const order = range(0, Math.min(TRAIN_LIMIT, train.count));
  const batchesPerEpoch = Math.ceil(order.length / BATCH_SIZE);
  const trainStart = performance.now();

  for (let epoch = 0; epoch < EPOCHS; epoch++) {
    shuffleInPlace(order, random);
    const epochStart = performance.now();
    let lossSum = 0;
    let accSum = 0;
    for (let b = 0; b < batchesPerEpoch; b++) {
      const indices = order.subarray(b * BATCH_SIZE, Math.min(order.length, (b + 1) * BATCH_SIZE));
      const xs = imageBatch(train, indices);
      const ys = labelBatch(train, indices);
      try {
        const [loss, acc] = (await model.trainOnBatch(xs, ys)) as number[];
        lossSum += loss;
        accSum += acc;
      } finally {
        xs.dispose();
        ys.dispose();
      }
      if ((b + 1) % 100 === 0 || b + 1 === batchesPerEpoch) {
        const elapsed = (performance.now() - epochStart) / 1000;
        console.log(
          `epoch ${epoch + 1}/${EPOCHS} batch ${b + 1}/${batchesPerEpoch} ` +
            `loss ${(lossSum / (b + 1)).toFixed(4)} acc ${(accSum / (b + 1)).toFixed(4)} ` +
            `(${formatSeconds(elapsed)}, eta epoch ${formatSeconds((elapsed / (b + 1)) * batchesPerEpoch)})`,
        );
      }
    }
    console.log(`epoch ${epoch + 1} done in ${formatSeconds((performance.now() - epochStart) / 1000)}; tensors ${tf.memory().numTensors}`);
  }
  const trainSeconds = (performance.now() - trainStart) / 1000;
  console.log(`training time ${formatSeconds(trainSeconds)}`);

  const evalStart = performance.now();
  const predicted = predictClasses(model, test);
  const perClassCorrect = new Int32Array(NUM_CLASSES);
  const perClassTotal = new Int32Array(NUM_CLASSES);
  let correct = 0;
  for (let i = 0; i < test.count; i++) {
    const label = test.labels[i];
    perClassTotal[label]++;
    if (predicted[i] === label) {
      correct++;
      perClassCorrect[label]++;
    }
  }
  const accuracy = correct / test.count;
  console.log(`test accuracy ${(accuracy * 100).toFixed(2)}% (${correct}/${test.count}), eval ${formatSeconds((performance.now() - evalStart) / 1000)}`);
  FASHION_MNIST_CLASS_NAMES.forEach((name, c) =>
    console.log(`  ${name.padEnd(12)} ${((perClassCorrect[c] / perClassTotal[c]) * 100).toFixed(1)}% (${perClassCorrect[c]}/${perClassTotal[c]})`),
  );

  model.setUserDefinedMetadata({
    classNames: [...FASHION_MNIST_CLASS_NAMES],
    preprocessing: { range: 'unit', channels: 1 },
    dataset: 'Fashion-MNIST',
  });
  await saveLayersModel(model, OUT_DIR);
  console.log(`saved to ${OUT_DIR}`);

  // Round-trip check: the files on disk must give the same predictions as the model in memory.
  const reloaded = await loadSavedModel(OUT_DIR);
  const checkIndices = range(0, 100);
  const maxDiff = tf.tidy(() => {
    const xs = imageBatch(test, checkIndices);
    const a = model.predict(xs) as tf.Tensor;
    const b = reloaded.predict(xs) as tf.Tensor;
    return a.sub(b).abs().max().dataSync()[0];
  });
  const meta = reloaded.getUserDefinedMetadata() as { classNames?: string[] } | undefined;
  if (!(maxDiff < 1e-6)) throw new Error(`reloaded model differs: max |diff| ${maxDiff}`);
  if (meta?.classNames?.length !== NUM_CLASSES) throw new Error('reloaded model lost its classNames metadata');
  console.log(`reload check ok: max |diff| ${maxDiff} on 100 test images, classNames present`);
  reloaded.dispose();
  model.dispose();
}

// Run only as a script, so the model builder and kernels can be imported for experiments.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
