import { describe, expect, it } from 'vitest';
import { knnRecall, layoutQuality, trustworthiness, tsneKl } from '../../src/compute/quality';
import { createRng, gaussian } from '../../src/lib/rng';

describe('layoutQuality', () => {
  const random = createRng(1);
  const n = 400;
  // Planar data embedded in 5-D: a faithful layout exists.
  const plane = new Float32Array(n * 2);
  const data = new Float32Array(n * 5);
  for (let i = 0; i < n; i++) {
    plane[2 * i] = gaussian(random);
    plane[2 * i + 1] = gaussian(random);
    data[i * 5] = plane[2 * i] + plane[2 * i + 1];
    data[i * 5 + 1] = plane[2 * i] - plane[2 * i + 1];
    data[i * 5 + 2] = 3;
  }
  const shuffled = new Float32Array(n * 2);
  for (let i = 0; i < 2 * n; i++) shuffled[i] = gaussian(random);

  it('scores a faithful layout 1 and a random one near chance', () => {
    const [faithful, noise] = layoutQuality(data, n, 5, [plane, shuffled], { k: 10 });
    expect(faithful.trustworthiness).toBeCloseTo(1, 6);
    expect(faithful.recall).toBeCloseTo(1, 6);
    expect(noise.trustworthiness).toBeLessThan(0.6);
    expect(noise.recall).toBeLessThan(0.1);
    expect(faithful.queries).toBe(n);
  });

  it('estimates the same figures from a seeded sample of query points', () => {
    const full = trustworthiness(data, n, 5, shuffled, { k: 10 });
    const sampled = layoutQuality(data, n, 5, [shuffled], { k: 10, sampleSize: 150, seed: 2 })[0];
    expect(sampled.queries).toBe(150);
    expect(Math.abs(sampled.trustworthiness - full)).toBeLessThan(0.05);
    expect(knnRecall(data, n, 5, plane, { k: 10, sampleSize: 50 })).toBeCloseTo(1, 6);
  });
});

describe('tsneKl', () => {
  it('is lower for a faithful layout than for a random one, and never negative', async () => {
    const random = createRng(3);
    const n = 200;
    const layout = new Float32Array(n * 2);
    const data = new Float32Array(n * 3);
    for (let i = 0; i < n; i++) {
      const c = i % 2;
      layout[2 * i] = 20 * c + gaussian(random);
      layout[2 * i + 1] = gaussian(random);
      data[i * 3] = layout[2 * i];
      data[i * 3 + 1] = layout[2 * i + 1];
    }
    const noise = new Float32Array(n * 2).map(() => 10 * gaussian(random));
    const good = await tsneKl(data, n, 3, layout, { perplexity: 15 });
    const bad = await tsneKl(data, n, 3, noise, { perplexity: 15 });
    expect(good).toBeGreaterThanOrEqual(0);
    expect(good).toBeLessThan(bad);
  });
});
