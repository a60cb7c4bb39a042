import { createRng, gaussian } from '../../lib/rng';

/** Dot product of row `row` of an n x dim row-major table with `direction`. */
export function dotRow(values: Float32Array, row: number, dim: number, direction: ArrayLike<number>): number {
  const offset = row * dim;
  let sum = 0;
  for (let j = 0; j < dim; j++) sum += values[offset + j] * direction[j];
  return sum;
}

/** `vector` scaled to unit length as a Float32Array; all zeros when it has no length. */
export function unitVector(vector: ArrayLike<number>): Float32Array {
  let norm = 0;
  for (let j = 0; j < vector.length; j++) norm += vector[j] * vector[j];
  norm = Math.sqrt(norm);
  const out = new Float32Array(vector.length);
  if (norm > 0) for (let j = 0; j < vector.length; j++) out[j] = vector[j] / norm;
  return out;
}

/** Cosine similarity of two vectors; 0 when either has no length. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let j = 0; j < a.length; j++) {
    ab += a[j] * b[j];
    aa += a[j] * a[j];
    bb += b[j] * b[j];
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}

/** The chosen rows of an n x dim table, copied into a new rows.length x dim table. */
export function gatherRows(values: Float32Array, rows: ArrayLike<number>, dim: number): Float32Array {
  const out = new Float32Array(rows.length * dim);
  for (let i = 0; i < rows.length; i++) out.set(values.subarray(rows[i] * dim, rows[i] * dim + dim), i * dim);
  return out;
}

/** Fisher–Yates shuffle in place from a seeded uniform source; returns the same array. */
export function shuffle<T extends { length: number; [i: number]: number }>(items: T, random: () => number): T {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const held = items[i];
    items[i] = items[j];
    items[j] = held;
  }
  return items;
}

/** 0, 1, ..., n - 1. */
export function range(n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => i);
}

/** A seeded sample of at most k of 0..n-1, ascending. */
export function samplePoints(n: number, k: number, seed: number): number[] {
  if (n <= k) return Array.from(range(n));
  return Array.from(shuffle(range(n), createRng(seed)).subarray(0, k)).sort((a, b) => a - b);
}

/** Throws unless `values` holds at least n rows of `dim` values. */
export function checkTable(name: string, values: Float32Array, n: number, dim: number): void {
  if (!Number.isInteger(n) || n < 0 || values.length < n * dim) {
    throw new Error(`${name}: table has ${values.length} values, expected ${n} x ${dim}`);
  }
}

/** Basis directions e_c (one per channel), k x D: a neuron's feature visualisation with the same machinery. */
export function neuronDirections(dim: number, channels: number[]): Float32Array {
  const out = new Float32Array(channels.length * dim);
  channels.forEach((c, i) => {
    if (!(c >= 0 && c < dim)) throw new Error(`channel ${c} is outside 0..${dim - 1}`);
    out[i * dim + c] = 1;
  });
  return out;
}

/** Seeded random unit directions, count x D. */
export function randomDirections(dim: number, count: number, seed: number): Float32Array {
  const random = createRng(seed);
  const out = new Float32Array(count * dim);
  for (let i = 0; i < count; i++) {
    let norm = 0;
    for (let j = 0; j < dim; j++) norm += (out[i * dim + j] = gaussian(random)) ** 2;
    norm = Math.sqrt(norm);
    for (let j = 0; j < dim; j++) out[i * dim + j] /= norm;
  }
  return out;
}
