import { describe, expect, it } from 'vitest';
import { cavAccuracy, conceptScores, differenceOfMeans, logisticCav, type CavMethod } from '../../../src/compute/directions/cav';
import { cosine, shuffle } from '../../../src/compute/directions/vectors';
import { createRng } from '../../../src/lib/rng';
import { plantedConcept } from './planted';

const DIM = 32;
const SEEDS = [1, 2, 3, 4, 5];
const METHODS: CavMethod[] = ['difference-of-means', 'logistic'];

describe('differenceOfMeans', () => {
  it.each(SEEDS)('recovers a planted direction through noise (seed %i)', (seed) => {
    const { direction, pos, neg } = plantedConcept(200, 200, DIM, 3, seed);
    const cav = differenceOfMeans(pos, 200, neg, 200, DIM);
    expect(Math.hypot(...cav)).toBeCloseTo(1, 5);
    expect(cosine(cav, direction)).toBeGreaterThan(0.95);
  });
});

describe('logisticCav', () => {
  it.each(SEEDS)('recovers a planted direction through noise (seed %i)', (seed) => {
    // The logistic fit is the noisier estimator at a given dim / n, hence more rows than above.
    const { direction, pos, neg } = plantedConcept(500, 400, DIM, 3, seed);
    const cav = logisticCav(pos, 500, neg, 400, DIM, { seed });
    expect(Math.hypot(...cav)).toBeCloseTo(1, 5);
    expect(cosine(cav, direction)).toBeGreaterThan(0.95);
  });

  it('maps the standardised fit back to the original space', () => {
    // Rescaling feature j by s_j leaves the standardised problem unchanged, so the CAV becomes S^-1 cav.
    const { pos, neg } = plantedConcept(120, 120, DIM, 2, 9);
    const scale = Float32Array.from({ length: DIM }, (_, j) => 0.1 + j);
    const rescale = (rows: Float32Array) => rows.map((x, k) => x * scale[k % DIM]);
    const cav = logisticCav(pos, 120, neg, 120, DIM);
    const scaled = logisticCav(rescale(pos), 120, rescale(neg), 120, DIM);
    expect(cosine(scaled, cav.map((x, j) => x / scale[j]))).toBeGreaterThan(0.9999);
  });
});

describe('cavAccuracy', () => {
  it.each(METHODS)('is high on separable data and near chance with shuffled labels (%s)', (method) => {
    for (const seed of SEEDS) {
      const { pos, neg } = plantedConcept(100, 100, DIM, 6, seed);
      expect(cavAccuracy(method, pos, neg, DIM, { folds: 5, seed })).toBeGreaterThan(0.95);

      const pooled = new Float32Array([...pos, ...neg]);
      const rows = shuffle(Int32Array.from({ length: 200 }, (_, i) => i), createRng(seed + 100));
      const take = (from: number) => Float32Array.from({ length: 100 * DIM }, (_, k) => pooled[rows[from + Math.floor(k / DIM)] * DIM + (k % DIM)]);
      const chance = cavAccuracy(method, take(0), take(100), DIM, { folds: 5, seed });
      expect(Math.abs(chance - 0.5)).toBeLessThan(0.15);
    }
  });

  it('is balanced: a few concept rows against many negatives score near chance when unrelated, not near the majority share', () => {
    const { pos, neg } = plantedConcept(20, 500, DIM, 6, 7);
    expect(cavAccuracy('difference-of-means', pos, neg, DIM, { folds: 5, seed: 7 })).toBeGreaterThan(0.9);
    const random = createRng(8);
    const noise = (n: number) => Float32Array.from({ length: n * DIM }, () => random() - 0.5);
    // Calling every row negative would be right 500 / 520 = 96% of the time; balanced, it is a coin.
    expect(Math.abs(cavAccuracy('difference-of-means', noise(20), noise(500), DIM, { folds: 5, seed: 7 }) - 0.5)).toBeLessThan(0.15);
  });

  it('refuses too few rows for two folds', () => {
    expect(() => cavAccuracy('logistic', new Float32Array(DIM), new Float32Array(4 * DIM), DIM)).toThrow(/2 folds/);
  });
});

describe('conceptScores', () => {
  it('projects each row on the direction', () => {
    const values = Float32Array.of(1, 2, 3, -1, 0, 4);
    expect(Array.from(conceptScores(values, 2, 3, [0, 0.6, 0.8]))).toEqual([expect.closeTo(3.6, 5), expect.closeTo(3.2, 5)]);
  });
});
