import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { layerFunction, layerVectors, directionObjective, objectiveTargets, toModelInput } from '../../../src/featureVis/objective';
import { randomDirections } from '../../../src/compute/directions/vectors';
import { FourierImage, rowsToImages } from '../../../src/featureVis/parameterisation';
import { resampleMode, resampleRows, resampleTaps, sampleTransform } from '../../../src/featureVis/transforms';
import { visualiseDirections } from '../../../src/featureVis/optimise';
import { installWasmGradientKernels } from '../../../src/model/wasmKernels';
import { createRng } from '../../../src/lib/rng';
import { chooseBackend } from '../../../src/model/backend';
import { artifactsFromFiles } from '../../../src/model/image/artifacts';
import { ImageModel } from '../../../src/model/image/imageModel';
import { recordActivations, type ImageProvider } from '../../../src/model/image/recordImages';
import { TextModel, type ModelFile } from '../../../src/model/text/textModel';
import { encode } from '../../../src/model/text/tokenizer';

/** What one probe run is asked: a backend to force, wasm threads, and which checks. */
export interface ProbeRequest {
  backend: string;
  /** wasm threads: 0 threads off (the app's model worker on fewer than 4 cores), -1 the threaded build's own count, N > 0 setThreadsCount(N). */
  threads: number;
  /** Set the backend directly instead of through chooseBackend, to compare one that chooseBackend refuses. */
  force?: boolean;
  checks: ('cnn' | 'gpt2' | 'featureVis' | 'throughput')[];
  /** Images recorded by the throughput check. */
  throughputImages?: number;
  /** A user's image model (model.json and its shards) whose recording the throughput check also times. */
  userModel?: { files: { name: string; bytes: Uint8Array }[]; images: number };
}

/** The bundled assets the checks need, as the model worker reads them. */
export interface ProbeAssets {
  cnn: () => Promise<tf.io.ModelArtifacts>;
  sample: () => Promise<ImageProvider>;
  gpt2: () => Promise<ModelFile[]>;
}

/** Outputs by name (flattened), the backend that ran them, and timings. */
export interface ProbeResult {
  backend: string;
  reason: string;
  threads: number;
  /** What the wasm backend saw of this worker: cross-origin isolation, and whether it took the threaded build. */
  wasmThreading: { crossOriginIsolated: boolean; multithreadSupport: boolean };
  outputs: Record<string, Float32Array>;
  /** Check name -> what failed on this backend (the error message). */
  errors: Record<string, string>;
  throughput?: {
    rows: number;
    seconds: number;
    /** The CNN's recording as the app runs it (decode, thumbnails, forward, read-back). */
    rowsPerSecond: number;
    /** The CNN's forward alone, on the same batches. */
    forwardRowsPerSecond: number;
    /** Feature-visualisation Adam steps of a batch of 16 icons. */
    featureVisStepsPerSecond: number;
    /** GPT-2 recording of its default layer, 8 windows of 64 tokens at a time. */
    gpt2TokensPerSecond: number;
    /** The user model's recording of its default layer (seeded noise images). */
    userModel?: { name: string; layer: string; rows: number; rowsPerSecond: number };
  };
  leakedTensors: number;
}

/** Sample images checked: a few, so SwiftShader stays quick. */
const CNN_IMAGES = 16;
/** A short token sequence for GPT-2 (a dozen tokens). */
const GPT2_TEXT = 'Call me Ishmael. Some years ago, never mind how long precisely';
const DIRECTION_SEED = 7;
const IMAGE_SEED = 11;
const TRANSFORM_SEED = 5;

const firstImages = (images: ImageProvider, count: number): ImageProvider => ({ ...images, count: Math.min(count, images.count) });

/**
 * Runs the asked checks on one backend, chosen by the app's own chooseBackend (with the override the page's
 * `?backend=` gives), and returns their outputs for comparison with another backend's.
 */
export async function runProbe(request: ProbeRequest, assets: ProbeAssets): Promise<ProbeResult> {
  if (request.threads > 0) setThreadsCount(request.threads);
  else if (request.threads === 0) tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  const choice = request.force ? await forceBackend(request.backend) : await chooseBackend({ override: request.backend });
  const result: ProbeResult = {
    backend: choice.name,
    reason: choice.reason,
    threads: choice.name === 'wasm' ? getThreadsCount() : 1,
    wasmThreading: { crossOriginIsolated: self.crossOriginIsolated, multithreadSupport: Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) },
    outputs: {},
    errors: {},
    leakedTensors: 0,
  };
  if (choice.name !== request.backend) return result;
  installWasmGradientKernels();
  const wants = new Set(request.checks);
  const attempt = async (name: string, check: () => Promise<void>) => {
    try {
      await check();
    } catch (e) {
      result.errors[name] = e instanceof Error ? e.message : String(e);
    }
  };
  const needsCnn = wants.has('cnn') || wants.has('featureVis') || wants.has('throughput');
  const cnn = needsCnn ? await ImageModel.fromArtifacts(await assets.cnn(), 'fashion-cnn (built-in)') : null;
  const before = tf.memory().numTensors;
  try {
    if (cnn && wants.has('cnn')) {
      await attempt('cnn', async () => {
        const recorded = await recordActivations(cnn, firstImages(await assets.sample(), CNN_IMAGES), { layer: cnn.defaultLayer, samplesPerInput: 'all', seed: 0 });
        result.outputs['cnn.activations'] = recorded.table.values;
        result.outputs['cnn.probability'] = recorded.probability;
        result.outputs['cnn.predicted'] = Float32Array.from(recorded.predicted);
      });
    }
    if (cnn && wants.has('featureVis')) {
      await attempt('featureVis', async () => {
        Object.assign(result.outputs, await featureVisGradient(cnn));
      });
    }
    if (cnn && wants.has('throughput')) {
      await attempt('throughput', async () => {
        const text = await TextModel.fromFiles(await assets.gpt2(), 'moby-gpt2 (built-in)');
        try {
          result.throughput = await throughput(cnn, firstImages(await assets.sample(), request.throughputImages ?? 3000), text);
          if (request.userModel) result.throughput.userModel = await userModelThroughput(request.userModel.files, request.userModel.images);
        } finally {
          text.dispose();
        }
      });
    }
    if (wants.has('gpt2')) {
      await attempt('gpt2', async () => {
        const text = await TextModel.fromFiles(await assets.gpt2(), 'moby-gpt2 (built-in)');
        try {
          Object.assign(result.outputs, await gpt2Forward(text));
        } finally {
          text.dispose();
        }
      });
    }
    result.leakedTensors = tf.memory().numTensors - before;
  } finally {
    cnn?.dispose();
  }
  return result;
}

async function forceBackend(name: string): Promise<{ name: string; reason: string }> {
  if (name === 'webgpu') await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend(name))) throw new Error(`${name} failed to initialise`);
  await tf.ready();
  return { name, reason: 'set directly, not through chooseBackend' };
}

/** The built-in GPT-2's next-token logits and its default (MLP) and last residual layers for a dozen tokens. */
async function gpt2Forward(text: TextModel): Promise<Record<string, Float32Array>> {
  const ids = encode(GPT2_TEXT);
  const logits = text.gpt2.logits([ids]);
  const last = `h.${text.info.nLayer - 1}`;
  const layers = text.gpt2.recordLayers([ids], ['h.0.attn', text.defaultLayer, last]);
  try {
    const [l, attn, mlp, resid] = await Promise.all([logits, ...layers].map((t) => t.data() as Promise<Float32Array>));
    return { 'gpt2.logits': l, 'gpt2.h.0.attn': attn, [`gpt2.${text.defaultLayer}`]: mlp, [`gpt2.${last}`]: resid };
  } finally {
    tf.dispose([logits, ...layers]);
  }
}

/**
 * One step of feature visualisation as optimise.ts takes it: the gradient of the direction objective (two
 * seeded directions at the default layer) with respect to the Fourier coefficients, through a seeded transform,
 * with the resampling as the app runs it at this size (dense) and as larger models run it (gather); with the
 * images and layer vectors on the way, to tell which step disagrees.
 */
async function featureVisGradient(model: ImageModel): Promise<Record<string, Float32Array>> {
  const layer = model.defaultLayer;
  const dim = model.layer(layer).shape.at(-1)!;
  const { inputHeight: h, inputWidth: w, inputChannels: c } = model;
  const batch = 2;
  const targets = objectiveTargets(randomDirections(dim, batch, DIRECTION_SEED), dim);
  const forward = layerFunction(model, layer);
  const transform = sampleTransform(createRng(TRANSFORM_SEED), {}, Math.max(h, w));
  const taps = resampleTaps(transform, h, w, h, w);
  const image = new FourierImage({ batch, height: h, width: w, channels: c, seed: IMAGE_SEED });
  try {
    const tensors = tf.tidy(() => {
      const whitened = tf.tensor2d(targets.whitened, [batch, dim]);
      const unit = tf.tensor2d(targets.unit, [batch, dim]);
      const pixelsOf = (mode: 'dense' | 'gather') => rowsToImages(resampleRows(image.rows(), taps, mode), h, w, c, null);
      const vectorsOf = (pixels: tf.Tensor4D) => layerVectors(forward(toModelInput(pixels, model.preprocessing)), 'centre');
      const objective = (mode: 'dense' | 'gather') => () => tf.neg(tf.sum(directionObjective(vectorsOf(pixelsOf(mode)), whitened, unit, 2))) as tf.Scalar;
      const dense = tf.variableGrads(objective('dense'), [image.coefficients]);
      const gather = tf.variableGrads(objective('gather'), [image.coefficients]);
      const pixels = pixelsOf('dense');
      return {
        'featureVis.rows': image.rows(),
        'featureVis.pixels': pixels,
        'featureVis.pixels.gather': pixelsOf('gather'),
        'featureVis.vectors': vectorsOf(pixels),
        'featureVis.objective': dense.value,
        'featureVis.gradient': dense.grads[image.coefficients.name],
        'featureVis.gradient.gather': gather.grads[image.coefficients.name],
      };
    });
    try {
      const names = Object.keys(tensors) as (keyof typeof tensors)[];
      const values = await Promise.all(names.map((n) => tensors[n].data() as Promise<Float32Array>));
      return Object.fromEntries(names.map((n, i) => [n, values[i]]));
    } finally {
      tf.dispose(Object.values(tensors));
    }
  } finally {
    image.dispose();
  }
}

/** Rows per second of a user's image model recording its default layer, four positions per image. */
async function userModelThroughput(files: { name: string; bytes: Uint8Array }[], count: number): Promise<{ name: string; layer: string; rows: number; rowsPerSecond: number }> {
  const { artifacts, name } = await artifactsFromFiles(files.map((f) => new File([Uint8Array.from(f.bytes)], f.name)));
  const model = await ImageModel.fromArtifacts(artifacts, name);
  try {
    const { inputHeight: height, inputWidth: width } = model;
    const random = createRng(3);
    const noise = Uint8Array.from({ length: height * width * 3 }, () => Math.floor(random() * 256));
    const images: ImageProvider = { count, name: (i) => `noise-${i}`, label: () => null, load: async () => ({ width, height, channels: 3, data: noise }) };
    const options = { layer: model.defaultLayer, samplesPerInput: 4, seed: 0 } as const;
    await recordActivations(model, firstImages(images, 4), options);
    const t0 = performance.now();
    const recorded = await recordActivations(model, images, options);
    const seconds = (performance.now() - t0) / 1000;
    return { name, layer: model.defaultLayer, rows: recorded.table.count, rowsPerSecond: recorded.table.count / seconds };
  } finally {
    model.dispose();
  }
}

/**
 * Rows per second of the image recording as the app runs it (decode, thumbnails, forward, read-back; four
 * positions per image) and of the forward alone, feature-visualisation steps per second and GPT-2 tokens per second.
 */
async function throughput(model: ImageModel, images: ImageProvider, text: TextModel): Promise<NonNullable<ProbeResult['throughput']>> {
  const options = { layer: model.defaultLayer, samplesPerInput: 4, seed: 0 } as const;
  await recordActivations(model, firstImages(images, 64), options); // warm-up: kernels and XNNPACK operators
  const t0 = performance.now();
  const recorded = await recordActivations(model, images, options);
  const seconds = (performance.now() - t0) / 1000;
  const batch = tf.zeros([64, model.inputHeight, model.inputWidth, model.inputChannels]) as tf.Tensor4D;
  const batches = Math.ceil(images.count / 64);
  const t1 = performance.now();
  for (let i = 0; i < batches; i++) {
    const { activation, probabilities } = model.run(batch, options.layer);
    await activation.data();
    activation.dispose();
    probabilities?.dispose();
  }
  const forwardSeconds = (performance.now() - t1) / 1000;
  batch.dispose();

  const dim = model.layer(options.layer).shape.at(-1)!;
  const directions = randomDirections(dim, 16, 0);
  await visualiseDirections(model, options.layer, directions, { steps: 2, batchSize: 16 });
  const steps = 24;
  const t2 = performance.now();
  await visualiseDirections(model, options.layer, directions, { steps, batchSize: 16 });
  const featureVisSeconds = (performance.now() - t2) / 1000;

  const windows = Array.from({ length: 8 }, (_, w) => Int32Array.from({ length: 64 }, (_, i) => (w * 997 + i * 131) % 50000));
  tf.dispose(text.record(windows.slice(0, 1), text.defaultLayer));
  const passes = 5;
  const t3 = performance.now();
  for (let i = 0; i < passes; i++) {
    const acts = text.record(windows, text.defaultLayer);
    await acts.data();
    acts.dispose();
  }
  const gpt2Seconds = (performance.now() - t3) / 1000;

  const rows = recorded.table.count;
  return {
    rows,
    seconds,
    rowsPerSecond: rows / seconds,
    forwardRowsPerSecond: (batches * 64 * 4) / forwardSeconds,
    featureVisStepsPerSecond: steps / featureVisSeconds,
    gpt2TokensPerSecond: (passes * 8 * 64) / gpt2Seconds,
  };
}
