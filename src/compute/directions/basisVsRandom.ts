import { createRng, gaussian } from '../../lib/rng';
import { columnMeans, orthonormaliseColumns } from '../pca';
import { conceptScores } from './cav';
import { checkTable, cosine, dotRow, unitVector } from './vectors';

/** k seeded directions drawn uniformly on the unit sphere (normalised Gaussians), k x dim row-major. */
export function randomUnitDirections(dim: number, k: number, seed: number): Float32Array {
  const random = createRng(seed);
  const out = new Float32Array(k * dim);
  for (let r = 0; r < k; r++) out.set(unitVector(Array.from({ length: dim }, () => gaussian(random))), r * dim);
  return out;
}

/**
 * A seeded Haar-distributed (uniform) random rotation, dim x dim row-major with orthonormal rows and columns:
 * the Q of a QR of a Gaussian matrix. Gram–Schmidt gives the QR whose R has a positive diagonal, which is
 * the sign correction that makes Q Haar rather than biased (Mezzadri 2007).
 */
export function randomRotation(dim: number, seed: number): Float64Array {
  return randomRotationColumns(dim, dim, seed);
}

/**
 * The first `count` columns of `randomRotation(dim, seed)`, dim x count row-major. Gram–Schmidt's column c
 * depends only on the Gaussian columns up to c, so these are exactly the full rotation's first columns, at
 * O(dim count^2) instead of O(dim^3).
 */
export function randomRotationColumns(dim: number, count: number, seed: number): Float64Array {
  if (!Number.isInteger(count) || count < 1 || count > dim) throw new Error(`randomRotationColumns: count must be 1 to ${dim}, got ${count}.`);
  const random = createRng(seed);
  const columns = Float64Array.from({ length: dim * count }, () => gaussian(random));
  orthonormaliseColumns(columns, dim, count);
  const rotation = new Float64Array(dim * count);
  for (let c = 0; c < count; c++) for (let i = 0; i < dim; i++) rotation[i * count + c] = columns[c * dim + i];
  return rotation;
}

/**
 * Rows expressed in a rotated basis: out_i = x_i Q, so column j of the result is the projection on Q's column j.
 * Q is dim x width (width = dim for a whole rotation, fewer for its first columns).
 */
export function rotateRows(values: Float32Array, n: number, dim: number, rotation: Float64Array, width = dim): Float32Array {
  checkTable('rotateRows', values, n, dim);
  if (rotation.length !== dim * width) throw new Error(`rotateRows: the rotation has ${rotation.length} values, expected ${dim} x ${width}.`);
  const out = new Float32Array(n * width);
  const row = new Float64Array(width);
  for (let i = 0; i < n; i++) {
    row.fill(0);
    for (let k = 0; k < dim; k++) {
      const x = values[i * dim + k];
      if (x === 0) continue;
      for (let j = 0; j < width; j++) row[j] += x * rotation[k * width + j];
    }
    out.set(row, i * width);
  }
  return out;
}

/** Row indices of the topN largest projections on `direction`, largest first (ties by row index). */
export function topByDirection(values: Float32Array, n: number, dim: number, direction: ArrayLike<number>, topN: number): Int32Array {
  return topRows(conceptScores(values, n, dim, direction), topN);
}

/** Share of the most common label among the rows; rows labelled -1 are ignored, NaN when none is labelled. */
export function labelPurity(rows: ArrayLike<number>, labels: ArrayLike<number>): number {
  const counts = new Map<number, number>();
  let labelled = 0;
  for (let i = 0; i < rows.length; i++) {
    const label = labels[rows[i]];
    if (label < 0) continue;
    labelled++;
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  return labelled === 0 ? NaN : Math.max(...counts.values()) / labelled;
}

/**
 * Coefficient of variation (population std / |mean|) of the rows' projections on the direction: near 0
 * when the top rows respond alike, large when a few dominate or the mean is near 0. Row width is direction.length.
 */
export function activationSpread(values: Float32Array, rows: ArrayLike<number>, direction: ArrayLike<number>): number {
  const dim = direction.length;
  let sum = 0;
  let sumSquares = 0;
  for (let i = 0; i < rows.length; i++) {
    const projection = dotRow(values, rows[i], dim, direction);
    sum += projection;
    sumSquares += projection * projection;
  }
  const mean = sum / rows.length;
  const std = Math.sqrt(Math.max(0, sumSquares / rows.length - mean * mean));
  return std / Math.abs(mean);
}

/**
 * Mean pairwise cosine similarity of the chosen rows after centring on the mean of all n rows: near 1 when
 * a direction's top rows share one pattern, near 0 when they only share the direction among unrelated ones.
 * `centre` is that mean (columnMeans), for a caller that scores many directions of one table.
 */
export function directionCoherence(
  values: Float32Array,
  n: number,
  dim: number,
  rows: ArrayLike<number>,
  centre?: ArrayLike<number>,
): number {
  checkTable('directionCoherence', values, n, dim);
  const mean = centre ?? columnMeans(values, n, dim);
  const centred = Array.from(rows, (row) => Float64Array.from({ length: dim }, (_, j) => values[row * dim + j] - mean[j]));
  let sum = 0;
  let pairs = 0;
  for (let a = 0; a < centred.length; a++) {
    for (let b = a + 1; b < centred.length; b++) {
      sum += cosine(centred[a], centred[b]);
      pairs++;
    }
  }
  return pairs === 0 ? NaN : sum / pairs;
}

/**
 * Network Dissection's question, basis against rotation (Bau et al. 2017, §3.2): the fraction of the dim
 * directions, the coordinate axes or, with `rotation`, its columns, whose topN rows reach `threshold` label purity.
 */
export function dissectionRate(
  values: Float32Array,
  n: number,
  dim: number,
  labels: ArrayLike<number>,
  rotation: Float64Array | null,
  threshold: number,
  topN: number,
): number {
  checkTable('dissectionRate', values, n, dim);
  const coordinates = rotation ? rotateRows(values, n, dim, rotation) : values;
  const column = new Float32Array(n);
  let passed = 0;
  for (let j = 0; j < dim; j++) {
    for (let i = 0; i < n; i++) column[i] = coordinates[i * dim + j];
    if (labelPurity(topRows(column, topN), labels) >= threshold) passed++;
  }
  return passed / dim;
}

function topRows(scores: Float32Array, topN: number): Int32Array {
  const order = Int32Array.from({ length: scores.length }, (_, i) => i);
  order.sort((a, b) => scores[b] - scores[a] || a - b);
  return order.slice(0, Math.min(topN, scores.length));
}
