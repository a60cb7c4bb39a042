import { createRng } from '../../lib/rng';
import { learnCav, type CavMethod, type LogisticOptions } from './cav';
import { mean, predictionTest, std, welchTTest } from './stats';
import { checkTable, dotRow, gatherRows, range, shuffle } from './vectors';

/** Inputs of `tcavTest`. */
export interface TcavTestInput {
  /** n x dim: gradient of the class logit with respect to the layer, one row per input of the class. */
  gradients: Float32Array;
  n: number;
  dim: number;
  /** K x dim (K >= 1): CAVs of the concept, one per run (`conceptRuns`), or a single CAV. */
  concept: Float32Array;
  /** R x dim (R >= 2): CAVs of random concepts (`randomConcepts`). */
  randomConcepts: Float32Array;
  /** Family-wise significance level; 0.05 unless given. */
  alpha?: number;
  /** Number of (class, concept) tests run together, for the Bonferroni correction; 1 unless given. */
  classesTested?: number;
}

/** Outcome of `tcavTest`. */
export interface TcavTestResult {
  /** Mean TCAV score over the concept's runs (the score itself when there is one run). */
  score: number;
  /** TCAV score of each concept run. */
  conceptScores: Float64Array;
  /** TCAV score of each random concept. */
  randomScores: Float64Array;
  randomMean: number;
  /** Sample standard deviation (n - 1) of the random scores. */
  randomStd: number;
  t: number;
  df: number;
  /** Two-sided p-value; see `tcavTest` for which test gives it. */
  p: number;
  /** p < alpha / classesTested (Bonferroni). */
  significant: boolean;
}

/** TCAV score: the share of the n inputs whose logit gradient has a positive directional derivative along the concept. */
export function tcavScore(gradients: Float32Array, n: number, dim: number, concept: ArrayLike<number>): number {
  checkTable('tcavScore', gradients, n, dim);
  if (n === 0) return NaN;
  let positive = 0;
  for (let i = 0; i < n; i++) if (dotRow(gradients, i, dim, concept) > 0) positive++;
  return positive / n;
}

/**
 * Tests whether a concept's TCAV score differs from those of random concepts (Kim et al. 2018, §3.5).
 * With K >= 2 concept runs, as TCAV does (each run: the concept against another random set), p is
 * Welch's two-sided t-test between the K run scores and the R random scores (tensorflow/tcav uses
 * Student's t via scipy's ttest_ind; Welch drops the equal-variance assumption, which fails here since
 * random scores spread widely and concept scores do not). With a single concept CAV there is no
 * variance to pool, so the score x is placed in the random scores' distribution:
 * t = (x - mean) / (std * sqrt(1 + 1/R)) with R - 1 df, the two-sided prediction test, which is exact
 * for normal random scores and uniform under the null that x is one more random concept.
 */
export function tcavTest(input: TcavTestInput): TcavTestResult {
  const { gradients, n, dim, alpha = 0.05, classesTested = 1 } = input;
  const conceptScores = scoresOf(gradients, n, dim, input.concept, 'concept');
  const randomScores = scoresOf(gradients, n, dim, input.randomConcepts, 'randomConcepts');
  if (conceptScores.length < 1 || randomScores.length < 2) {
    throw new Error(`tcavTest: needs at least 1 concept and 2 random CAVs, got ${conceptScores.length} and ${randomScores.length}`);
  }
  const randomMean = mean(randomScores);
  const randomStd = std(randomScores);
  const { t, df, p } = conceptScores.length >= 2 ? welchTTest(conceptScores, randomScores) : predictionTest(conceptScores[0], randomScores);
  return {
    score: mean(conceptScores),
    conceptScores,
    randomScores,
    randomMean,
    randomStd,
    t,
    df,
    p,
    significant: p < alpha / classesTested,
  };
}

/**
 * TCAV's concept runs: `runs` CAVs of the concept rows, each against a different seeded random subset
 * of the negative rows of the concept's size (tensorflow/tcav's concept vs random500_0, random500_1, ...).
 * Returns runs x dim.
 */
export function conceptRuns(
  pos: Float32Array,
  nPos: number,
  neg: Float32Array,
  nNeg: number,
  dim: number,
  runs: number,
  seed: number,
  method: CavMethod,
  options: LogisticOptions = {},
): Float32Array {
  checkTable('conceptRuns', neg, nNeg, dim);
  const random = createRng(seed);
  const size = Math.min(nPos, nNeg);
  const out = new Float32Array(runs * dim);
  for (let r = 0; r < runs; r++) {
    const negatives = gatherRows(neg, shuffle(range(nNeg), random).subarray(0, size), dim);
    out.set(learnCav(method, pos, nPos, negatives, size, dim, options), r * dim);
  }
  return out;
}

/**
 * TCAV's random concepts: `runs` CAVs each learnt between two disjoint seeded random subsets of the
 * negative rows, both of `setSize` rows (at most half the negatives), as tensorflow/tcav learns
 * random500_i against random500_j. The concept rows never enter, so these CAVs show what a TCAV score
 * looks like for a direction that means nothing. Returns runs x dim.
 */
export function randomConcepts(
  neg: Float32Array,
  nNeg: number,
  dim: number,
  setSize: number,
  runs: number,
  seed: number,
  method: CavMethod,
  options: LogisticOptions = {},
): Float32Array {
  checkTable('randomConcepts', neg, nNeg, dim);
  const size = Math.min(setSize, Math.floor(nNeg / 2));
  if (size < 1) throw new Error(`randomConcepts: needs at least 2 negative rows, got ${nNeg}`);
  const random = createRng(seed);
  const out = new Float32Array(runs * dim);
  for (let r = 0; r < runs; r++) {
    const order = shuffle(range(nNeg), random);
    const first = gatherRows(neg, order.subarray(0, size), dim);
    const second = gatherRows(neg, order.subarray(size, 2 * size), dim);
    out.set(learnCav(method, first, size, second, size, dim, options), r * dim);
  }
  return out;
}

function scoresOf(gradients: Float32Array, n: number, dim: number, directions: Float32Array, name: string): Float64Array {
  if (directions.length % dim !== 0) throw new Error(`tcavTest: ${name} has ${directions.length} values, not a multiple of ${dim}`);
  const count = directions.length / dim;
  return Float64Array.from({ length: count }, (_, k) => tcavScore(gradients, n, dim, directions.subarray(k * dim, k * dim + dim)));
}

/** The `limit` classes predicted most often (ties: lower index first). */
export function mostPredicted(predicted: ArrayLike<number>, limit: number): number[] {
  const counts = new Map<number, number>();
  for (const k of Array.from(predicted)) if (k >= 0) counts.set(k, (counts.get(k) ?? 0) + 1);
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .slice(0, limit)
    .map(([k]) => k);
}
