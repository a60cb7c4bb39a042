import { createRng, gaussian } from '../../lib/rng';
import { checkTable, dotRow, gatherRows, range, shuffle, unitVector } from './vectors';

/** How a concept activation vector is learnt from concept (positive) and counterexample (negative) rows. */
export type CavMethod = 'difference-of-means' | 'logistic';

/** Options of the L2-regularised logistic CAV. */
export interface LogisticOptions {
  /** Weight of (l2 / 2) |w|^2 beside the mean log-loss (tensorflow/tcav's SGDClassifier uses alpha = 0.01). */
  l2?: number;
  /** Accelerated gradient steps. */
  iterations?: number;
  /** Seeds the power iteration that sizes the step. */
  seed?: number;
}

/** Options of `cavAccuracy`. */
export interface CavAccuracyOptions extends LogisticOptions {
  folds?: number;
}

/** A linear concept classifier: a row is on the concept's side when row · direction > threshold. */
export interface ConceptClassifier {
  /** Unit vector pointing from the negatives towards the concept. */
  direction: Float32Array;
  threshold: number;
}

/** Unit vector from the negatives' mean to the concept's mean (FastCAV); all zeros if the means agree. */
export function differenceOfMeans(pos: Float32Array, nPos: number, neg: Float32Array, nNeg: number, dim: number): Float32Array {
  return meansClassifier(pos, nPos, neg, nNeg, dim).direction;
}

/**
 * Unit normal of an L2-regularised logistic regression separating concept from negative rows, fitted on
 * standardised features and mapped back to the original space (w_j / sigma_j), so it is a direction
 * in the recorded layer. Classes are weighted equally whatever their sizes.
 */
export function logisticCav(
  pos: Float32Array,
  nPos: number,
  neg: Float32Array,
  nNeg: number,
  dim: number,
  options: LogisticOptions = {},
): Float32Array {
  return logisticClassifier(pos, nPos, neg, nNeg, dim, options).direction;
}

/** A CAV by the chosen method. */
export function learnCav(
  method: CavMethod,
  pos: Float32Array,
  nPos: number,
  neg: Float32Array,
  nNeg: number,
  dim: number,
  options: LogisticOptions = {},
): Float32Array {
  return conceptClassifier(method, pos, nPos, neg, nNeg, dim, options).direction;
}

/** The CAV by the chosen method together with the threshold that separates the two sets along it. */
export function conceptClassifier(
  method: CavMethod,
  pos: Float32Array,
  nPos: number,
  neg: Float32Array,
  nNeg: number,
  dim: number,
  options: LogisticOptions = {},
): ConceptClassifier {
  checkTable('conceptClassifier (concept rows)', pos, nPos, dim);
  checkTable('conceptClassifier (negative rows)', neg, nNeg, dim);
  if (nPos === 0 || nNeg === 0) throw new Error(`conceptClassifier: needs rows on both sides, got ${nPos} and ${nNeg}`);
  return method === 'logistic' ? logisticClassifier(pos, nPos, neg, nNeg, dim, options) : meansClassifier(pos, nPos, neg, nNeg, dim);
}

/**
 * Held-out balanced accuracy of the CAV's classifier by stratified k-fold cross-validation (seeded): the mean
 * of the shares of concept rows and of negative rows classified correctly when their fold was held out. Balanced,
 * because a concept of a few dozen rows against thousands would otherwise score high by calling everything
 * negative; with equal counts it is the plain accuracy. Row counts are pos.length / dim and neg.length / dim.
 */
export function cavAccuracy(
  method: CavMethod,
  pos: Float32Array,
  neg: Float32Array,
  dim: number,
  options: CavAccuracyOptions = {},
): number {
  const nPos = Math.floor(pos.length / dim);
  const nNeg = Math.floor(neg.length / dim);
  const folds = Math.min(options.folds ?? 5, nPos, nNeg);
  if (folds < 2) throw new Error(`cavAccuracy: needs at least 2 rows per class for 2 folds, got ${nPos} and ${nNeg}`);
  const random = createRng(options.seed ?? 0);
  const posFold = stratifiedFolds(nPos, folds, random);
  const negFold = stratifiedFolds(nNeg, folds, random);

  let correctPos = 0;
  let correctNeg = 0;
  for (let fold = 0; fold < folds; fold++) {
    const trainPos = gatherRows(pos, rowsWhere(posFold, (f) => f !== fold), dim);
    const trainNeg = gatherRows(neg, rowsWhere(negFold, (f) => f !== fold), dim);
    const classifier = conceptClassifier(method, trainPos, trainPos.length / dim, trainNeg, trainNeg.length / dim, dim, options);
    const onConceptSide = (values: Float32Array, row: number) => dotRow(values, row, dim, classifier.direction) > classifier.threshold;
    for (const row of rowsWhere(posFold, (f) => f === fold)) if (onConceptSide(pos, row)) correctPos++;
    for (const row of rowsWhere(negFold, (f) => f === fold)) if (!onConceptSide(neg, row)) correctNeg++;
  }
  return (correctPos / nPos + correctNeg / nNeg) / 2;
}

/** Projection of each of n rows on a unit direction (the concept score of each input). */
export function conceptScores(values: Float32Array, n: number, dim: number, direction: ArrayLike<number>): Float32Array {
  checkTable('conceptScores', values, n, dim);
  const scores = new Float32Array(n);
  for (let i = 0; i < n; i++) scores[i] = dotRow(values, i, dim, direction);
  return scores;
}

function meansClassifier(pos: Float32Array, nPos: number, neg: Float32Array, nNeg: number, dim: number): ConceptClassifier {
  const posMean = rowMean(pos, nPos, dim);
  const negMean = rowMean(neg, nNeg, dim);
  const direction = unitVector(posMean.map((m, j) => m - negMean[j]));
  let threshold = 0;
  for (let j = 0; j < dim; j++) threshold += (direction[j] * (posMean[j] + negMean[j])) / 2;
  return { direction, threshold };
}

function logisticClassifier(
  pos: Float32Array,
  nPos: number,
  neg: Float32Array,
  nNeg: number,
  dim: number,
  options: LogisticOptions,
): ConceptClassifier {
  const design = standardisedDesign(pos, nPos, neg, nNeg, dim);
  const { w, b } = fitLogistic(design, options);
  // w . (x - mu) / sigma + b  =  w' . x + (b - w' . mu)  with  w'_j = w_j / sigma_j.
  const original = new Float64Array(dim);
  let offset = b;
  for (let j = 0; j < dim; j++) {
    original[j] = design.sigma[j] > 0 ? w[j] / design.sigma[j] : 0;
    offset -= original[j] * design.mu[j];
  }
  let norm = 0;
  for (let j = 0; j < dim; j++) norm += original[j] ** 2;
  norm = Math.sqrt(norm);
  return { direction: unitVector(original), threshold: norm > 0 ? -offset / norm : 0 };
}

/** Standardised rows (concept rows first), 0/1 labels and per-row weights that give each class half the loss. */
interface Design {
  z: Float64Array;
  n: number;
  dim: number;
  label: Uint8Array;
  weight: Float64Array;
  mu: Float64Array;
  sigma: Float64Array;
}

function standardisedDesign(pos: Float32Array, nPos: number, neg: Float32Array, nNeg: number, dim: number): Design {
  const n = nPos + nNeg;
  const z = new Float64Array(n * dim);
  z.set(pos.subarray(0, nPos * dim));
  z.set(neg.subarray(0, nNeg * dim), nPos * dim);
  const mu = new Float64Array(dim);
  const sigma = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mu[j] += z[i * dim + j] / n;
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) sigma[j] += (z[i * dim + j] - mu[j]) ** 2 / n;
  for (let j = 0; j < dim; j++) sigma[j] = Math.sqrt(sigma[j]);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) z[i * dim + j] = sigma[j] > 0 ? (z[i * dim + j] - mu[j]) / sigma[j] : 0;
  }
  const label = new Uint8Array(n);
  label.fill(1, 0, nPos);
  const weight = new Float64Array(n);
  weight.fill(1 / (2 * nPos), 0, nPos);
  weight.fill(1 / (2 * nNeg), nPos);
  return { z, n, dim, label, weight, mu, sigma };
}

/**
 * Minimises sum_i weight_i * logloss_i + (l2 / 2) |w|^2 by Nesterov-accelerated gradient descent with a
 * 1 / L step, L bounded by a power iteration on the weighted Gram matrix, and gradient-based momentum restart.
 */
function fitLogistic(design: Design, options: LogisticOptions): { w: Float64Array; b: number } {
  const { n, dim } = design;
  const l2 = options.l2 ?? 0.01;
  const iterations = options.iterations ?? 300;
  const size = dim + 1; // the last parameter is the bias
  const step = 1 / (gramNorm(design, options.seed ?? 0) / 4 + l2);

  let theta = new Float64Array(size);
  let previous = new Float64Array(size);
  const look = new Float64Array(size);
  const gradient = new Float64Array(size);
  const scores = new Float64Array(n);
  let momentum = 1;
  for (let it = 0; it < iterations; it++) {
    const nextMomentum = (1 + Math.sqrt(1 + 4 * momentum * momentum)) / 2;
    const beta = (momentum - 1) / nextMomentum;
    for (let j = 0; j < size; j++) look[j] = theta[j] + beta * (theta[j] - previous[j]);
    logisticGradient(design, look, l2, scores, gradient);
    const next = previous; // reuse the buffer that is no longer needed
    let progress = 0;
    for (let j = 0; j < size; j++) {
      next[j] = look[j] - step * gradient[j];
      progress += gradient[j] * (next[j] - theta[j]);
    }
    previous = theta;
    theta = next;
    momentum = progress > 0 ? 1 : nextMomentum; // restart when the step points uphill (O'Donoghue & Candès)
  }
  return { w: theta.subarray(0, dim), b: theta[dim] };
}

function logisticGradient(design: Design, theta: Float64Array, l2: number, scores: Float64Array, gradient: Float64Array): void {
  const { z, n, dim, label, weight } = design;
  for (let i = 0; i < n; i++) {
    let s = theta[dim];
    for (let j = 0; j < dim; j++) s += z[i * dim + j] * theta[j];
    scores[i] = weight[i] * (1 / (1 + Math.exp(-s)) - label[i]);
  }
  gradient.fill(0);
  for (let i = 0; i < n; i++) {
    const r = scores[i];
    for (let j = 0; j < dim; j++) gradient[j] += r * z[i * dim + j];
    gradient[dim] += r;
  }
  for (let j = 0; j < dim; j++) gradient[j] += l2 * theta[j];
}

/** Largest eigenvalue of sum_i weight_i [z_i; 1][z_i; 1]^T by power iteration, with a safety margin. */
function gramNorm(design: Design, seed: number): number {
  const { z, n, dim, weight } = design;
  const random = createRng(seed);
  let v = Float64Array.from({ length: dim + 1 }, () => gaussian(random));
  let estimate = 0;
  for (let it = 0; it < 30; it++) {
    const next = new Float64Array(dim + 1);
    for (let i = 0; i < n; i++) {
      let s = v[dim];
      for (let j = 0; j < dim; j++) s += z[i * dim + j] * v[j];
      s *= weight[i];
      for (let j = 0; j < dim; j++) next[j] += s * z[i * dim + j];
      next[dim] += s;
    }
    let norm = 0;
    for (let j = 0; j <= dim; j++) norm += next[j] * next[j];
    norm = Math.sqrt(norm);
    if (norm === 0) return 1;
    let vNorm = 0;
    for (let j = 0; j <= dim; j++) vNorm += v[j] * v[j];
    estimate = norm / Math.sqrt(vNorm);
    v = next.map((x) => x / norm);
  }
  // Power iteration approaches the top eigenvalue from below; the margin keeps the step stable.
  return 1.25 * estimate;
}

function rowMean(values: Float32Array, n: number, dim: number): Float64Array {
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j] += values[i * dim + j];
  for (let j = 0; j < dim; j++) mean[j] /= n;
  return mean;
}

/** Fold of each of n rows: shuffled, then dealt round-robin, so fold sizes differ by at most one. */
function stratifiedFolds(n: number, folds: number, random: () => number): Int32Array {
  const order = shuffle(range(n), random);
  const fold = new Int32Array(n);
  for (let k = 0; k < n; k++) fold[order[k]] = k % folds;
  return fold;
}

function rowsWhere(fold: Int32Array, keep: (fold: number) => boolean): number[] {
  const rows: number[] = [];
  for (let i = 0; i < fold.length; i++) if (keep(fold[i])) rows.push(i);
  return rows;
}
