import * as tf from '@tensorflow/tfjs';
import { createRng, gaussian } from '../lib/rng';
import type { RawImage } from '../model/image/preprocess';

/**
 * Orthonormal real Fourier basis of length n, n x n row-major [pixel][k]: column 0 is the constant,
 * then cos/sin pairs of rising frequency, then the Nyquist cosine when n is even.
 */
export function fourierBasis(n: number): Float32Array {
  const basis = new Float32Array(n * n);
  const freqs = basisFrequencies(n);
  for (let k = 0; k < n; k++) {
    const f = freqs[k] * n;
    const isSin = k > 0 && k % 2 === 0 && f < n / 2;
    const norm = k === 0 || (n % 2 === 0 && k === n - 1) ? Math.sqrt(1 / n) : Math.sqrt(2 / n);
    for (let x = 0; x < n; x++) {
      const phase = (2 * Math.PI * f * x) / n;
      basis[x * n + k] = norm * (isSin ? Math.sin(phase) : Math.cos(phase));
    }
  }
  return basis;
}

/** Frequency (cycles per pixel) of each column of `fourierBasis(n)`: 0, 1/n, 1/n, 2/n, 2/n, ... */
export function basisFrequencies(n: number): Float32Array {
  const freqs = new Float32Array(n);
  for (let k = 1; k < n; k++) freqs[k] = Math.ceil(k / 2) / n;
  return freqs;
}

/** 1/f^decay scale of each 2-D coefficient (h x w), the lowest frequency clamped to 1/max(h, w) as in Lucid. */
export function spectrumScale(height: number, width: number, decayPower = 1): Float32Array {
  const fy = basisFrequencies(height);
  const fx = basisFrequencies(width);
  const floor = 1 / Math.max(height, width);
  const scale = new Float32Array(height * width);
  for (let i = 0; i < height; i++) {
    for (let j = 0; j < width; j++) scale[i * width + j] = 1 / Math.max(Math.hypot(fy[i], fx[j]), floor) ** decayPower;
  }
  return scale;
}

/**
 * The square root of the RGB covariance of some images (3 x 3 row-major, rgb = M t): U·sqrt(Λ) of its
 * eigendecomposition, scaled so the longest column has length 1. Optimising t then moves along
 * decorrelated colour axes, as Lucid does with ImageNet's statistics.
 */
export function colourBasisFromImages(images: RawImage[], maxPixels = 200_000): Float32Array {
  const rgb = images.filter((im) => im.channels >= 3);
  const total = rgb.reduce((n, im) => n + im.width * im.height, 0);
  if (total === 0) return Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]);
  const step = Math.max(1, Math.ceil(total / maxPixels));
  const sum = new Float64Array(3);
  const outer = new Float64Array(9);
  let n = 0;
  for (const im of rgb) {
    for (let p = 0; p < im.width * im.height; p += step) {
      const o = p * im.channels;
      const c = [im.data[o] / 255, im.data[o + 1] / 255, im.data[o + 2] / 255];
      for (let i = 0; i < 3; i++) {
        sum[i] += c[i];
        for (let j = 0; j < 3; j++) outer[i * 3 + j] += c[i] * c[j];
      }
      n++;
    }
  }
  const cov = new Float64Array(9);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) cov[i * 3 + j] = outer[i * 3 + j] / n - (sum[i] / n) * (sum[j] / n);
  const { values, vectors } = symmetricEigen3(cov);
  const m = new Float64Array(9);
  let longest = 0;
  for (let k = 0; k < 3; k++) {
    const root = Math.sqrt(Math.max(values[k], 0));
    let len = 0;
    for (let i = 0; i < 3; i++) {
      m[i * 3 + k] = vectors[i * 3 + k] * root;
      len += m[i * 3 + k] ** 2;
    }
    longest = Math.max(longest, Math.sqrt(len));
  }
  if (!(longest > 0)) return Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]);
  return Float32Array.from(m, (v) => v / longest);
}

/** Eigenvalues (descending) and eigenvectors (columns) of a symmetric 3 x 3 matrix, by cyclic Jacobi rotations. */
function symmetricEigen3(matrix: Float64Array): { values: number[]; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const v = Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]);
  for (let sweep = 0; sweep < 50; sweep++) {
    const off = a[1] ** 2 + a[2] ** 2 + a[5] ** 2;
    if (off < 1e-30) break;
    for (const [p, q] of [[0, 1], [0, 2], [1, 2]]) {
      const apq = a[p * 3 + q];
      if (Math.abs(apq) < 1e-300) continue;
      const theta = (a[q * 3 + q] - a[p * 3 + p]) / (2 * apq);
      const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
      const c = 1 / Math.sqrt(t * t + 1);
      const s = t * c;
      for (let k = 0; k < 3; k++) {
        const akp = a[k * 3 + p];
        const akq = a[k * 3 + q];
        a[k * 3 + p] = c * akp - s * akq;
        a[k * 3 + q] = s * akp + c * akq;
      }
      for (let k = 0; k < 3; k++) {
        const apk = a[p * 3 + k];
        const aqk = a[q * 3 + k];
        a[p * 3 + k] = c * apk - s * aqk;
        a[q * 3 + k] = s * apk + c * aqk;
      }
      for (let k = 0; k < 3; k++) {
        const vkp = v[k * 3 + p];
        const vkq = v[k * 3 + q];
        v[k * 3 + p] = c * vkp - s * vkq;
        v[k * 3 + q] = s * vkp + c * vkq;
      }
    }
  }
  const order = [0, 1, 2].sort((i, j) => a[j * 3 + j] - a[i * 3 + i]);
  const vectors = new Float64Array(9);
  order.forEach((k, col) => {
    for (let i = 0; i < 3; i++) vectors[i * 3 + col] = v[i * 3 + k];
  });
  return { values: order.map((k) => a[k * 3 + k]), vectors };
}

export interface FourierImageOptions {
  batch: number;
  height: number;
  width: number;
  channels: number;
  seed: number;
  /** Standard deviation of the initial coefficients. */
  sd?: number;
  /** Exponent of the 1/f scaling; 0 is white noise. */
  decayPower?: number;
}

/** Lucid's fft_image divides by 4 so the starting image sits near mid-grey after the sigmoid. */
const IMAGE_GAIN = 0.25;

/**
 * A batch of images parameterised by 2-D real Fourier coefficients scaled by 1/f, rendered with two
 * matrix products per step (image = B_h · (s ⊙ Z) · B_wᵀ per channel) so it runs and differentiates on
 * every backend, including those without FFT kernels. Owns its tensors; call dispose().
 */
export class FourierImage {
  /** Coefficients [height, width, batch * channels], the optimised variable. */
  readonly coefficients: tf.Variable;
  private readonly basisH: tf.Tensor2D;
  private readonly basisW: tf.Tensor2D;
  private readonly scale: tf.Tensor3D;

  constructor(readonly options: FourierImageOptions) {
    const { batch, height, width, channels, seed, sd = 0.01, decayPower = 1 } = options;
    const random = createRng(seed);
    const init = new Float32Array(height * width * batch * channels);
    for (let i = 0; i < init.length; i++) init[i] = sd * gaussian(random);
    this.coefficients = tf.tidy(() => tf.variable(tf.tensor3d(init, [height, width, batch * channels]), true));
    this.basisH = tf.tensor2d(fourierBasis(height), [height, height]);
    this.basisW = tf.tensor2d(fourierBasis(width), [width, width]);
    const scale = spectrumScale(height, width, decayPower).map((s) => s * IMAGE_GAIN);
    this.scale = tf.tensor3d(scale, [height, width, 1]);
  }

  /** Pre-sigmoid pixel values as rows [height * width, batch * channels] (row-major pixels). */
  rows(): tf.Tensor2D {
    return tf.tidy(() => {
      const { height: h, width: w, batch, channels } = this.options;
      const bc = batch * channels;
      const scaled = tf.mul(this.coefficients, this.scale);
      // Along y: [h, w*bc] = B_h · Z.
      const alongY = tf.matMul(this.basisH, tf.reshape(scaled, [h, w * bc]));
      // Along x: bring the x-frequency axis last, then [h*bc, w] = · B_wᵀ.
      const xLast = tf.reshape(tf.transpose(tf.reshape(alongY, [h, w, bc]), [0, 2, 1]), [h * bc, w]);
      const image = tf.matMul(xLast, this.basisW, false, true);
      return tf.reshape(tf.transpose(tf.reshape(image, [h, bc, w]), [0, 2, 1]), [h * w, bc]) as tf.Tensor2D;
    });
  }

  dispose(): void {
    tf.dispose([this.coefficients, this.basisH, this.basisW, this.scale]);
  }
}

/**
 * Pixel rows [H*W, B*C] (pre-sigmoid, decorrelated colour) to images [B, H, W, C] in [0, 1]: the colour
 * basis maps decorrelated to RGB (skipped for grayscale), then a sigmoid squashes.
 */
export function rowsToImages(rows: tf.Tensor2D, height: number, width: number, channels: number, colour: tf.Tensor2D | null): tf.Tensor4D {
  return tf.tidy(() => {
    const batch = rows.shape[1] / channels;
    let images = tf.transpose(tf.reshape(rows, [height, width, batch, channels]), [2, 0, 1, 3]);
    if (colour && channels === 3) {
      images = tf.reshape(tf.matMul(tf.reshape(images, [-1, 3]), colour, false, true), [batch, height, width, 3]);
    }
    return tf.sigmoid(images) as tf.Tensor4D;
  });
}
