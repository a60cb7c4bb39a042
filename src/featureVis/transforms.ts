import * as tf from '@tensorflow/tfjs';

/** Robustness transforms drawn afresh each step (Lucid's pad, jitter, random scale and rotation, composed). */
export interface TransformOptions {
  /** Mid-grey border the view extends into, as a fraction of the image side on each side. */
  pad?: number;
  /** Largest random shift, as a fraction of the image side (whole pixels). */
  jitter?: number;
  /** Zoom factors drawn from uniformly. */
  scales?: number[];
  /** Rotations in degrees drawn from uniformly. */
  angles?: number[];
}

/** One draw of the transforms. */
export interface SampledTransform {
  dx: number;
  dy: number;
  scale: number;
  /** Radians. */
  angle: number;
  pad: number;
}

export const IDENTITY_TRANSFORM: SampledTransform = { dx: 0, dy: 0, scale: 1, angle: 0, pad: 0 };

const DEFAULT_SCALES = Array.from({ length: 11 }, (_, i) => 1 + (i - 5) / 50);
const DEFAULT_ANGLES = [...Array.from({ length: 21 }, (_, i) => i - 10), 0, 0, 0, 0, 0];

/** Draws one transform for an image of the given side. */
export function sampleTransform(random: () => number, options: TransformOptions, side: number): SampledTransform {
  const jitter = Math.max(1, Math.round((options.jitter ?? 0.05) * side));
  const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)];
  return {
    dx: Math.floor(random() * (2 * jitter + 1)) - jitter,
    dy: Math.floor(random() * (2 * jitter + 1)) - jitter,
    scale: pick(options.scales ?? DEFAULT_SCALES),
    angle: (pick(options.angles ?? DEFAULT_ANGLES) * Math.PI) / 180,
    pad: options.pad ?? 0.05,
  };
}

/** A transform weakened towards the identity (strength 1: as drawn, 0: none). */
export function weakenTransform(t: SampledTransform, strength: number): SampledTransform {
  if (strength >= 1) return t;
  return {
    dx: Math.round(t.dx * strength),
    dy: Math.round(t.dy * strength),
    scale: 1 + (t.scale - 1) * strength,
    angle: t.angle * strength,
    pad: t.pad * strength,
  };
}

/**
 * Bilinear taps of a resampling from an inH x inW image to outH x outW: four (source index, weight) pairs
 * per output pixel, tap-major ([tap][pixel]). Taps that fall outside the image point at index inH*inW,
 * a zero (mid-grey before the sigmoid) padding row.
 */
export interface ResampleTaps {
  inHeight: number;
  inWidth: number;
  outHeight: number;
  outWidth: number;
  index: Int32Array;
  weight: Float32Array;
}

/**
 * Where each output pixel reads: the view (the image plus `pad` on each side) fills the output, then is
 * zoomed by `scale`, rotated by `angle` about the centre and shifted by (dx, dy) source pixels.
 */
export function resampleTaps(t: SampledTransform, inHeight: number, inWidth: number, outHeight: number, outWidth: number): ResampleTaps {
  const n = outHeight * outWidth;
  const index = new Int32Array(4 * n);
  const weight = new Float32Array(4 * n);
  const padIndex = inHeight * inWidth;
  const rx = (inWidth * (1 + 2 * t.pad)) / outWidth / t.scale;
  const ry = (inHeight * (1 + 2 * t.pad)) / outHeight / t.scale;
  const cos = Math.cos(t.angle);
  const sin = Math.sin(t.angle);
  const cx = (inWidth - 1) / 2 + t.dx;
  const cy = (inHeight - 1) / 2 + t.dy;
  for (let v = 0; v < outHeight; v++) {
    for (let u = 0; u < outWidth; u++) {
      const px = (u - (outWidth - 1) / 2) * rx;
      const py = (v - (outHeight - 1) / 2) * ry;
      let sx = cx + cos * px - sin * py;
      let sy = cy + sin * px + cos * py;
      // Snap values a rounding error away from a pixel centre, so exact shifts and quarter turns stay exact.
      if (Math.abs(sx - Math.round(sx)) < 1e-6) sx = Math.round(sx);
      if (Math.abs(sy - Math.round(sy)) < 1e-6) sy = Math.round(sy);
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      const p = v * outWidth + u;
      const taps: [number, number, number][] = [
        [x0, y0, (1 - fx) * (1 - fy)],
        [x0 + 1, y0, fx * (1 - fy)],
        [x0, y0 + 1, (1 - fx) * fy],
        [x0 + 1, y0 + 1, fx * fy],
      ];
      taps.forEach(([x, y, w], k) => {
        const inside = x >= 0 && x < inWidth && y >= 0 && y < inHeight && w > 0;
        index[k * n + p] = inside ? y * inWidth + x : padIndex;
        weight[k * n + p] = inside ? w : 0;
      });
    }
  }
  return { inHeight, inWidth, outHeight, outWidth, index, weight };
}

/** The taps as one dense (outH*outW) x (inH*inW) row-major matrix: a resampling that is a single matMul. */
export function denseResampleMatrix(taps: ResampleTaps): Float32Array {
  const n = taps.outHeight * taps.outWidth;
  const m = taps.inHeight * taps.inWidth;
  const dense = new Float32Array(n * m);
  for (let k = 0; k < 4; k++) {
    for (let p = 0; p < n; p++) {
      const i = taps.index[k * n + p];
      if (i < m) dense[p * m + i] += taps.weight[k * n + p];
    }
  }
  return dense;
}

/** Largest dense matrix (entries) used; past it the gather form is cheaper (a 28x28 image needs 615k). */
const DENSE_LIMIT = 1 << 21;

/** How a resampling will run: one dense matMul for small images, a gather of four taps otherwise. */
export function resampleMode(taps: Pick<ResampleTaps, 'inHeight' | 'inWidth' | 'outHeight' | 'outWidth'>): 'dense' | 'gather' {
  return taps.inHeight * taps.inWidth * taps.outHeight * taps.outWidth <= DENSE_LIMIT ? 'dense' : 'gather';
}

/**
 * Resamples pixel rows [inH*inW, B*C] to [outH*outW, B*C], differentiably on every backend: the dense form
 * is one matMul; the gather form takes its gradient as a scatter-add (ScatterNd), since the stock gradient
 * of gather needs UnsortedSegmentSum, which wasm lacks and cpu runs in O(segments x rows).
 */
export function resampleRows(rows: tf.Tensor2D, taps: ResampleTaps, mode = resampleMode(taps)): tf.Tensor2D {
  const n = taps.outHeight * taps.outWidth;
  const m = taps.inHeight * taps.inWidth;
  if (mode === 'dense') return tf.tidy(() => tf.matMul(tf.tensor2d(denseResampleMatrix(taps), [n, m]), rows));
  return tf.tidy(() => {
    const index = tf.tensor1d(taps.index, 'int32');
    const weight = tf.tensor2d(taps.weight, [4 * n, 1]);
    const resample = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
      save([index, weight]);
      const width = x.shape[1]!;
      const padded = tf.concat([x, tf.zeros([1, width])], 0);
      const value = tf.sum(tf.reshape(tf.mul(tf.gather(padded, index), weight), [4, n, width]), 0);
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [idx, w] = saved;
        const updates = tf.mul(tf.concat([dy, dy, dy, dy], 0), w);
        return tf.slice(tf.scatterND(tf.reshape(idx, [4 * n, 1]), updates, [m + 1, width]), [0, 0], [m, width]);
      };
      return { value, gradFunc };
    });
    return resample(rows) as tf.Tensor2D;
  });
}
