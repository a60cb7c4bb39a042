import * as tf from '@tensorflow/tfjs';

/** Decoded pixels, as any decoder gives them: 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) channels. */
export interface RawImage {
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  data: Uint8Array | Uint8ClampedArray;
}

/** How bytes become model inputs: [0,1], [-1,1], or (x/255 - mean) / std per channel. */
export interface Preprocessing {
  range: 'unit' | 'symmetric' | 'meanstd';
  mean?: number[];
  std?: number[];
}

/** Pixels as a float [H, W, C] tensor with C = 1 or 3 and values 0..255; alpha is dropped. */
export function imageToTensor(image: RawImage): tf.Tensor3D {
  const { width, height, channels, data } = image;
  if (data.length !== width * height * channels) {
    throw new Error(`image data holds ${data.length} bytes, expected ${width}x${height}x${channels}`);
  }
  return tf.tidy(() => {
    const t = tf.tensor3d(Int32Array.from(data), [height, width, channels], 'int32').toFloat();
    if (channels === 2) return t.slice([0, 0, 0], [height, width, 1]);
    if (channels === 4) return t.slice([0, 0, 0], [height, width, 3]);
    return t;
  });
}

/** Converts [H, W, C] to the model's channel count: luminance for gray models, tiled gray for RGB models. */
export function matchChannels(pixels: tf.Tensor3D, channels: number): tf.Tensor3D {
  return tf.tidy(() => {
    const c = pixels.shape[2];
    if (c === channels) return pixels.clone();
    if (channels === 1) return tf.sum(tf.mul(pixels, tf.tensor1d([0.299, 0.587, 0.114])), -1, true) as tf.Tensor3D;
    if (channels === 3 && c === 1) return tf.tile(pixels, [1, 1, 3]);
    throw new Error(`cannot convert a ${c}-channel image to ${channels} channels`);
  });
}

/** Maps 0..255 values to the model's input range. */
export function normalisePixels(pixels: tf.Tensor, p: Preprocessing): tf.Tensor {
  return tf.tidy(() => {
    if (p.range === 'symmetric') return pixels.div(127.5).sub(1);
    const unit = pixels.div(255);
    if (p.range === 'meanstd') {
      const channels = pixels.shape[pixels.rank - 1];
      const mean = tf.tensor1d(fitChannels(p.mean ?? [0.485, 0.456, 0.406], channels));
      const std = tf.tensor1d(fitChannels(p.std ?? [0.229, 0.224, 0.225], channels));
      return unit.sub(mean).div(std);
    }
    return unit;
  });
}

const fitChannels = (v: number[], channels: number) =>
  channels === v.length ? v : channels === 1 ? [v.reduce((a, b) => a + b, 0) / v.length] : Array(channels).fill(v[0]);

/**
 * One image as the model sees it: resized bilinearly to (height, width), matched to its channels and normalised.
 * Also returns the resized 0..255 pixels for thumbnails, so the outline of a spatial position is exact.
 */
export function prepareImage(
  image: RawImage,
  size: { height: number; width: number; channels: number },
  preprocessing: Preprocessing,
): { input: tf.Tensor3D; pixels: tf.Tensor3D } {
  return tf.tidy(() => {
    const raw = imageToTensor(image);
    const resized = tf.image.resizeBilinear(raw, [size.height, size.width]).clipByValue(0, 255) as tf.Tensor3D;
    const matched = matchChannels(resized, size.channels);
    return { input: normalisePixels(matched, preprocessing) as tf.Tensor3D, pixels: resized };
  });
}
