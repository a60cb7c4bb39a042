import { describe, expect, it } from 'vitest';
import {
  activationSpread,
  directionCoherence,
  dissectionRate,
  labelPurity,
  randomRotation,
  randomUnitDirections,
  rotateRows,
  topByDirection,
} from '../../../src/compute/directions/basisVsRandom';
import { createRng, gaussian } from '../../../src/lib/rng';
import { basisAligned } from './planted';

function maxOrthogonalityError(q: Float64Array, dim: number): number {
  let worst = 0;
  for (let a = 0; a < dim; a++) {
    for (let b = 0; b < dim; b++) {
      let columns = 0;
      let rows = 0;
      for (let i = 0; i < dim; i++) {
        columns += q[i * dim + a] * q[i * dim + b];
        rows += q[a * dim + i] * q[b * dim + i];
      }
      const identity = a === b ? 1 : 0;
      worst = Math.max(worst, Math.abs(columns - identity), Math.abs(rows - identity));
    }
  }
  return worst;
}

describe('randomRotation', () => {
  it('is orthogonal to 1e-5 and deterministic by seed', () => {
    for (const dim of [1, 5, 64]) {
      const q = randomRotation(dim, 3);
      expect(maxOrthogonalityError(q, dim)).toBeLessThan(1e-5);
      expect(randomRotation(dim, 3)).toEqual(q);
    }
    expect(randomRotation(5, 4)).not.toEqual(randomRotation(5, 3));
  });

  it('has no sign bias on its diagonal (Haar, not the raw QR)', () => {
    const draws = 400;
    let sum = 0;
    for (let seed = 0; seed < draws; seed++) sum += randomRotation(3, seed)[0];
    // Haar: Q[0][0] has mean 0 and sd 1 / sqrt(3), so the mean of 400 draws has sd ~0.03.
    expect(Math.abs(sum / draws)).toBeLessThan(0.1);
  });
});

describe('randomUnitDirections', () => {
  it('draws seeded unit vectors', () => {
    const directions = randomUnitDirections(10, 4, 1);
    for (let k = 0; k < 4; k++) expect(Math.hypot(...directions.subarray(k * 10, k * 10 + 10))).toBeCloseTo(1, 5);
    expect(randomUnitDirections(10, 4, 1)).toEqual(directions);
    expect(randomUnitDirections(10, 4, 2)).not.toEqual(directions);
  });
});

describe('topByDirection, labelPurity, activationSpread, directionCoherence', () => {
  it('ranks rows as a brute-force sort does', () => {
    const { values } = basisAligned(300, 6, 1);
    const direction = randomUnitDirections(6, 1, 2);
    const projection = (i: number) => direction.reduce((s, v, j) => s + v * values[i * 6 + j], 0);
    const expected = Array.from({ length: 300 }, (_, i) => i).sort((a, b) => projection(b) - projection(a)).slice(0, 10);
    expect(Array.from(topByDirection(values, 300, 6, direction, 10))).toEqual(expected);
  });

  it('computes purity over labelled rows only', () => {
    const labels = Int32Array.of(0, 1, 1, -1, 2, 1);
    expect(labelPurity([0, 1, 2, 3], labels)).toBeCloseTo(2 / 3, 12);
    expect(labelPurity([3], labels)).toBeNaN();
  });

  it('measures the spread of the top projections', () => {
    const values = Float32Array.of(1, 0, 3, 0, 2, 5);
    expect(activationSpread(values, [0, 1], [1, 0])).toBeCloseTo(0.5, 6); // projections 1 and 3
    expect(activationSpread(values, [0, 0], [1, 0])).toBe(0);
  });

  it('finds top rows that share one pattern coherent and unrelated rows not', () => {
    const random = createRng(5);
    const dim = 20;
    const pattern = randomUnitDirections(dim, 1, 6);
    // Rows 0..19 share the pattern; rows 20..219 are background noise.
    const values = Float32Array.from({ length: 220 * dim }, (_, k) => (k < 20 * dim ? 4 * pattern[k % dim] : 0) + 0.3 * gaussian(random));
    expect(directionCoherence(values, 220, dim, Array.from({ length: 20 }, (_, i) => i))).toBeGreaterThan(0.8);
    expect(Math.abs(directionCoherence(values, 220, dim, Array.from({ length: 20 }, (_, i) => 100 + i)))).toBeLessThan(0.1);
  });
});

describe('dissectionRate', () => {
  // 16 dimensions: each top-20 row is then led by one coordinate along an axis, by none along a random direction.
  const n = 4000;
  const dim = 16;
  it.each([1, 2, 3])('finds basis directions purer than random ones, until the data is rotated (seed %i)', (seed) => {
    const { values, labels } = basisAligned(n, dim, seed);
    const rotation = randomRotation(dim, seed + 10);
    const basis = dissectionRate(values, n, dim, labels, null, 0.8, 20);
    const rotated = dissectionRate(values, n, dim, labels, rotation, 0.8, 20);
    expect(basis).toBeGreaterThanOrEqual(0.9);
    expect(rotated).toBeLessThanOrEqual(0.2);

    // Rotate the data, keep the labels: the basis loses its privilege and reads like random directions.
    const scrambled = rotateRows(values, n, dim, randomRotation(dim, seed + 20));
    const basisAfter = dissectionRate(scrambled, n, dim, labels, null, 0.8, 20);
    expect(basisAfter).toBeLessThanOrEqual(0.2);
    expect(Math.abs(basisAfter - dissectionRate(scrambled, n, dim, labels, rotation, 0.8, 20))).toBeLessThanOrEqual(0.2);
  });

  it('gives basis directions purer top rows on average than random directions', () => {
    const { values, labels } = basisAligned(n, dim, 4);
    const purity = (direction: ArrayLike<number>) => labelPurity(topByDirection(values, n, dim, direction, 20), labels);
    const axes = Array.from({ length: dim }, (_, j) => Float32Array.from({ length: dim }, (_, k) => (k === j ? 1 : 0)));
    const randoms = randomUnitDirections(dim, 32, 5);
    const meanAxis = axes.reduce((s, axis) => s + purity(axis), 0) / dim;
    let meanRandom = 0;
    for (let k = 0; k < 32; k++) meanRandom += purity(randoms.subarray(k * dim, k * dim + dim)) / 32;
    expect(meanAxis - meanRandom).toBeGreaterThan(0.3);
  });
});
