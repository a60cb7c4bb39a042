import { createRng, gaussian } from '../../../src/lib/rng';

/** A seeded random unit vector of length dim. */
export function plantedDirection(dim: number, random: () => number): Float64Array {
  const v = Float64Array.from({ length: dim }, () => gaussian(random));
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

/** n x dim rows: offset + shift * direction + isotropic Gaussian noise of the given scale. */
export function shiftedRows(
  n: number,
  dim: number,
  offset: ArrayLike<number>,
  direction: ArrayLike<number>,
  shift: number,
  noise: number,
  random: () => number,
): Float32Array {
  const rows = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) rows[i * dim + j] = offset[j] + shift * direction[j] + noise * gaussian(random);
  }
  return rows;
}

/** Concept rows (shifted by `shift` along a planted direction) and negatives around a common random offset. */
export function plantedConcept(nPos: number, nNeg: number, dim: number, shift: number, seed: number) {
  const random = createRng(seed);
  const direction = plantedDirection(dim, random);
  const offset = Float64Array.from({ length: dim }, () => 3 * gaussian(random));
  const pos = shiftedRows(nPos, dim, offset, direction, shift, 1, random);
  const neg = shiftedRows(nNeg, dim, offset, direction, 0, 1, random);
  return { direction, pos, neg, random };
}

/** Isotropic Gaussian rows labelled by their largest coordinate: each label drives one coordinate (a structure aligned with the basis). */
export function basisAligned(n: number, dim: number, seed: number) {
  const random = createRng(seed);
  const values = Float32Array.from({ length: n * dim }, () => gaussian(random));
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 1; j < dim; j++) if (values[i * dim + j] > values[i * dim + labels[i]]) labels[i] = j;
  }
  return { values, labels };
}
