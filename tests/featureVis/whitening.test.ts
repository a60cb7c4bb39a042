import { describe, expect, it } from 'vitest';
import type { ActivationTable } from '../../src/compute/types';
import { createRng, gaussian } from '../../src/lib/rng';
import { invertSpd, whitenDirections, whiteningMatrix } from '../../src/featureVis/whitening';

function table(rows: number, dim: number, seed: number, dead: number[] = []): ActivationTable {
  const random = createRng(seed);
  const values = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const shared = gaussian(random);
    for (let d = 0; d < dim; d++) values[r * dim + d] = dead.includes(d) ? 0 : Math.max(0, shared * (d + 1) * 0.3 + gaussian(random));
  }
  return { layer: 'l', dim, count: rows, values, input: new Uint32Array(rows), position: new Int32Array(rows).fill(-1), positionShape: [], totalBeforeSampling: rows };
}

function covariance(t: ActivationTable): Float64Array {
  const c = new Float64Array(t.dim * t.dim);
  for (let r = 0; r < t.count; r++) {
    for (let i = 0; i < t.dim; i++) for (let j = 0; j < t.dim; j++) c[i * t.dim + j] += (t.values[r * t.dim + i] * t.values[r * t.dim + j]) / t.count;
  }
  return c;
}

describe('whiteningMatrix', () => {
  it('is the inverse of the uncentred covariance when barely regularised, and symmetric', () => {
    const t = table(400, 6, 1);
    const s = whiteningMatrix(t, { regularisation: 1e-9 });
    const c = covariance(t);
    for (let i = 0; i < 6; i++) {
      for (let j = 0; j < 6; j++) {
        let v = 0;
        for (let k = 0; k < 6; k++) v += s[i * 6 + k] * c[k * 6 + j];
        expect(v).toBeCloseTo(i === j ? 1 : 0, 3);
        expect(s[i * 6 + j]).toBeCloseTo(s[j * 6 + i], 5);
      }
    }
  });

  it('stays finite with dead channels and fewer rows than dimensions', () => {
    const s = whiteningMatrix(table(3, 8, 2, [1, 5]));
    expect(s.every(Number.isFinite)).toBe(true);
  });

  it('whitenDirections multiplies each direction by S', () => {
    const t = table(50, 4, 3);
    const s = whiteningMatrix(t);
    const dirs = Float32Array.from([1, 0, 0, 0, 0.5, -1, 2, 0]);
    const out = whitenDirections(dirs, 4, s);
    for (let d = 0; d < 2; d++) {
      for (let i = 0; i < 4; i++) {
        let v = 0;
        for (let j = 0; j < 4; j++) v += s[i * 4 + j] * dirs[d * 4 + j];
        expect(out[d * 4 + i]).toBeCloseTo(v, 4);
      }
    }
    expect(() => whitenDirections(dirs, 4, new Float32Array(9))).toThrow(/expected 4x4/);
  });

  it('invertSpd rejects a matrix that is not positive definite', () => {
    expect(() => invertSpd(Float64Array.from([1, 2, 2, 1]), 2)).toThrow(/not positive definite/);
  });
});
