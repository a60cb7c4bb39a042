import { describe, expect, it } from 'vitest';
import { reducePca, symmetricEigen } from '../../src/compute/pca';
import { createRng, gaussian } from '../../src/lib/rng';

/** n x d rows = offset + latent (n x r, decreasing scales) * orthonormal-ish loadings + small noise. */
function plantedLowRank(n: number, d: number, scales: number[], noise: number, seed: number) {
  const random = createRng(seed);
  const r = scales.length;
  const loadings = new Float64Array(r * d);
  for (let i = 0; i < loadings.length; i++) loadings[i] = gaussian(random) / Math.sqrt(d);
  const latent = new Float64Array(n * r);
  const data = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < r; c++) latent[i * r + c] = gaussian(random) * scales[c];
    for (let j = 0; j < d; j++) {
      let x = 5 + noise * gaussian(random);
      for (let c = 0; c < r; c++) x += latent[i * r + c] * loadings[c * d + j];
      data[i * d + j] = x;
    }
  }
  return { data, latent };
}

/** Fraction of the variance of `target` explained by a least-squares fit on the columns of `scores`. */
function explained(scores: Float32Array, n: number, k: number, target: (i: number) => number): number {
  // Normal equations on k columns: small and well-conditioned here.
  const ata = new Float64Array(k * k);
  const atb = new Float64Array(k);
  let mean = 0;
  for (let i = 0; i < n; i++) mean += target(i) / n;
  for (let i = 0; i < n; i++) {
    const y = target(i) - mean;
    for (let a = 0; a < k; a++) {
      atb[a] += scores[i * k + a] * y;
      for (let b = 0; b < k; b++) ata[a * k + b] += scores[i * k + a] * scores[i * k + b];
    }
  }
  const { values, vectors } = symmetricEigen(ata, k);
  const coef = new Float64Array(k);
  for (let e = 0; e < k; e++) {
    if (values[e] <= 1e-12) continue;
    let proj = 0;
    for (let a = 0; a < k; a++) proj += vectors[a * k + e] * atb[a];
    for (let a = 0; a < k; a++) coef[a] += (vectors[a * k + e] * proj) / values[e];
  }
  let ssRes = 0;
  let ssTot = 0;
  for (let i = 0; i < n; i++) {
    const y = target(i) - mean;
    let fit = 0;
    for (let a = 0; a < k; a++) fit += coef[a] * scores[i * k + a];
    ssRes += (y - fit) ** 2;
    ssTot += y * y;
  }
  return 1 - ssRes / ssTot;
}

describe('reducePca', () => {
  it('recovers a planted low-rank structure in a wide table, ordered by variance', () => {
    const n = 600;
    const d = 200;
    const scales = [10, 6, 3];
    const { data, latent } = plantedLowRank(n, d, scales, 0.05, 1);
    const k = 3;
    const scores = reducePca(data, n, d, k, 7);
    expect(scores.length).toBe(n * k);
    expect(scores.every(Number.isFinite)).toBe(true);
    for (let c = 0; c < 3; c++) {
      expect(explained(scores, n, k, (i) => latent[i * 3 + c])).toBeGreaterThan(0.99);
    }
    const variance = [0, 1, 2].map((c) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += scores[i * k + c] ** 2;
      return s / n;
    });
    expect(variance[0]).toBeGreaterThan(variance[1]);
    expect(variance[1]).toBeGreaterThan(variance[2]);
  });

  it('returns centred scores', () => {
    const { data } = plantedLowRank(300, 40, [4, 2], 0.5, 2);
    const scores = reducePca(data, 300, 40, 5, 3);
    for (let c = 0; c < 5; c++) {
      let s = 0;
      for (let i = 0; i < 300; i++) s += scores[i * 5 + c];
      expect(Math.abs(s / 300)).toBeLessThan(1e-3);
    }
  });

  it('caps k at d and is exact when the subspace spans the data', () => {
    const { data, latent } = plantedLowRank(200, 6, [5, 1], 0.01, 3);
    const scores = reducePca(data, 200, 6, 10, 1);
    expect(scores.length).toBe(200 * 6);
    expect(scores.every(Number.isFinite)).toBe(true);
    expect(explained(scores.subarray(0), 200, 6, (i) => latent[i * 2])).toBeGreaterThan(0.999);
  });

  it('is deterministic for a seed', () => {
    const { data } = plantedLowRank(200, 80, [3, 2, 1], 0.3, 4);
    expect(reducePca(data, 200, 80, 4, 11)).toEqual(reducePca(data, 200, 80, 4, 11));
  });
});
