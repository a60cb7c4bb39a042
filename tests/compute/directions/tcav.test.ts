import { describe, expect, it } from 'vitest';
import { conceptRuns, randomConcepts, tcavScore, tcavTest } from '../../../src/compute/directions/tcav';
import { cosine } from '../../../src/compute/directions/vectors';
import { createRng, gaussian } from '../../../src/lib/rng';
import { plantedDirection, shiftedRows } from './planted';

// In more dimensions a random direction is nearly orthogonal to w, so random scores gather near 0.5.
const DIM = 64;
const SEEDS = Array.from({ length: 20 }, (_, k) => k + 1);

/**
 * A class whose logit rises along a planted direction w: gradients are w plus noise, concept rows are
 * negatives shifted along w, so the concept's CAV points along w and drives the class.
 */
function drivenClass(seed: number) {
  const random = createRng(seed);
  const w = plantedDirection(DIM, random);
  const zero = new Float64Array(DIM);
  const gradients = shiftedRows(100, DIM, zero, w, 1, 0.5, random);
  const neg = shiftedRows(200, DIM, zero, w, 0, 1, random);
  const pos = shiftedRows(50, DIM, zero, w, 3, 1, random);
  return { w, gradients, pos, neg, random };
}

describe('tcavScore', () => {
  it('counts the rows with a positive directional derivative', () => {
    const gradients = Float32Array.of(1, 0, -1, 0, 2, 1, 0.5, -3);
    expect(tcavScore(gradients, 4, 2, [1, 0])).toBe(0.75);
    expect(tcavScore(gradients, 4, 2, [0, 1])).toBe(0.25);
  });
});

describe('conceptRuns and randomConcepts', () => {
  it('learn concept CAVs along the planted direction and random CAVs that are not', () => {
    const { w, pos, neg } = drivenClass(1);
    const runs = conceptRuns(pos, 50, neg, 200, DIM, 5, 7, 'logistic');
    const random = randomConcepts(neg, 200, DIM, 50, 5, 7, 'logistic');
    for (let k = 0; k < 5; k++) {
      // 50 + 50 rows in 64 dimensions: a noisy fit, but far from the ~0.13 spread of a random direction's cosine.
      expect(cosine(runs.subarray(k * DIM, k * DIM + DIM), w)).toBeGreaterThan(0.6);
      expect(Math.abs(cosine(random.subarray(k * DIM, k * DIM + DIM), w))).toBeLessThan(0.5);
    }
  });

  it('are deterministic by seed', () => {
    const { pos, neg } = drivenClass(2);
    const runs = (seed: number) => conceptRuns(pos, 50, neg, 200, DIM, 3, seed, 'difference-of-means');
    const random = (seed: number) => randomConcepts(neg, 200, DIM, 50, 3, seed, 'difference-of-means');
    expect(runs(5)).toEqual(runs(5));
    expect(runs(5)).not.toEqual(runs(6));
    expect(random(5)).toEqual(random(5));
    expect(random(5)).not.toEqual(random(6));
  });
});

describe('tcavTest', () => {
  it('finds a concept that drives the class significant, and a random concept not, in >= 90% of 20 seeds', () => {
    let driving = 0;
    let randomPass = 0;
    for (const seed of SEEDS) {
      const { gradients, pos, neg } = drivenClass(seed);
      const reference = randomConcepts(neg, 200, DIM, 50, 20, seed, 'difference-of-means');
      const concept = conceptRuns(pos, 50, neg, 200, DIM, 10, seed + 1000, 'difference-of-means');
      const nullConcept = randomConcepts(neg, 200, DIM, 50, 10, seed + 2000, 'difference-of-means');
      const test = (c: Float32Array) => tcavTest({ gradients, n: 100, dim: DIM, concept: c, randomConcepts: reference, classesTested: 2 });
      const real = test(concept);
      if (real.significant && real.score > real.randomMean) driving++;
      if (!test(nullConcept).significant) randomPass++;
    }
    expect(driving).toBeGreaterThanOrEqual(18);
    expect(randomPass).toBeGreaterThanOrEqual(18);
  });

  it('places a single concept CAV in the random scores distribution, in >= 90% of 20 seeds', () => {
    let driving = 0;
    let randomPass = 0;
    for (const seed of SEEDS) {
      const { w, gradients, neg, random } = drivenClass(seed);
      const reference = randomConcepts(neg, 200, DIM, 50, 20, seed, 'difference-of-means');
      const noisyW = Float32Array.from(w, (x) => x + 0.1 * gaussian(random));
      const real = tcavTest({ gradients, n: 100, dim: DIM, concept: noisyW, randomConcepts: reference });
      if (real.significant) driving++;
      const single = randomConcepts(neg, 200, DIM, 50, 1, seed + 3000, 'difference-of-means');
      if (!tcavTest({ gradients, n: 100, dim: DIM, concept: single, randomConcepts: reference }).significant) randomPass++;
    }
    expect(driving).toBeGreaterThanOrEqual(18);
    expect(randomPass).toBeGreaterThanOrEqual(18);
  });

  it('reports the scores it compared and applies Bonferroni', () => {
    const { gradients, pos, neg } = drivenClass(3);
    const reference = randomConcepts(neg, 200, DIM, 50, 10, 3, 'difference-of-means');
    const concept = conceptRuns(pos, 50, neg, 200, DIM, 4, 3, 'difference-of-means');
    const result = tcavTest({ gradients, n: 100, dim: DIM, concept, randomConcepts: reference, alpha: 0.05, classesTested: 1e12 });
    expect(result.conceptScores).toHaveLength(4);
    expect(result.randomScores).toHaveLength(10);
    expect(result.score).toBeCloseTo(result.conceptScores.reduce((a, b) => a + b) / 4, 12);
    expect(result.p).toBeLessThan(0.05);
    expect(result.significant).toBe(result.p < 0.05 / 1e12);
  });

  it('refuses fewer than two random concepts', () => {
    const gradients = new Float32Array(4 * DIM);
    expect(() => tcavTest({ gradients, n: 4, dim: DIM, concept: new Float32Array(DIM), randomConcepts: new Float32Array(DIM) })).toThrow(/2 random/);
  });
});
