import hypergeometricPmf from '@stdlib/stats-base-dists-hypergeometric-pmf';
import tCdf from '@stdlib/stats-base-dists-t-cdf';

/** Result of a two-sided two-sample t-test. */
export interface TTestResult {
  t: number;
  df: number;
  p: number;
}

/** Result of Fisher's exact test on a 2 x 2 table. */
export interface FisherResult {
  p: number;
  /** The sample odds ratio ad / bc: Infinity when bc = 0 < ad, NaN when a row or column is empty. */
  oddsRatio: number;
}

/** Arithmetic mean, accumulated in double precision; NaN for an empty sample. */
export function mean(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return sum / values.length;
}

/** Variance with `ddof` degrees of freedom removed (1: the unbiased sample variance). */
export function variance(values: ArrayLike<number>, ddof = 1): number {
  const m = mean(values);
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += (values[i] - m) ** 2;
  return sum / (values.length - ddof);
}

/** Standard deviation with `ddof` degrees of freedom removed (1: the sample standard deviation). */
export function std(values: ArrayLike<number>, ddof = 1): number {
  return Math.sqrt(variance(values, ddof));
}

/** Two-sided p-value of a t statistic with `df` degrees of freedom. */
export function tTwoSidedP(t: number, df: number): number {
  if (Number.isNaN(t)) return NaN;
  return Math.min(1, 2 * tCdf(-Math.abs(t), df));
}

/** One-sided p-value P(T >= t) of a t statistic with `df` degrees of freedom. */
export function tUpperP(t: number, df: number): number {
  if (Number.isNaN(t)) return NaN;
  return tCdf(-t, df);
}

/**
 * Places one value x in a sample's distribution: t = (x - mean) / (std * sqrt(1 + 1/R)) with R - 1 df, the
 * prediction test (two-sided p), exact for a normal sample and uniform under the null that x is one more draw.
 * With a constant sample, t is 0 (p = 1) when x equals it and ±Infinity (p = 0) otherwise.
 */
export function predictionTest(x: number, sample: ArrayLike<number>): TTestResult {
  if (sample.length < 2) throw new Error(`predictionTest: needs two values in the sample, got ${sample.length}`);
  const df = sample.length - 1;
  const spread = std(sample) * Math.sqrt(1 + 1 / sample.length);
  const difference = x - mean(sample);
  if (spread === 0) return { t: difference === 0 ? 0 : Math.sign(difference) * Infinity, df, p: difference === 0 ? 1 : 0 };
  const t = difference / spread;
  return { t, df, p: tTwoSidedP(t, df) };
}

/**
 * The empirical one-sided p-value of x being larger than a sample's values: (1 + #{s >= x}) / (R + 1), the share
 * of the R + 1 values (x among them) at least as large as x. It assumes nothing about the sample's distribution,
 * but can be no smaller than 1 / (R + 1).
 */
export function rankP(x: number, sample: ArrayLike<number>): number {
  let atLeast = 0;
  for (let i = 0; i < sample.length; i++) if (sample[i] >= x) atLeast++;
  return (1 + atLeast) / (sample.length + 1);
}

/** How one direction's effect compares with the same effect of random directions. */
export interface VersusRandom {
  value: number;
  randomValues: number[];
  randomMean: number;
  randomStd: number;
  /** The prediction test's t and df (value against the random values). */
  t: number;
  df: number;
  /** One-sided p of "value is larger than a random direction's" from the prediction test's t (assumes normal random values). */
  pT: number;
  /** The same as an empirical rank, (1 + #{random >= value}) / (R + 1): no assumption, floor 1 / (R + 1). */
  pRank: number;
}

/** One-sided tests of "value exceeds what random directions give" (prediction t-test and empirical rank). */
export function versusRandom(value: number, randomValues: ArrayLike<number>): VersusRandom {
  const { t, df } = predictionTest(value, randomValues);
  const spread = std(randomValues);
  return {
    value,
    randomValues: Array.from(randomValues),
    randomMean: mean(randomValues),
    randomStd: spread,
    t,
    df,
    // A constant sample leaves no doubt: above it is certain (0), at or below it is not larger (1).
    pT: spread === 0 ? (value > mean(randomValues) ? 0 : 1) : tUpperP(t, df),
    pRank: rankP(value, randomValues),
  };
}

/**
 * Welch's unequal-variance t-test of mean(a) = mean(b), two-sided, with Welch–Satterthwaite degrees of
 * freedom (scipy's `ttest_ind(a, b, equal_var=False)`). With both samples constant, t is 0 (p = 1) when
 * the means agree and ±Infinity (p = 0) when they differ.
 */
export function welchTTest(a: ArrayLike<number>, b: ArrayLike<number>): TTestResult {
  if (a.length < 2 || b.length < 2) throw new Error(`welchTTest: needs two values per sample, got ${a.length} and ${b.length}`);
  const va = variance(a) / a.length;
  const vb = variance(b) / b.length;
  const difference = mean(a) - mean(b);
  const se2 = va + vb;
  if (se2 === 0) {
    const t = difference === 0 ? 0 : Math.sign(difference) * Infinity;
    return { t, df: a.length + b.length - 2, p: difference === 0 ? 1 : 0 };
  }
  const t = difference / Math.sqrt(se2);
  const df = se2 ** 2 / (va ** 2 / (a.length - 1) + vb ** 2 / (b.length - 1));
  return { t, df, p: tTwoSidedP(t, df) };
}

/**
 * Fisher's exact test for the table [[a, b], [c, d]], two-sided as scipy computes it: the sum of the
 * probabilities (hypergeometric, margins fixed) of every table no more likely than the observed one.
 */
export function fisherExact(a: number, b: number, c: number, d: number): FisherResult {
  for (const cell of [a, b, c, d]) {
    if (!Number.isInteger(cell) || cell < 0) throw new Error(`fisherExact: cells must be non-negative integers, got ${cell}`);
  }
  if (a + b === 0 || c + d === 0 || a + c === 0 || b + d === 0) return { p: 1, oddsRatio: NaN };
  const oddsRatio = b * c > 0 ? (a * d) / (b * c) : Infinity;

  const total = a + b + c + d;
  const column = a + c; // successes in the population
  const row = a + b; // draws
  const pmf = (x: number) => hypergeometricPmf(x, total, column, row);
  // scipy's relative tolerance: tables whose probability equals the observed one up to rounding count too.
  const observed = pmf(a) * (1 + 1e-7);
  let p = 0;
  for (let x = Math.max(0, row - (total - column)); x <= Math.min(column, row); x++) {
    const px = pmf(x);
    if (px <= observed) p += px;
  }
  return { p: Math.min(1, p), oddsRatio };
}

/** Bonferroni-adjusted p-value for one of m tests, capped at 1. */
export function bonferroni(p: number, m: number): number {
  return Math.min(1, p * m);
}
