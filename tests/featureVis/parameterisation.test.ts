import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { chooseBackend } from '../../src/model/backend';
import { basisFrequencies, colourBasisFromImages, fourierBasis, FourierImage, rowsToImages, spectrumScale } from '../../src/featureVis/parameterisation';
import { createRng, gaussian } from '../../src/lib/rng';

beforeAll(async () => {
  await chooseBackend({ node: true });
});

describe('real Fourier basis', () => {
  it.each([6, 7])('is orthonormal for n = %i, with frequencies 0, 1/n, 1/n, 2/n, ...', (n) => {
    const b = fourierBasis(n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let dot = 0;
        for (let x = 0; x < n; x++) dot += b[x * n + i] * b[x * n + j];
        expect(dot).toBeCloseTo(i === j ? 1 : 0, 5);
      }
    }
    const f = Array.from(basisFrequencies(n), (v) => Math.round(v * n));
    expect(f).toEqual(n === 6 ? [0, 1, 1, 2, 2, 3] : [0, 1, 1, 2, 2, 3, 3]);
  });

  it('column k oscillates at its frequency: cos/sin pairs repeat every n/f pixels', () => {
    const n = 8;
    const b = fourierBasis(n);
    // Column 3 is cos at f = 2: period 4.
    for (let x = 0; x < 4; x++) expect(b[x * n + 3]).toBeCloseTo(b[(x + 4) * n + 3], 6);
  });
});

describe('1/f spectrum scale', () => {
  it('is 1/f above the floor, max(h, w) at the constant term, and falls with frequency', () => {
    const h = 8;
    const w = 10;
    const s = spectrumScale(h, w);
    const fy = basisFrequencies(h);
    const fx = basisFrequencies(w);
    expect(s[0]).toBeCloseTo(10, 5);
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        const f = Math.hypot(fy[i], fx[j]);
        if (f > 0) expect(s[i * w + j] * f).toBeCloseTo(1, 5);
      }
    }
    expect(s[7 * w + 9]).toBeLessThan(s[1 * w + 1]);
    expect(spectrumScale(4, 4, 0).every((v) => v === 1)).toBe(true);
  });
});

describe('FourierImage', () => {
  it('renders rows = B_h (s * Z) B_w^T / 4 per channel, and leaks nothing', () => {
    const before = tf.memory().numTensors;
    const [h, w, batch, ch] = [5, 6, 2, 3];
    const image = new FourierImage({ batch, height: h, width: w, channels: ch, seed: 3, sd: 1 });
    const rows = image.rows();
    expect(rows.shape).toEqual([h * w, batch * ch]);
    const got = rows.dataSync();
    const z = image.coefficients.dataSync();
    const bh = fourierBasis(h);
    const bw = fourierBasis(w);
    const s = spectrumScale(h, w);
    const bc = batch * ch;
    for (const [y, x, c] of [[0, 0, 0], [2, 3, 4], [4, 5, 5]]) {
      let v = 0;
      for (let ky = 0; ky < h; ky++) for (let kx = 0; kx < w; kx++) v += bh[y * h + ky] * bw[x * w + kx] * s[ky * w + kx] * z[(ky * w + kx) * bc + c];
      expect(got[(y * w + x) * bc + c]).toBeCloseTo(v / 4, 4);
    }
    rows.dispose();
    image.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('is seeded: the same seed starts from the same coefficients', () => {
    const a = new FourierImage({ batch: 1, height: 4, width: 4, channels: 1, seed: 9 });
    const b = new FourierImage({ batch: 1, height: 4, width: 4, channels: 1, seed: 9 });
    const c = new FourierImage({ batch: 1, height: 4, width: 4, channels: 1, seed: 10 });
    expect(Array.from(a.coefficients.dataSync())).toEqual(Array.from(b.coefficients.dataSync()));
    expect(Array.from(a.coefficients.dataSync())).not.toEqual(Array.from(c.coefficients.dataSync()));
    [a, b, c].forEach((im) => im.dispose());
  });

  it('rowsToImages maps colours through the basis and squashes into (0, 1)', () => {
    const rows = tf.tensor2d([[0, 0, 0], [10, -10, 3]], [2, 3]);
    const identity = tf.eye(3) as tf.Tensor2D;
    const images = rowsToImages(rows, 1, 2, 3, identity);
    const v = images.dataSync();
    expect(images.shape).toEqual([1, 1, 2, 3]);
    expect(v[0]).toBeCloseTo(0.5, 6);
    expect(v[3]).toBeGreaterThan(0.99);
    expect(v[4]).toBeLessThan(0.01);
    tf.dispose([rows, identity, images]);
  });
});

describe('colourBasisFromImages', () => {
  it('is a square root of the colour covariance, scaled so its longest column is 1', () => {
    const random = createRng(4);
    const n = 2000;
    const data = new Uint8Array(n * 3);
    for (let p = 0; p < n; p++) {
      const g = gaussian(random) * 30;
      data[p * 3] = 128 + g + gaussian(random) * 5;
      data[p * 3 + 1] = 120 + g * 0.9 + gaussian(random) * 5;
      data[p * 3 + 2] = 110 + g * 0.7 + gaussian(random) * 10;
    }
    const m = colourBasisFromImages([{ width: n, height: 1, channels: 3, data }]);
    const cov = [0, 0, 0, 0, 0, 0, 0, 0, 0];
    const mean = [0, 1, 2].map((c) => data.filter((_, i) => i % 3 === c).reduce((a, b) => a + b, 0) / n / 255);
    for (let p = 0; p < n; p++) for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) cov[i * 3 + j] += ((data[p * 3 + i] / 255 - mean[i]) * (data[p * 3 + j] / 255 - mean[j])) / n;
    // M Mᵀ is the covariance up to one scale factor.
    const mmt = [0, 1, 2, 3, 4, 5, 6, 7, 8].map((k) => [0, 1, 2].reduce((s, c) => s + m[Math.floor(k / 3) * 3 + c] * m[(k % 3) * 3 + c], 0));
    const ratio = mmt[0] / cov[0];
    mmt.forEach((v, k) => expect(v).toBeCloseTo(cov[k] * ratio, 3));
    const longest = Math.max(...[0, 1, 2].map((c) => Math.hypot(m[c], m[3 + c], m[6 + c])));
    expect(longest).toBeCloseTo(1, 5);
  });

  it('is the identity without RGB images', () => {
    expect(Array.from(colourBasisFromImages([{ width: 2, height: 1, channels: 1, data: new Uint8Array(2) }]))).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
  });
});
