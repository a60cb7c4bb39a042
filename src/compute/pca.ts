import { createRng, gaussian } from '../lib/rng';

/** Options for the randomized subspace iteration behind `reducePca`. */
export interface PcaOptions {
  /** Extra subspace columns beyond k; more gives a sharper estimate of the trailing components. */
  oversample?: number;
  /** Power iterations; each costs two passes over the data. */
  iterations?: number;
}

/** A fitted PCA: the rows' mean and the top k principal directions (d x k, column-major, by decreasing variance). */
export interface PcaBasis {
  d: number;
  k: number;
  mean: Float64Array;
  components: Float64Array;
}

/**
 * Project n x d rows onto their top min(k, d) principal components (centred scores, n x k row-major,
 * ordered by decreasing variance), by randomized subspace iteration.
 */
export function reducePca(
  data: Float32Array,
  n: number,
  d: number,
  k: number,
  seed: number,
  options: PcaOptions = {},
): Float32Array {
  return applyPca(fitPca(data, n, d, k, seed, options), data, n);
}

/** The top min(k, d) principal directions of n x d rows, by randomized subspace iteration; `applyPca` projects any rows on them. */
export function fitPca(data: Float32Array, n: number, d: number, k: number, seed: number, options: PcaOptions = {}): PcaBasis {
  if (data.length < n * d) throw new Error(`reducePca: data has ${data.length} values, expected ${n} x ${d}`);
  k = Math.max(0, Math.min(k, d));
  const mean = n > 0 ? columnMeans(data, n, d) : new Float64Array(d);
  if (n === 0 || k === 0) return { d, k, mean, components: new Float64Array(0) };

  // With the oversampled subspace as wide as the data, Q = I and the Rayleigh-Ritz step below is exact PCA.
  const l = Math.min(d, k + (options.oversample ?? 10));
  const iterations = l === d ? 0 : options.iterations ?? 3;

  let basis: Float64Array; // d x l, column-major: column c at [c*d, c*d+d)
  if (l === d) {
    basis = new Float64Array(d * d);
    for (let j = 0; j < d; j++) basis[j * d + j] = 1;
  } else {
    const random = createRng(seed);
    basis = new Float64Array(d * l);
    for (let i = 0; i < basis.length; i++) basis[i] = gaussian(random);
    orthonormaliseColumns(basis, d, l);
    const scores = new Float64Array(n * l);
    for (let it = 0; it < iterations; it++) {
      // Subspace iteration on the covariance: Q <- orth(Xc^T (Xc Q)); the spectrum gap grows geometrically.
      projectCentred(data, n, d, mean, basis, l, scores);
      basis = backProjectCentred(data, n, d, mean, scores, l);
      orthonormaliseColumns(basis, d, l);
    }
  }

  const scores = new Float64Array(n * l);
  projectCentred(data, n, d, mean, basis, l, scores);
  // Rayleigh-Ritz: diagonalise the l x l Gram matrix of the scores to order directions by variance.
  const gram = new Float64Array(l * l);
  for (let i = 0; i < n; i++) {
    const row = i * l;
    for (let a = 0; a < l; a++) {
      const va = scores[row + a];
      if (va === 0) continue;
      for (let b = a; b < l; b++) gram[a * l + b] += va * scores[row + b];
    }
  }
  for (let a = 0; a < l; a++) for (let b = 0; b < a; b++) gram[a * l + b] = gram[b * l + a];
  const { vectors } = symmetricEigen(gram, l);
  // The Ritz directions in the data's space: components = Q V[:, :k].
  const components = new Float64Array(d * k);
  for (let c = 0; c < k; c++) {
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let a = 0; a < l; a++) s += basis[a * d + j] * vectors[a * l + c];
      components[c * d + j] = s;
    }
  }
  return { d, k, mean, components };
}

/** Centred scores of n rows on a fitted basis: n x k row-major. */
export function applyPca(basis: PcaBasis, data: Float32Array, n: number): Float32Array {
  const { d, k } = basis;
  const out = new Float32Array(n * k);
  if (n === 0 || k === 0) return out;
  const scores = new Float64Array(n * k);
  projectCentred(data, n, d, basis.mean, basis.components, k, scores);
  for (let v = 0; v < out.length; v++) out[v] = scores[v];
  return out;
}

/** Per-column means of an n x d row-major table, accumulated in double precision. */
export function columnMeans(data: Float32Array, n: number, d: number): Float64Array {
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const row = i * d;
    for (let j = 0; j < d; j++) mean[j] += data[row + j];
  }
  for (let j = 0; j < d; j++) mean[j] /= n;
  return mean;
}

/** scores (n x l row-major) = (X - 1 mean^T) Q, without materialising the centred copy of X. */
function projectCentred(
  data: Float32Array,
  n: number,
  d: number,
  mean: Float64Array,
  basis: Float64Array,
  l: number,
  scores: Float64Array,
): void {
  // Row-major copy of Q so the inner loop runs over contiguous memory.
  const q = new Float64Array(d * l);
  for (let c = 0; c < l; c++) for (let j = 0; j < d; j++) q[j * l + c] = basis[c * d + j];
  const meanScore = new Float64Array(l);
  for (let j = 0; j < d; j++) for (let c = 0; c < l; c++) meanScore[c] += mean[j] * q[j * l + c];
  // Four rows at a time: each row of Q is loaded once per block instead of once per row.
  const acc = new Float64Array(4 * l);
  for (let i0 = 0; i0 < n; i0 += 4) {
    const rows = Math.min(4, n - i0);
    for (let r = 0; r < 4; r++) for (let c = 0; c < l; c++) acc[r * l + c] = -meanScore[c];
    const b0 = i0 * d;
    const b1 = rows > 1 ? b0 + d : b0;
    const b2 = rows > 2 ? b0 + 2 * d : b0;
    const b3 = rows > 3 ? b0 + 3 * d : b0;
    for (let j = 0; j < d; j++) {
      const x0 = data[b0 + j];
      const x1 = data[b1 + j];
      const x2 = data[b2 + j];
      const x3 = data[b3 + j];
      if (x0 === 0 && x1 === 0 && x2 === 0 && x3 === 0) continue; // post-ReLU activations are mostly zeros
      const qr = j * l;
      for (let c = 0; c < l; c++) {
        const qv = q[qr + c];
        acc[c] += x0 * qv;
        acc[l + c] += x1 * qv;
        acc[2 * l + c] += x2 * qv;
        acc[3 * l + c] += x3 * qv;
      }
    }
    scores.set(acc.subarray(0, rows * l), i0 * l);
  }
}

/** (X - 1 mean^T)^T scores, returned d x l column-major. */
function backProjectCentred(
  data: Float32Array,
  n: number,
  d: number,
  mean: Float64Array,
  scores: Float64Array,
  l: number,
): Float64Array {
  const z = new Float64Array(d * l); // row-major while accumulating
  const scoreSum = new Float64Array(l);
  for (let i = 0; i < n; i++) for (let c = 0; c < l; c++) scoreSum[c] += scores[i * l + c];
  // Four rows at a time, so each row of Z is read and written once per block; a short tail block
  // repeats its first row with a zero weight.
  const block = new Float64Array(4 * l);
  for (let i0 = 0; i0 < n; i0 += 4) {
    const rows = Math.min(4, n - i0);
    block.fill(0);
    block.set(scores.subarray(i0 * l, (i0 + rows) * l));
    const b0 = i0 * d;
    const b1 = rows > 1 ? b0 + d : b0;
    const b2 = rows > 2 ? b0 + 2 * d : b0;
    const b3 = rows > 3 ? b0 + 3 * d : b0;
    for (let j = 0; j < d; j++) {
      const x0 = data[b0 + j];
      const x1 = data[b1 + j];
      const x2 = data[b2 + j];
      const x3 = data[b3 + j];
      if (x0 === 0 && x1 === 0 && x2 === 0 && x3 === 0) continue;
      const zr = j * l;
      for (let c = 0; c < l; c++) {
        z[zr + c] += x0 * block[c] + x1 * block[l + c] + x2 * block[2 * l + c] + x3 * block[3 * l + c];
      }
    }
  }
  const out = new Float64Array(d * l);
  for (let j = 0; j < d; j++) {
    for (let c = 0; c < l; c++) out[c * d + j] = z[j * l + c] - mean[j] * scoreSum[c];
  }
  return out;
}

/** Modified Gram-Schmidt on the l columns (column-major, length m) in place; a collapsed column is zeroed. */
export function orthonormaliseColumns(columns: Float64Array, m: number, l: number): void {
  for (let c = 0; c < l; c++) {
    const oc = c * m;
    // Two passes: one pass of MGS loses orthogonality when power iteration makes columns nearly parallel.
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < c; p++) {
        const op = p * m;
        let dot = 0;
        for (let i = 0; i < m; i++) dot += columns[oc + i] * columns[op + i];
        for (let i = 0; i < m; i++) columns[oc + i] -= dot * columns[op + i];
      }
    }
    let norm = 0;
    for (let i = 0; i < m; i++) norm += columns[oc + i] * columns[oc + i];
    norm = Math.sqrt(norm);
    const inv = norm > 1e-300 ? 1 / norm : 0;
    for (let i = 0; i < m; i++) columns[oc + i] *= inv;
  }
}

/**
 * Eigen-decomposition of a small symmetric m x m matrix by cyclic Jacobi rotations: eigenvalues in
 * decreasing order, eigenvectors as the columns of `vectors` (m x m row-major).
 */
export function symmetricEigen(matrix: Float64Array, m: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix.subarray(0, m * m));
  const v = new Float64Array(m * m);
  for (let i = 0; i < m; i++) v[i * m + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let diag = 0;
    for (let p = 0; p < m; p++) {
      diag += a[p * m + p] * a[p * m + p];
      for (let q = p + 1; q < m; q++) off += a[p * m + q] * a[p * m + q];
    }
    if (off <= 1e-30 * diag || off === 0) break;
    for (let p = 0; p < m - 1; p++) {
      for (let q = p + 1; q < m; q++) {
        const apq = a[p * m + q];
        if (apq === 0) continue;
        const theta = (a[q * m + q] - a[p * m + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let r = 0; r < m; r++) {
          const arp = a[r * m + p];
          const arq = a[r * m + q];
          a[r * m + p] = c * arp - s * arq;
          a[r * m + q] = s * arp + c * arq;
        }
        for (let r = 0; r < m; r++) {
          const apr = a[p * m + r];
          const aqr = a[q * m + r];
          a[p * m + r] = c * apr - s * aqr;
          a[q * m + r] = s * apr + c * aqr;
        }
        for (let r = 0; r < m; r++) {
          const vrp = v[r * m + p];
          const vrq = v[r * m + q];
          v[r * m + p] = c * vrp - s * vrq;
          v[r * m + q] = s * vrp + c * vrq;
        }
      }
    }
  }
  const order = Array.from({ length: m }, (_, i) => i).sort((x, y) => a[y * m + y] - a[x * m + x]);
  const values = new Float64Array(m);
  const vectors = new Float64Array(m * m);
  order.forEach((src, dst) => {
    values[dst] = a[src * m + src];
    for (let r = 0; r < m; r++) vectors[r * m + dst] = v[r * m + src];
  });
  return { values, vectors };
}
