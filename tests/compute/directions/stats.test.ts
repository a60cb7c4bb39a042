import { describe, expect, it } from 'vitest';
import { bonferroni, fisherExact, mean, rankP, std, variance, versusRandom, welchTTest } from '../../../src/compute/directions/stats';
import { createRng, gaussian } from '../../../src/lib/rng';

const draw = (n: number, shift: number, scale: number, random: () => number) =>
  Float64Array.from({ length: n }, () => shift + scale * gaussian(random));

describe('mean, variance, std', () => {
  it('match hand-computed values', () => {
    expect(mean([1, 2, 3, 4])).toBe(2.5);
    expect(variance([1, 2, 3, 4])).toBeCloseTo(5 / 3, 12);
    expect(variance([1, 2, 3, 4], 0)).toBeCloseTo(1.25, 12);
    expect(std([2, 4, 4, 4, 5, 5, 7, 9], 0)).toBeCloseTo(2, 12);
  });
});

describe('welchTTest', () => {
  // Reference values from scipy 1.17.1: stats.ttest_ind(a, b, equal_var=False).
  it('matches scipy', () => {
    const clear = welchTTest([1.2, 3.4, 2.2, 5.1, 4.4, 3.3], [6.1, 5.5, 7.2, 6.8, 5.9, 8.0, 7.7]);
    expect(clear.t).toBeCloseTo(-5.104296073559533, 10);
    expect(clear.df).toBeCloseTo(8.508904414578424, 10);
    expect(clear.p).toBeCloseTo(0.000763975185484928, 12);
    const none = welchTTest([0.1, -0.3, 0.25, 0.4, -0.15], [0.05, 0.2, -0.1, 0.3, 0.12, 0.0, 0.18, -0.05]);
    expect(none.t).toBeCloseTo(-0.20120081132312215, 10);
    expect(none.df).toBeCloseTo(5.16202503686079, 10);
    expect(none.p).toBeCloseTo(0.8482305329523236, 10);
  });

  it('rejects at 5% in about 5% of null draws with unequal variances and sizes', () => {
    const random = createRng(11);
    let rejected = 0;
    const draws = 200;
    for (let k = 0; k < draws; k++) if (welchTTest(draw(8, 0, 1, random), draw(20, 0, 3, random)).p < 0.05) rejected++;
    // Binomial(200, 0.05): mean 10, sd ~3.1; [2, 20] is beyond 2.5 sd either way.
    expect(rejected).toBeGreaterThanOrEqual(2);
    expect(rejected).toBeLessThanOrEqual(20);
  });

  it('gives a tiny p for a real difference', () => {
    const random = createRng(12);
    const result = welchTTest(draw(30, 2, 1, random), draw(40, 0, 1.5, random));
    expect(result.t).toBeGreaterThan(0);
    expect(result.p).toBeLessThan(1e-6);
  });

  it('handles constant samples and refuses samples of one', () => {
    expect(welchTTest([1, 1, 1], [1, 1])).toMatchObject({ t: 0, p: 1 });
    expect(welchTTest([2, 2, 2], [1, 1])).toMatchObject({ t: Infinity, p: 0 });
    expect(() => welchTTest([1], [1, 2])).toThrow(/two values/);
  });
});

describe('fisherExact', () => {
  // Reference values from scipy 1.17.1: stats.fisher_exact([[a, b], [c, d]]) (two-sided).
  const cases: [number, number, number, number, number, number][] = [
    [8, 2, 1, 5, 20, 0.034965034965034975],
    [3, 1, 1, 3, 9, 0.48571428571428565],
    [1, 9, 11, 3, 0.030303030303030304, 0.0027594561852200836],
    [0, 5, 5, 0, 0, 0.007936507936507938],
    [10, 10, 10, 10, 1, 1],
    [2, 7, 8, 2, 0.07142857142857142, 0.02301413756522116],
    [100, 50, 60, 90, 3, 5.659739023312293e-6],
  ];
  it.each(cases)('[[%i, %i], [%i, %i]] matches scipy', (a, b, c, d, oddsRatio, p) => {
    const result = fisherExact(a, b, c, d);
    expect(result.oddsRatio).toBeCloseTo(oddsRatio, 12);
    expect(result.p / p).toBeCloseTo(1, 8);
  });

  it('handles empty margins and zero off-diagonals like scipy', () => {
    expect(fisherExact(0, 0, 3, 4)).toEqual({ p: 1, oddsRatio: NaN });
    expect(fisherExact(5, 0, 0, 5).oddsRatio).toBe(Infinity);
    expect(() => fisherExact(1.5, 0, 0, 5)).toThrow(/non-negative integers/);
  });
});

describe('bonferroni', () => {
  it('multiplies by the number of tests and caps at 1', () => {
    expect(bonferroni(0.01, 3)).toBeCloseTo(0.03, 15);
    expect(bonferroni(0.4, 3)).toBe(1);
  });
});

describe('versusRandom', () => {
  const sample = [0.1, 0.3, -0.2, 0.5, 0.0, 0.25];

  // Reference values from scipy 1.17.1: t = (x - mean) / (std * sqrt(1 + 1/R)), stats.t.sf(t, R - 1).
  it('gives the prediction test\'s t and its one-sided p as scipy does', () => {
    const high = versusRandom(0.9, sample);
    expect(high.t).toBeCloseTo(2.793553451555833, 10);
    expect(high.df).toBe(5);
    expect(high.pT).toBeCloseTo(0.01914192569923763, 8);
    expect(versusRandom(0.2, sample).pT).toBeCloseTo(0.4407158213865402, 8);
    expect(high.randomMean).toBeCloseTo(mean(sample), 12);
    expect(high.randomStd).toBeCloseTo(std(sample), 12);
  });

  it('ranks against a brute-force count of random values at least as large', () => {
    const random = createRng(4);
    const values = Array.from({ length: 20 }, () => gaussian(random));
    for (const x of [-3, values[3], 0, values[11], 3]) {
      const atLeast = values.filter((v) => v >= x).length;
      expect(rankP(x, values)).toBe((1 + atLeast) / 21);
      expect(versusRandom(x, values).pRank).toBe((1 + atLeast) / 21);
    }
    expect(rankP(10, values)).toBe(1 / 21);
  });

  it('reads a constant sample as certain: p 0 above it, 1 at or below it', () => {
    expect(versusRandom(2, [1, 1, 1]).pT).toBe(0);
    expect(versusRandom(0, [1, 1, 1]).pT).toBe(1);
    expect(versusRandom(1, [1, 1, 1]).pT).toBe(1);
  });
});
