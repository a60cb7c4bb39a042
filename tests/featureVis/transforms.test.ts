import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { chooseBackend } from '../../src/model/backend';
import { createRng } from '../../src/lib/rng';
import {
  denseResampleMatrix,
  IDENTITY_TRANSFORM,
  resampleMode,
  resampleRows,
  resampleTaps,
  sampleTransform,
  weakenTransform,
  type SampledTransform,
} from '../../src/featureVis/transforms';

beforeAll(async () => {
  await chooseBackend({ node: true });
});

/** Applies the dense matrix in JS to a one-channel h x w image. */
function applyDense(t: SampledTransform, image: number[], h: number, w: number, outH = h, outW = w): number[] {
  const m = denseResampleMatrix(resampleTaps(t, h, w, outH, outW));
  return Array.from({ length: outH * outW }, (_, p) => image.reduce((s, v, q) => s + m[p * h * w + q] * v, 0));
}

const tiny = [1, 2, 3, 4, 5, 6, 7, 8, 9]; // 3 x 3, row-major

describe('dense bilinear resampling', () => {
  it('is the identity for the identity transform', () => {
    expect(applyDense(IDENTITY_TRANSFORM, tiny, 3, 3)).toEqual(tiny);
  });

  it('shifts by whole pixels, reading mid-grey (0 before the sigmoid) from outside', () => {
    const right = applyDense({ ...IDENTITY_TRANSFORM, dx: 1 }, tiny, 3, 3);
    expect(right).toEqual([2, 3, 0, 5, 6, 0, 8, 9, 0]);
    const down = applyDense({ ...IDENTITY_TRANSFORM, dy: -1 }, tiny, 3, 3);
    expect(down).toEqual([0, 0, 0, 1, 2, 3, 4, 5, 6]);
  });

  it('turns a quarter turn about the centre', () => {
    const turned = applyDense({ ...IDENTITY_TRANSFORM, angle: Math.PI / 2 }, tiny, 3, 3);
    // out(u, v) reads in(x = c - (v - c), y = c + (u - c)): the right column becomes the top row.
    [3, 6, 9, 2, 5, 8, 1, 4, 7].forEach((v, k) => expect(turned[k]).toBeCloseTo(v, 6));
  });

  it('interpolates half-pixel shifts and keeps each row a convex combination', () => {
    const half = applyDense({ ...IDENTITY_TRANSFORM, scale: 2 }, [0, 0, 0, 0, 8, 0, 0, 0, 0], 3, 3);
    // Zoom 2 about the centre: corners read (0.5, 0.5) away from the centre, a quarter of the peak.
    expect(half[0]).toBeCloseTo(2, 6);
    expect(half[4]).toBeCloseTo(8, 6);
    const m = denseResampleMatrix(resampleTaps(sampleTransform(createRng(1), { angles: [13] }, 5), 5, 5, 5, 5));
    for (let p = 0; p < 25; p++) {
      const row = m.subarray(p * 25, (p + 1) * 25);
      expect(row.every((v) => v >= 0)).toBe(true);
      expect(row.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1 + 1e-6);
    }
  });

  it('maps an image of one size onto another (the view fills the output)', () => {
    const up = applyDense(IDENTITY_TRANSFORM, [1, 2, 3, 4], 2, 2, 4, 4);
    expect(up[0]).toBeLessThan(up[3]);
    // Output pixel (1, 1) reads source (0.25, 0.25): 1·9/16 + 2·3/16 + 3·3/16 + 4·1/16.
    expect(up[5]).toBeCloseTo(1.75, 5);
  });
});

describe('resampleRows', () => {
  it('gather and dense forms agree in value and gradient, on every call leak-free', () => {
    const taps = resampleTaps(sampleTransform(createRng(2), { angles: [-8] }, 7), 7, 6, 8, 9);
    const x = tf.tensor2d(Array.from({ length: 42 * 3 }, (_, i) => Math.sin(i)), [42, 3]);
    const w = tf.tensor2d(Array.from({ length: 72 * 3 }, (_, i) => Math.cos(i)), [72, 3]);
    const before = tf.memory().numTensors;
    const run = (mode: 'dense' | 'gather') =>
      tf.tidy(() => [resampleRows(x, taps, mode).dataSync(), tf.grad((z: tf.Tensor) => tf.sum(tf.mul(resampleRows(z as tf.Tensor2D, taps, mode), w)))(x).dataSync()]);
    const [dv, dg] = run('dense');
    const [gv, gg] = run('gather');
    dv.forEach((v, i) => expect(gv[i]).toBeCloseTo(v, 5));
    dg.forEach((v, i) => expect(gg[i]).toBeCloseTo(v, 5));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, w]);
  });

  it('uses the dense form for small images only', () => {
    expect(resampleMode({ inHeight: 28, inWidth: 28, outHeight: 28, outWidth: 28 })).toBe('dense');
    expect(resampleMode({ inHeight: 128, inWidth: 128, outHeight: 224, outWidth: 224 })).toBe('gather');
  });

  it('weakens a transform towards the identity', () => {
    const t: SampledTransform = { dx: 3, dy: -2, scale: 1.1, angle: 0.2, pad: 0.05 };
    expect(weakenTransform(t, 1)).toBe(t);
    expect(weakenTransform(t, 0)).toEqual({ dx: 0, dy: -0, scale: 1, angle: 0, pad: 0 });
    expect(weakenTransform(t, 0.5)).toMatchObject({ dx: 2, dy: -1, angle: 0.1 });
    expect(weakenTransform(t, 0.5).scale).toBeCloseTo(1.05, 10);
  });

  it('draws seeded transforms within the configured ranges', () => {
    const a = sampleTransform(createRng(7), { jitter: 0.1, scales: [0.9, 1.1], angles: [-5, 5] }, 40);
    const b = sampleTransform(createRng(7), { jitter: 0.1, scales: [0.9, 1.1], angles: [-5, 5] }, 40);
    expect(a).toEqual(b);
    for (let s = 0; s < 50; s++) {
      const t = sampleTransform(createRng(s), { jitter: 0.1, scales: [0.9, 1.1], angles: [-5, 5] }, 40);
      expect(Math.abs(t.dx)).toBeLessThanOrEqual(4);
      expect([0.9, 1.1]).toContain(t.scale);
      expect(Math.abs(t.angle)).toBeCloseTo((5 * Math.PI) / 180, 8);
    }
  });
});
