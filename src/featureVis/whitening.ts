import type { ActivationTable } from '../compute/types';

export interface WhiteningOptions {
  /** Ridge added to the diagonal, relative to the mean eigenvalue (trace / D); keeps S finite when N < D or channels are dead. */
  regularisation?: number;
  /** Most rows read (evenly spaced); the covariance of a few thousand rows is already stable. */
  maxRows?: number;
}

/**
 * S = (AᵀA / N + λ·tr/D·I)⁻¹, the regularised inverse of the uncentred covariance of the recorded rows
 * (D x D, row-major), as the Activation Atlas whitens directions: dot(h, S v) rewards what is rare in v.
 */
export function whiteningMatrix(table: ActivationTable, options: WhiteningOptions = {}): Float32Array {
  const { dim, count, values } = table;
  if (count === 0) throw new Error('whiteningMatrix needs at least one recorded row');
  const regularisation = options.regularisation ?? 1e-2;
  const step = Math.max(1, Math.ceil(count / (options.maxRows ?? 20_000)));
  const cov = new Float64Array(dim * dim);
  let rows = 0;
  const row = new Float64Array(dim);
  for (let r = 0; r < count; r += step, rows++) {
    const o = r * dim;
    for (let i = 0; i < dim; i++) row[i] = values[o + i];
    for (let i = 0; i < dim; i++) {
      const a = row[i];
      if (a === 0) continue;
      const base = i * dim;
      for (let j = i; j < dim; j++) cov[base + j] += a * row[j];
    }
  }
  let trace = 0;
  for (let i = 0; i < dim; i++) trace += cov[i * dim + i] / rows;
  const ridge = regularisation * (trace / dim || 1);
  for (let i = 0; i < dim; i++) {
    for (let j = i; j < dim; j++) {
      const v = cov[i * dim + j] / rows + (i === j ? ridge : 0);
      cov[i * dim + j] = v;
      cov[j * dim + i] = v;
    }
  }
  return Float32Array.from(invertSpd(cov, dim));
}

/** Inverse of a symmetric positive-definite matrix (row-major) by Cholesky factorisation. */
export function invertSpd(matrix: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = matrix[j * n + j];
    for (let k = 0; k < j; k++) d -= l[j * n + k] * l[j * n + k];
    if (!(d > 0)) throw new Error(`matrix is not positive definite (pivot ${j} is ${d})`);
    const ljj = Math.sqrt(d);
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = matrix[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = s / ljj;
    }
  }
  // L⁻¹ by forward substitution, then A⁻¹ = L⁻ᵀ L⁻¹.
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    inv[i * n + i] = 1 / l[i * n + i];
    for (let j = 0; j < i; j++) {
      let s = 0;
      for (let k = j; k < i; k++) s += l[i * n + k] * inv[k * n + j];
      inv[i * n + j] = -s / l[i * n + i];
    }
  }
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = i; k < n; k++) s += inv[k * n + i] * inv[k * n + j];
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  }
  return out;
}

/** S v for each of the k directions (k x D, row-major); S is symmetric, so rows and columns agree. */
export function whitenDirections(directions: Float32Array, dim: number, whitening: Float32Array): Float32Array {
  if (whitening.length !== dim * dim) throw new Error(`whitening matrix holds ${whitening.length} values, expected ${dim}x${dim}`);
  const k = directions.length / dim;
  const out = new Float32Array(directions.length);
  for (let d = 0; d < k; d++) {
    const o = d * dim;
    for (let i = 0; i < dim; i++) {
      let s = 0;
      const base = i * dim;
      for (let j = 0; j < dim; j++) s += whitening[base + j] * directions[o + j];
      out[o + i] = s;
    }
  }
  return out;
}
