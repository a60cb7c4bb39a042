import { createRng } from '../../lib/rng';
import { bonferroni } from './stats';
import { cavAccuracy, conceptClassifier, type CavMethod } from './cav';
import { conceptRuns, randomConcepts, tcavTest, type TcavTestResult } from './tcav';
import { checkTable, gatherRows, range, shuffle } from './vectors';

/** A concept vector at an atlas's layer (Kim et al. 2018's CAV), as the atlas and its file keep it. */
export interface Concept {
  id: string;
  name: string;
  layer: string;
  method: CavMethod;
  /** Unit vector pointing from the counterexamples towards the concept's examples (dim floats). */
  direction: Float32Array;
  /** Balanced held-out accuracy of the concept's classifier by stratified k-fold; null with fewer than 2 examples a side. */
  accuracy: number | null;
  folds: number;
  positives: number;
  negatives: number;
  /** Where the examples came from, in words ("24 selected points against the rest of the atlas"). */
  source: string;
}

/** A concept's examples at the layer: rows on each side. */
export interface ConceptExamples {
  dim: number;
  pos: Float32Array;
  nPos: number;
  neg: Float32Array;
  nNeg: number;
}

/** The part of a concept a fit decides. */
export type ConceptFit = Pick<Concept, 'method' | 'direction' | 'accuracy' | 'folds' | 'positives' | 'negatives'>;

const FOLDS = 5;

/** Learns the concept's direction on all its examples and its balanced held-out accuracy by (up to) 5-fold cross-validation. */
export function fitConcept(examples: ConceptExamples, method: CavMethod, seed: number): ConceptFit {
  const { pos, nPos, neg, nNeg, dim } = examples;
  if (nPos < 1) throw new Error('A concept needs at least one example: select some points, or give it inputs.');
  if (nNeg < 1) throw new Error('A concept needs counterexamples: the rest of the atlas is empty.');
  const { direction } = conceptClassifier(method, pos, nPos, neg, nNeg, dim, { seed });
  const folds = Math.min(FOLDS, nPos, nNeg);
  const accuracy = folds >= 2 ? cavAccuracy(method, pos, neg, dim, { folds, seed }) : null;
  return { method, direction, accuracy, folds: folds >= 2 ? folds : 0, positives: nPos, negatives: nNeg };
}

/**
 * Rows of an N x dim table that are not in `exclude`, at most `cap` of them drawn without replacement (seeded):
 * "the rest of the atlas" as counterexamples, bounded so that logistic fits and random concepts stay quick.
 */
export function restRows(values: Float32Array, n: number, dim: number, exclude: Iterable<number>, cap: number, seed: number): { rows: Float32Array; count: number } {
  checkTable('restRows', values, n, dim);
  const skip = new Set(exclude);
  const rest = range(n).filter((r) => !skip.has(r));
  const chosen = rest.length > cap ? shuffle(rest, createRng(seed)).subarray(0, cap).sort() : rest;
  return { rows: gatherRows(values, chosen, dim), count: chosen.length };
}

/** Each row's score along a unit direction; a cell's mean score is its mean vector's score (the projection is linear). */
export function scoreAlong(vector: ArrayLike<number>, direction: ArrayLike<number>): number {
  let dot = 0;
  for (let k = 0; k < direction.length; k++) dot += vector[k] * direction[k];
  return dot;
}

export interface ConceptTcavOptions {
  method: CavMethod;
  /** Concept runs (each against its own draw of counterexamples) and random concepts; at least 2. */
  runs: number;
  seed: number;
  /** How many classes are tested together (Bonferroni). */
  classesTested: number;
  alpha?: number;
}

/** What the page shows of one class's TCAV test. */
export type ConceptTcav = Pick<TcavTestResult, 'score' | 'randomMean' | 'randomStd' | 'p' | 'significant'> & {
  conceptScores: number[];
  randomScores: number[];
  /** p times the classes tested, capped at 1. */
  pBonferroni: number;
};

/** The CAVs a TCAV test scores, `runs` x dim each: they depend on the concept's examples, not on the class tested. */
export interface TcavCavs {
  concept: Float32Array;
  random: Float32Array;
}

/** The concept's `runs` CAVs and the `runs` random concepts of conceptTcav, to score every class tested with. */
export function tcavCavs(examples: ConceptExamples, { method, runs, seed }: Pick<ConceptTcavOptions, 'method' | 'runs' | 'seed'>): TcavCavs {
  const { pos, nPos, neg, nNeg, dim } = examples;
  if (!Number.isInteger(runs) || runs < 2) throw new Error(`TCAV needs at least 2 runs for a spread; got ${runs}.`);
  if (nNeg < 4) throw new Error(`TCAV draws random concepts from the counterexamples and needs at least 4; there are ${nNeg}.`);
  return {
    concept: conceptRuns(pos, nPos, neg, nNeg, dim, runs, seed, method, { seed }),
    random: randomConcepts(neg, nNeg, dim, nPos, runs, seed + 1, method, { seed }),
  };
}

/**
 * TCAV of one class (Kim et al. 2018): `runs` CAVs of the concept, each against an equal-sized draw of its
 * counterexamples, and `runs` random concepts of the concept's size split from the counterexamples; the class's
 * gradients (n x dim) score each; Welch's t-test compares the two sets of scores.
 */
export function conceptTcav(
  examples: ConceptExamples,
  gradients: Float32Array,
  n: number,
  options: ConceptTcavOptions,
  cavs: TcavCavs = tcavCavs(examples, options),
): ConceptTcav {
  const { classesTested, alpha = 0.05 } = options;
  const test = tcavTest({ gradients, n, dim: examples.dim, concept: cavs.concept, randomConcepts: cavs.random, alpha, classesTested });
  return {
    score: test.score,
    randomMean: test.randomMean,
    randomStd: test.randomStd,
    p: test.p,
    significant: test.significant,
    conceptScores: Array.from(test.conceptScores),
    randomScores: Array.from(test.randomScores),
    pBonferroni: bonferroni(test.p, classesTested),
  };
}
