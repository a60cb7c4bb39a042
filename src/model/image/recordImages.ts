import * as tf from '@tensorflow/tfjs';
import type { AtlasRequest, InputError, PositionSampling, RecordedOf } from '../../compute/atlas';
import type { ProgressCallback } from '../../compute/types';
import { abortError } from '../../lib/abort';
import { createLimiter } from '../../lib/concurrency';
import { messageOf } from '../../lib/errors';
import { ModelUseError, openRecordingStream, resolveSampling, samplePositions, type StreamHooks } from '../recordTable';
import type { ImageModel } from './imageModel';
import { prepareImage, type Preprocessing, type RawImage } from './preprocess';

/** Inputs to record, loaded lazily so a large folder never sits decoded in memory at once. */
export interface ImageProvider {
  count: number;
  name(index: number): string;
  /** The true label (e.g. the sub-folder name), or null where unknown. */
  label(index: number): string | null;
  /** Decodes one input; a rejection marks that input as bad and the rest go on. */
  load(index: number): Promise<RawImage>;
  /** The input's place among all the inputs of a recording split into shards; default: its index. */
  ordinal?(index: number): number;
}

export interface RecordOptions {
  layer: string;
  /** 'pooled': the mean over positions per input; k: k seeded positions per input away from the border; 'all': every position. */
  samplesPerInput: PositionSampling;
  seed?: number;
  batchSize?: number;
  /** Top rows kept per unit over every recorded row. */
  unitTopK?: number;
  /** The sample's size, a sink for every row, the recorder when done. */
  stream?: StreamHooks;
  /** Longest side of the thumbnail kept per input (what the model saw, resized). */
  thumbnailSize?: number;
  /** Overrides the model's own preprocessing. */
  preprocessing?: Preprocessing;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/** An image recording: the modality-free columns, the thumbnails as pixels, and the inputs that failed. */
export type ImageRecording = Omit<RecordedOf<'image'>, 'modality' | 'model' | 'previews'> & {
  thumbnails: RawImage[];
  errors: InputError[];
};

/** Thumbnails encoded at once. */
const THUMBNAILS_AT_ONCE = 16;

const reasonOf = (e: unknown) => messageOf(e) || 'unknown error';

/**
 * Records one layer's activations for every image, in batches, with progress and cancellation, into one
 * stream: the table is its seeded sample (every row up to the budget), `units` covers every row.
 */
export async function recordActivations(model: ImageModel, images: ImageProvider, options: RecordOptions): Promise<ImageRecording> {
  const { signal, onProgress } = options;
  const seed = options.seed ?? 0;
  const layer = model.layer(options.layer);
  if (images.count === 0) throw new ModelUseError('No inputs to record: pick or drop some images first.');
  const notices: string[] = [];
  const samples = resolveSampling(layer, options.samplesPerInput, notices);
  const positions = layer.positionShape.reduce((a, b) => a * b, 1);
  const ordinals: number[] = [];
  const { stream, finish } = openRecordingStream(layer, options.stream, { seed, unitTopK: options.unitTopK, ordinals });
  const dim = stream.dim;
  const names: string[] = [];
  const labels: (string | null)[] = [];
  const predicted: number[] = [];
  const probability: number[] = [];
  const thumbnails: RawImage[] = [];
  const errors: InputError[] = [];
  const scale = Math.min(1, (options.thumbnailSize ?? 64) / Math.max(model.inputHeight, model.inputWidth));
  const thumbSize: [number, number] = [Math.max(1, Math.round(model.inputHeight * scale)), Math.max(1, Math.round(model.inputWidth * scale))];
  const batchSize = options.batchSize ?? (model.inputHeight * model.inputWidth > 128 * 128 ? 16 : 64);
  const size = { height: model.inputHeight, width: model.inputWidth, channels: model.inputChannels };

  for (let start = 0; start < images.count; start += batchSize) {
    if (signal?.aborted) throw abortError('Recording cancelled');
    const end = Math.min(images.count, start + batchSize);
    const inputs: tf.Tensor3D[] = [];
    const thumbs: tf.Tensor3D[] = [];
    const batchIds: number[] = [];
    try {
      for (let i = start; i < end; i++) {
        // A file that does not decode, or decodes to pixels the model cannot take, is listed and skipped.
        try {
          const raw = await images.load(i);
          const { input: x, pixels } = prepareImage(raw, size, options.preprocessing ?? model.preprocessing);
          inputs.push(x);
          thumbs.push(tf.tidy(() => tf.image.resizeBilinear(pixels, thumbSize).round().clipByValue(0, 255).toInt() as tf.Tensor3D));
          pixels.dispose();
          batchIds.push(i);
        } catch (e) {
          errors.push({ name: images.name(i), reason: reasonOf(e) });
        }
      }
      onProgress?.({ stage: 'decode', done: end, total: images.count });
      if (inputs.length === 0) continue;
      // One read-back per batch for all its thumbnails (their channel counts may differ, so flattened).
      const flat = tf.tidy(() => tf.concat(thumbs.map((t) => t.reshape([-1]))));
      const thumbData = await flat.data();
      flat.dispose();
      let offset = 0;
      for (const t of thumbs) {
        thumbnails.push({ width: thumbSize[1], height: thumbSize[0], channels: t.shape[2] as 1 | 3, data: Uint8Array.from(thumbData.subarray(offset, offset + t.size)) });
        offset += t.size;
      }
      const batch = tf.stack(inputs) as tf.Tensor4D;
      let activation: tf.Tensor;
      let probabilities: tf.Tensor2D | null;
      try {
        ({ activation, probabilities } = model.run(batch, layer.name));
      } finally {
        batch.dispose();
      }
      try {
        // Pooled: the mean over every position axis (H and W of a feature map, T of a sequence).
        const positionAxes = Array.from({ length: activation.rank - 2 }, (_, k) => k + 1);
        const pooled = samples === 'pooled' && positionAxes.length > 0 ? tf.mean(activation, positionAxes) : null;
        const data = (await (pooled ?? activation).data()) as Float32Array;
        pooled?.dispose();
        const topTensors = probabilities ? [probabilities.argMax(1), probabilities.max(1)] : [];
        const top = probabilities ? await Promise.all(topTensors.map((t) => t.data())) : null;
        tf.dispose(topTensors);
        for (let b = 0; b < batchIds.length; b++) {
          const imageIndex = names.length;
          const i = batchIds[b];
          names.push(images.name(i));
          ordinals.push(images.ordinal ? images.ordinal(i) : i);
          labels.push(images.label(i));
          predicted.push(top ? top[0][b] : -1);
          probability.push(top ? top[1][b] : 0);
          if (samples === 'pooled') {
            stream.add(imageIndex, -1, data, b * dim);
            continue;
          }
          const ordinal = ordinals[imageIndex];
          const picked = samplePositions(layer.positionShape, samples, seed * 100003 + ordinal);
          for (const position of picked) stream.add(imageIndex, position, data, (b * positions + position) * dim);
        }
      } finally {
        activation.dispose();
        probabilities?.dispose();
      }
    } finally {
      tf.dispose(inputs);
      tf.dispose(thumbs);
    }
    onProgress?.({ stage: 'record', done: end, total: images.count });
    await new Promise((r) => setTimeout(r, 0));
  }
  if (names.length === 0) {
    throw new ModelUseError(`None of the ${images.count} inputs could be read (${errors[0]?.name}: ${errors[0]?.reason}).`);
  }
  const { table, units } = finish(notices);
  return {
    table,
    units,
    layerShape: layer.shape,
    samplesPerInput: samples,
    names,
    labels,
    predicted: Int32Array.from(predicted),
    probability: Float32Array.from(probability),
    thumbnails,
    errors,
    notices,
  };
}

/** Options of the image recording stage that are the caller's, not the user's. */
export interface ImageStageOptions {
  /** Encodes a thumbnail's pixels as a PNG data URL (OffscreenCanvas in the page, sharp in Node). */
  encodePng(image: RawImage): Promise<string>;
  thumbnailSize?: number;
  stream?: StreamHooks;
  preprocessing?: Preprocessing;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/**
 * The first stage of every image atlas build, in the model worker and in the CLI alike: records the
 * request's layer with its parameters and encodes each input's thumbnail as its preview.
 */
export async function recordImageAtlas(
  model: ImageModel,
  images: ImageProvider,
  request: AtlasRequest,
  options: ImageStageOptions,
): Promise<RecordedOf<'image'> & { errors: InputError[]; thumbnails: RawImage[] }> {
  const recording = await recordActivations(model, images, {
    layer: request.layer,
    samplesPerInput: request.params.samplesPerInput,
    seed: request.params.seed,
    thumbnailSize: options.thumbnailSize ?? 64,
    unitTopK: request.params.topK,
    stream: options.stream,
    preprocessing: options.preprocessing,
    onProgress: options.onProgress,
    signal: options.signal,
  });
  // A bounded number of encodings at once: each may hold a buffer or a file handle until it ends.
  const limit = createLimiter(THUMBNAILS_AT_ONCE);
  const thumbnails = await Promise.all(recording.thumbnails.map((t) => limit(() => options.encodePng(t))));
  return { ...recording, modality: 'image', model: model.info, previews: { thumbnails } };
}
