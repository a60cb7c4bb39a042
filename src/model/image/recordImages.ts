import * as tf from '@tensorflow/tfjs';
import type { ActivationTable, ProgressCallback } from '../../compute/types';
import { createRng } from '../../lib/rng';
import { abortError } from '../../lib/abort';
import { ModelUseError, type ImageModel } from './imageModel';
import { prepareImage, type Preprocessing, type RawImage } from './preprocess';

/** Inputs to record, loaded lazily so a large folder never sits decoded in memory at once. */
export interface ImageProvider {
  count: number;
  name(index: number): string;
  /** The true label (e.g. the sub-folder name), or null where unknown. */
  label(index: number): string | null;
  /** Decodes one input; a rejection marks that input as bad and the rest go on. */
  load(index: number): Promise<RawImage>;
}

export interface RecordOptions {
  layer: string;
  /** 'pooled': the spatial mean per input; k: k seeded positions per input away from the border; 'all': every position. */
  samplesPerImage: 'pooled' | 'all' | number;
  seed?: number;
  batchSize?: number;
  /** Most float32 values the table may hold; past it, rows are sampled and the counts say so. */
  maxValues?: number;
  /** Longest side of the thumbnail kept per input (what the model saw, resized). */
  thumbnailSize?: number;
  /** Overrides the model's own preprocessing. */
  preprocessing?: Preprocessing;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

export interface Recording {
  table: ActivationTable;
  /** What was recorded: 'pooled' also when spatial samples were asked of a non-spatial layer. */
  samplesPerImage: 'pooled' | 'all' | number;
  names: string[];
  labels: (string | null)[];
  predicted: Int32Array;
  probability: Float32Array;
  thumbnails: RawImage[];
  errors: { name: string; reason: string }[];
  notices: string[];
}

const DEFAULT_MAX_VALUES = 64 * 1024 * 1024; // 256 MB of float32

/** Spatial positions to sample for one input: seeded per input, away from the border as in the Activation Atlas. */
export function samplePositions(
  gridWidth: number,
  gridHeight: number,
  samples: 'all' | number,
  seed: number,
): Array<[number, number]> {
  if (samples === 'all') {
    const all: Array<[number, number]> = [];
    for (let y = 0; y < gridHeight; y++) for (let x = 0; x < gridWidth; x++) all.push([x, y]);
    return all;
  }
  const x0 = gridWidth >= 3 ? 1 : 0;
  const y0 = gridHeight >= 3 ? 1 : 0;
  const candidates: Array<[number, number]> = [];
  for (let y = y0; y < gridHeight - y0; y++) for (let x = x0; x < gridWidth - x0; x++) candidates.push([x, y]);
  const random = createRng(seed);
  const k = Math.min(samples, candidates.length);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(random() * (candidates.length - i));
    [candidates[i], candidates[j]] = [candidates[j], candidates[i]];
  }
  return candidates.slice(0, k);
}

/** Seeded choice of `keep` row ids out of `total`, as a mask. */
function sampleRows(total: number, keep: number, seed: number): Uint8Array {
  const mask = new Uint8Array(total);
  if (keep >= total) return mask.fill(1);
  const ids = new Uint32Array(total);
  for (let i = 0; i < total; i++) ids[i] = i;
  const random = createRng(seed ^ 0x9e3779b9);
  for (let i = 0; i < keep; i++) {
    const j = i + Math.floor(random() * (total - i));
    const t = ids[i];
    ids[i] = ids[j];
    ids[j] = t;
    mask[ids[i]] = 1;
  }
  return mask;
}

/** Records one layer's activations for every input, in batches, with progress and cancellation. */
export async function recordActivations(model: ImageModel, images: ImageProvider, options: RecordOptions): Promise<Recording> {
  const { signal, onProgress } = options;
  const seed = options.seed ?? 0;
  const layer = model.layer(options.layer);
  if (images.count === 0) throw new ModelUseError('No inputs to record: pick or drop some images first.');
  const notices: string[] = [];
  let samples = options.samplesPerImage;
  if (samples !== 'pooled' && !layer.spatial) {
    notices.push(`Layer "${layer.name}" has no spatial positions (shape ${JSON.stringify(layer.shape)}); recorded one pooled vector per input.`);
    samples = 'pooled';
  }
  if (typeof samples === 'number' && (!Number.isInteger(samples) || samples < 1)) {
    throw new ModelUseError(`Samples per image must be a positive whole number, "pooled" or "all"; got ${samples}.`);
  }
  const [gridHeight, gridWidth] = layer.spatial ? layer.shape : [1, 1];
  const dim = layer.shape[layer.shape.length - 1];
  const perImage = samples === 'pooled' ? 1 : samplePositions(gridWidth, gridHeight, samples, 0).length;
  const expectedRows = images.count * perImage;
  const maxRows = Math.max(1, Math.floor((options.maxValues ?? DEFAULT_MAX_VALUES) / dim));
  const keepMask = sampleRows(expectedRows, maxRows, seed);
  const capacity = Math.min(expectedRows, maxRows);

  const values = new Float32Array(capacity * dim);
  const input = new Uint32Array(capacity);
  const xs = new Int16Array(capacity);
  const ys = new Int16Array(capacity);
  const names: string[] = [];
  const labels: (string | null)[] = [];
  const predicted: number[] = [];
  const probability: number[] = [];
  const thumbnails: RawImage[] = [];
  const errors: { name: string; reason: string }[] = [];
  const scale = Math.min(1, (options.thumbnailSize ?? 64) / Math.max(model.inputHeight, model.inputWidth));
  const thumbSize: [number, number] = [Math.max(1, Math.round(model.inputHeight * scale)), Math.max(1, Math.round(model.inputWidth * scale))];
  const batchSize = options.batchSize ?? (model.inputHeight * model.inputWidth > 128 * 128 ? 16 : 64);
  const size = { height: model.inputHeight, width: model.inputWidth, channels: model.inputChannels };
  let rows = 0;
  let recordedRows = 0;

  for (let start = 0; start < images.count; start += batchSize) {
    if (signal?.aborted) throw abortError('Recording cancelled');
    const end = Math.min(images.count, start + batchSize);
    const inputs: tf.Tensor3D[] = [];
    const thumbs: tf.Tensor3D[] = [];
    const batchIds: number[] = [];
    try {
      for (let i = start; i < end; i++) {
        let raw: RawImage;
        try {
          raw = await images.load(i);
        } catch (e) {
          errors.push({ name: images.name(i), reason: (e as Error).message || String(e) });
          continue;
        }
        const { input: x, pixels } = prepareImage(raw, size, options.preprocessing ?? model.preprocessing);
        inputs.push(x);
        batchIds.push(i);
        thumbs.push(tf.tidy(() => tf.image.resizeBilinear(pixels, thumbSize).round().clipByValue(0, 255).toInt() as tf.Tensor3D));
        pixels.dispose();
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
        const pooled = samples === 'pooled' && activation.rank === 4 ? tf.mean(activation, [1, 2]) : null;
        const data = await (pooled ?? activation).data();
        pooled?.dispose();
        const topTensors = probabilities ? [probabilities.argMax(1), probabilities.max(1)] : [];
        const top = probabilities ? await Promise.all(topTensors.map((t) => t.data())) : null;
        tf.dispose(topTensors);
        for (let b = 0; b < batchIds.length; b++) {
          const imageIndex = names.length;
          const i = batchIds[b];
          names.push(images.name(i));
          labels.push(images.label(i));
          predicted.push(top ? top[0][b] : -1);
          probability.push(top ? top[1][b] : 0);
          const positions: Array<[number, number]> =
            samples === 'pooled' ? [[-1, -1]] : samplePositions(gridWidth, gridHeight, samples, seed * 100003 + i);
          for (let k = 0; k < positions.length; k++) {
            const [px, py] = positions[k];
            const rowId = i * perImage + k;
            recordedRows++;
            if (!keepMask[rowId]) continue;
            const offset = samples === 'pooled' ? b * dim : ((b * gridHeight + py) * gridWidth + px) * dim;
            values.set(data.subarray(offset, offset + dim), rows * dim);
            input[rows] = imageIndex;
            xs[rows] = px;
            ys[rows] = py;
            rows++;
          }
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
  if (recordedRows > rows) {
    notices.push(`Recorded ${recordedRows.toLocaleString('en')} activations; kept a seeded sample of ${rows.toLocaleString('en')} to stay within the memory budget.`);
  }
  return {
    table: {
      layer: layer.name,
      dim,
      count: rows,
      values: values.slice(0, rows * dim),
      input: input.slice(0, rows),
      x: xs.slice(0, rows),
      y: ys.slice(0, rows),
      gridWidth,
      gridHeight,
      totalBeforeSampling: recordedRows,
    },
    samplesPerImage: samples,
    names,
    labels,
    predicted: Int32Array.from(predicted),
    probability: Float32Array.from(probability),
    thumbnails,
    errors,
    notices,
  };
}
