/**
 * bench:featvis's measures of how icons look and whether the model recognises them (issue 21): images here are
 * H x W x C floats in [0, 1] (the model's view) or RGBA bytes (what a person sees), converted both ways.
 */
import * as tf from '@tensorflow/tfjs';
import { colourfulness, contrast, quartiles } from '../src/featureVis/iconMeasures';
import { topIndices } from '../src/lib/order';
import { scoreImages, toModelInput, type ScoreOptions } from '../src/featureVis/objective';
import type { ImageModel } from '../src/model/image/imageModel';

/** A square image in [0, 1], side x side x channels. */
export interface UnitImage {
  side: number;
  channels: number;
  data: Float32Array;
}

/** The `side`-pixel square of a W-wide, H-high image centred on (cx, cy) in pixels, moved inside the image where it would overhang. */
export function cropSquare(data: Float32Array, height: number, width: number, channels: number, cx: number, cy: number, side: number): UnitImage {
  const s = Math.min(side, height, width);
  const left = Math.min(width - s, Math.max(0, Math.round(cx - s / 2)));
  const top = Math.min(height - s, Math.max(0, Math.round(cy - s / 2)));
  const out = new Float32Array(s * s * channels);
  for (let y = 0; y < s; y++) out.set(data.subarray(((top + y) * width + left) * channels, ((top + y) * width + left + s) * channels), y * s * channels);
  return { side: s, channels, data: out };
}

/** RGBA bytes of an image in [0, 1] (grey repeated for one channel). */
export function toRgba(image: UnitImage): Uint8ClampedArray {
  const { side, channels, data } = image;
  const out = new Uint8ClampedArray(side * side * 4);
  for (let p = 0; p < side * side; p++) {
    for (let c = 0; c < 3; c++) out[p * 4 + c] = Math.round(255 * data[p * channels + (channels === 3 ? c : 0)]);
    out[p * 4 + 3] = 255;
  }
  return out;
}

/** An image in [0, 1] from RGBA bytes (the red channel for a one-channel model). */
export function fromRgba(rgba: Uint8ClampedArray, side: number, channels: number): UnitImage {
  const data = new Float32Array(side * side * channels);
  for (let p = 0; p < side * side; p++) for (let c = 0; c < channels; c++) data[p * channels + c] = rgba[p * 4 + c] / 255;
  return { side, channels, data };
}

/** Each image's `k` most probable classes, the images resized bilinearly to the model's input as the icons' objective sees them. */
export async function topClasses(model: ImageModel, images: UnitImage[], k: number, batchSize = 16): Promise<number[][]> {
  const out: number[][] = [];
  for (let start = 0; start < images.length; start += batchSize) {
    const batch = images.slice(start, start + batchSize);
    const probabilities = tf.tidy(() => {
      const resized = batch.map(({ side, channels, data }) =>
        tf.image.resizeBilinear(tf.tensor4d(data, [1, side, side, channels]), [model.inputHeight, model.inputWidth], false, true),
      );
      return model.classify(toModelInput(tf.concat(resized) as tf.Tensor4D, model.preprocessing));
    });
    const values = (await probabilities.data()) as Float32Array;
    probabilities.dispose();
    const classes = values.length / batch.length;
    batch.forEach((_, i) => out.push(topIndices(values.subarray(i * classes, (i + 1) * classes), k)));
  }
  return out;
}

/** Contrast and colourfulness of each image (RGBA bytes). */
export function looks(images: Uint8ClampedArray[]): { contrast: number[]; colourfulness: number[] } {
  return { contrast: images.map(contrast), colourfulness: images.map(colourfulness) };
}

/** How many of `values` fall within [q1, q3] of `reference`. */
export function withinQuartiles(values: number[], reference: number[]): number {
  const [q1, , q3] = quartiles(reference);
  return values.filter((v) => v >= q1 && v <= q3).length;
}

/** The objective of RGBA icons (side x side) at the layer's centre, resized to the model's input as visualiseDirections scores them. */
export async function scoreIcons(model: ImageModel, layer: string, icons: Uint8ClampedArray[], side: number, directions: Float32Array, options: ScoreOptions): Promise<Float32Array> {
  const [H, W, C] = [model.inputHeight, model.inputWidth, model.inputChannels];
  const resized = tf.tidy(() => {
    const batch = tf.concat(icons.map((icon) => tf.tensor4d(fromRgba(icon, side, C).data, [1, side, side, C])));
    return tf.image.resizeBilinear(batch as tf.Tensor4D, [H, W], false, true);
  });
  const pixels = (await resized.data()) as Float32Array;
  resized.dispose();
  return scoreImages(model, layer, pixels, directions, options);
}
