import { createRng } from '../../lib/rng';
import { createPacer, nextTask, type Pacer } from '../../lib/yieldToPage';
import { columnMeans } from '../pca';
import type { ProgressEvent } from '../types';
import { directionCoherence, labelPurity, randomRotationColumns, randomUnitDirections, rotateRows } from './basisVsRandom';
import { conceptScores } from './cav';
import { fisherExact, mean, std, welchTTest, type FisherResult, type TTestResult } from './stats';
import { checkTable, neuronDirections, range, shuffle } from './vectors';

/**
 * Neurons against random directions (Szegedy et al. 2013; Bau et al. 2017; Olah et al. 2019's Activation
 * Atlas): k neurons of a layer and as many seeded random unit directions, each scored by the coherence of
 * its top inputs, with Welch tests of the difference and Network Dissection's basis-against-rotation rate.
 */

/** Whether a scored direction is a neuron (a coordinate axis) or a random unit direction. */
export type DirectionKind = 'neuron' | 'random';

/** What `neuronsVersusRandom` is asked for; every field has a default. */
export interface VersusRandomOptions {
  /** Neurons to sample, and as many random directions; default 32. */
  k?: number;
  /** Top inputs per direction that are scored; default 20. */
  topN?: number;
  seed?: number;
  /** Random rotations of the basis for the dissection check; default 10. */
  rotations?: number;
  /** Label purity a direction's top inputs need to count as a detector in the dissection check; default 0.5. */
  threshold?: number;
  /**
   * The input each row came from (rows recorded at several positions of one input): the top N are then N
   * distinct inputs, each at its best row, as in the atlas's cell top lists. Null or absent: every row is its own input.
   */
  groups?: ArrayLike<number> | null;
}

/** How a long neurons-versus-random run reports and stops: steps done (the basis, the directions, each rotation). */
export interface VersusRandomRun {
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
}

/** One neuron or random direction with its top inputs' scores. */
export interface ScoredDirection {
  kind: DirectionKind;
  /** The neuron's id, or the random direction's draw number (0..). */
  index: number;
  /** The unit direction of a random draw (dim values); a neuron is the axis of its id. */
  direction?: Float32Array;
  /** Share of the most common label among the top inputs' labelled rows; null without labels or with none labelled. */
  purity: number | null;
  /**
   * Population std of the top rows' projections over their lift above the mean projection of all rows:
   * small when the top inputs respond alike and stand well above the rest. Measured from the mean of all rows,
   * not from 0, so that it does not depend on where a projection's origin happens to lie (see `topSpread`).
   */
  spread: number;
  /** Mean pairwise cosine of the top rows centred on the mean of all rows (`directionCoherence`). */
  coherence: number;
  /** Row ids of the top inputs, best first. */
  top: Int32Array;
}

/** A scored direction as a vector of the layer: its random draw, or the neuron's axis. */
export function directionVector(d: ScoredDirection, dim: number): Float32Array {
  return d.direction ?? neuronDirections(dim, [d.index]);
}

/** Mean and sample std of one score over the directions of one kind where it is finite. */
export interface ScoreSummary {
  mean: number;
  std: number;
  /** Directions with a finite score (purity: those with a labelled top row). */
  count: number;
}

/** One kind's score distributions. */
export interface KindSummary {
  /** Null without labels. */
  purity: ScoreSummary | null;
  spread: ScoreSummary;
  coherence: ScoreSummary;
}

/** Network Dissection's check: the share of a basis's directions whose top inputs are purer than a threshold. */
export interface DissectionResult {
  threshold: number;
  topN: number;
  /** Directions counted per basis: every unit of the layer, dead ones included (they count as not passing). */
  units: number;
  /** Share of the layer's own neurons that pass. */
  basis: number;
  /** Units whose top inputs are not ties at their floor, and the share of them that pass. */
  liveUnits: number;
  basisLive: number;
  /**
   * Rotated directions scored per rotation: all `units` up to DISSECTION_UNITS, else the rotation's first
   * DISSECTION_UNITS columns. A Haar rotation's columns are exchangeable, so their share is an unbiased
   * estimate of the whole rotation's (standard error at most 0.5 / sqrt(unitsPerRotation)).
   */
  unitsPerRotation: number;
  /** Share that pass in each seeded random rotation of the basis (`randomRotation(dim, streamSeed(seed, 2 + r))`). */
  rotated: number[];
  rotatedMean: number;
  /** Sample std over the rotations; NaN with fewer than 2. */
  rotatedStd: number;
  /**
   * (1 + rotations passing at least as many directions as the basis) / (1 + rotations): a one-sided
   * randomisation p of "the basis is more often a detector than a rotation of it".
   */
  p: number;
}

/** Everything `neuronsVersusRandom` measured. */
export interface VersusRandomResult {
  n: number;
  dim: number;
  /** The k asked for; `neurons` says how many were found. */
  k: number;
  topN: number;
  seed: number;
  /** Inputs the rows come from (n without groups). */
  inputs: number;
  /** Neurons whose top N are not ties at their floor (the minimum over all rows); the others are dead or near it. */
  liveNeurons: number;
  /** Neurons scored: min(k, liveNeurons); as many random directions are scored. */
  neurons: number;
  /** The neurons (ascending id), then the random directions (draw order). */
  directions: ScoredDirection[];
  summary: { neuron: KindSummary; random: KindSummary };
  /** Welch's t-test, neurons against random directions (two-sided); null where a side has fewer than 2 finite scores. */
  tests: { purity: TTestResult | null; spread: TTestResult | null; coherence: TTestResult | null };
  /** Null without labels. */
  dissection: DissectionResult | null;
}

/** A direction of the blind study: shown only by its top inputs. */
export interface StudyCard {
  /** Opaque: the card's number in the shuffled deck. */
  id: string;
  top: Int32Array;
}

/** What each card is, in card order: the answer key, for the reveal, not for showing before it. */
export interface StudyKey {
  kind: DirectionKind;
  /** The neuron's id or the random draw's number. */
  index: number;
  /** Position of the direction in the result's `directions`. */
  direction: number;
}

/** The neurons and random directions of a result, shuffled, with the key kept apart. */
export interface StudyDeck {
  cards: StudyCard[];
  key: StudyKey[];
}

/** How many of one kind's cards were marked interpretable. */
export interface StudyRate {
  interpretable: number;
  total: number;
  rate: number;
}

/** The blind study's answer: both rates and Fisher's exact test of the difference. */
export interface StudyReveal {
  neuron: StudyRate;
  random: StudyRate;
  /**
   * Two-sided Fisher's exact test of [[neurons marked, neurons not], [random marked, random not]]: an odds
   * ratio above 1 means neurons were marked interpretable more often.
   */
  fisher: FisherResult;
  /** Each card with what it was and how it was marked, in deck order. */
  cards: { id: string; kind: DirectionKind; index: number; interpretable: boolean }[];
}

/** A seed for one of a run's random streams, so that neuron sampling, directions and rotations never share draws. */
export function streamSeed(seed: number, stream: number): number {
  return (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(stream + 1, 0x85ebca77)) >>> 0;
}

/**
 * Scores k neurons and k seeded random unit directions of an n x dim activation table by their top inputs,
 * tests the difference, and runs Network Dissection's basis-against-rotation check when there are labels
 * (one per row; -1 for an unlabelled row).
 *
 * Neurons: those whose top N inputs are not ties at the neuron's minimum over all rows (a dead ReLU unit
 * has no top inputs, only an order of rows); all of them when there are at most k, else a seeded sample of k.
 * Random directions: `randomUnitDirections(dim, neurons, streamSeed(seed, 1))`, uniform on the sphere in the
 * layer's own coordinates, as many as neurons so that the two samples and the study deck are balanced.
 * A direction's top inputs are the rows with the largest projection on it, ties in a seeded random order.
 */
export async function neuronsVersusRandom(
  values: Float32Array,
  n: number,
  dim: number,
  labels: ArrayLike<number> | null,
  options: VersusRandomOptions = {},
  run: VersusRandomRun = {},
): Promise<VersusRandomResult> {
  const k = options.k ?? 32;
  const topN = options.topN ?? 20;
  const seed = options.seed ?? 0;
  const rotations = options.rotations ?? 10;
  const threshold = options.threshold ?? 0.5;
  if (!Number.isInteger(dim) || dim < 1) throw new Error(`neuronsVersusRandom: the layer needs at least one dimension, got dim = ${dim}.`);
  checkTable('neuronsVersusRandom', values, n, dim);
  if (!Number.isInteger(k) || k < 2) throw new Error(`neuronsVersusRandom: k must be a whole number of at least 2 (each side needs a spread), got ${k}.`);
  if (!Number.isInteger(topN) || topN < 2) throw new Error(`neuronsVersusRandom: topN must be a whole number of at least 2, got ${topN}.`);
  if (!Number.isInteger(rotations) || rotations < 0) throw new Error(`neuronsVersusRandom: rotations must be a whole number of at least 0, got ${rotations}.`);
  if (!(threshold > 0 && threshold <= 1)) throw new Error(`neuronsVersusRandom: threshold is a label purity in (0, 1], got ${threshold}.`);
  if (labels && labels.length < n) throw new Error(`neuronsVersusRandom: ${labels.length} labels for ${n} rows.`);
  // Ties (a ReLU6 saturated at 6 over many inputs) go in a seeded order, so that the order of the files,
  // often by class, cannot make a tie look pure.
  const tieRank = shuffle(range(n), createRng(streamSeed(seed, 4)));
  const grouping = checkGroups(options.groups ?? null, n, tieRank);
  if (grouping.count < topN) {
    throw new Error(`neuronsVersusRandom: topN = ${topN} distinct inputs are asked for, but the rows come from ${grouping.count} input(s).`);
  }

  const pacer = createPacer(run.signal, 50, 'Neurons against random directions cancelled', nextTask);
  const steps = 2 + (labels ? rotations : 0);
  const stepDone = (done: number) => run.onProgress?.({ stage: 'versus-random', done, total: steps });
  const column = new Float32Array(n);
  const basisTops: (Int32Array | null)[] = [];
  for (let j = 0; j < dim; j++) {
    if (pacer.due()) await pacer.pause();
    for (let i = 0; i < n; i++) column[i] = values[i * dim + j];
    basisTops.push(liveTop(column, topN, grouping));
  }
  stepDone(1);
  pacer.check();
  const live = basisTops.flatMap((top, j) => (top ? [j] : []));
  if (live.length < 2) throw new Error(`neuronsVersusRandom: only ${live.length} of ${dim} neurons vary over their top ${topN} inputs; at least 2 are needed.`);
  const chosen = live.length <= k ? live : Array.from(shuffle(Int32Array.from(live), createRng(streamSeed(seed, 0))).subarray(0, k)).sort((a, b) => a - b);

  // Every direction's coherence centres on the same column means: computed once, not once per direction.
  const centre = columnMeans(values, n, dim);
  const scoreOf = (kind: DirectionKind, index: number, projection: Float32Array, top: Int32Array, direction?: Float32Array): ScoredDirection => {
    const purity = labels ? labelPurity(top, labels) : NaN;
    return {
      kind,
      index,
      ...(direction ? { direction } : {}),
      purity: Number.isNaN(purity) ? null : purity,
      spread: topSpread(projection, top),
      coherence: directionCoherence(values, n, dim, top, centre),
      top,
    };
  };
  const directions: ScoredDirection[] = [];
  for (const j of chosen) {
    if (pacer.due()) await pacer.pause();
    for (let i = 0; i < n; i++) column[i] = values[i * dim + j];
    directions.push(scoreOf('neuron', j, column, basisTops[j]!));
  }
  const randoms = randomUnitDirections(dim, chosen.length, streamSeed(seed, 1));
  for (let r = 0; r < chosen.length; r++) {
    if (pacer.due()) await pacer.pause();
    const direction = randoms.slice(r * dim, r * dim + dim);
    const projection = conceptScores(values, n, dim, direction);
    directions.push(scoreOf('random', r, projection, topOf(projection, topN, grouping), direction));
  }

  stepDone(2);
  pacer.check();

  const of = (kind: DirectionKind, score: 'purity' | 'spread' | 'coherence') =>
    directions.filter((d) => d.kind === kind).map((d) => d[score]).filter((v): v is number => v !== null && Number.isFinite(v));
  const summarise = (kind: DirectionKind): KindSummary => ({
    purity: labels ? summary(of(kind, 'purity')) : null,
    spread: summary(of(kind, 'spread')),
    coherence: summary(of(kind, 'coherence')),
  });
  const test = (score: 'purity' | 'spread' | 'coherence') => {
    const [a, b] = [of('neuron', score), of('random', score)];
    return a.length >= 2 && b.length >= 2 ? welchTTest(a, b) : null;
  };

  return {
    n,
    dim,
    k,
    topN,
    seed,
    inputs: grouping.count,
    liveNeurons: live.length,
    neurons: chosen.length,
    directions,
    summary: { neuron: summarise('neuron'), random: summarise('random') },
    tests: { purity: labels ? test('purity') : null, spread: test('spread'), coherence: test('coherence') },
    dissection: labels ? await dissection(values, n, dim, labels, basisTops, { threshold, topN, rotations, seed, grouping }, pacer, (r) => stepDone(2 + r)) : null,
  };
}

/** The directions of a result shuffled with a seed, each shown only by its top inputs, with the answer key apart. */
export function studyDeck(result: VersusRandomResult, seed: number): StudyDeck {
  const order = shuffle(Int32Array.from(result.directions, (_, i) => i), createRng(streamSeed(seed, 3)));
  const width = String(order.length).length;
  const cards: StudyCard[] = [];
  const key: StudyKey[] = [];
  order.forEach((direction, position) => {
    const d = result.directions[direction];
    cards.push({ id: `D${String(position + 1).padStart(width, '0')}`, top: d.top });
    key.push({ kind: d.kind, index: d.index, direction });
  });
  return { cards, key };
}

/** Reveals which cards were neurons: both kinds' rates of cards marked interpretable, and Fisher's exact test. */
export function studyReveal(deck: StudyDeck, marks: readonly boolean[]): StudyReveal {
  if (marks.length !== deck.cards.length) throw new Error(`studyReveal: ${marks.length} marks for ${deck.cards.length} cards; mark every card.`);
  const count = (kind: DirectionKind): StudyRate => {
    let interpretable = 0;
    let total = 0;
    deck.key.forEach((entry, i) => {
      if (entry.kind !== kind) return;
      total++;
      if (marks[i]) interpretable++;
    });
    return { interpretable, total, rate: total === 0 ? NaN : interpretable / total };
  };
  const neuron = count('neuron');
  const random = count('random');
  return {
    neuron,
    random,
    fisher: fisherExact(neuron.interpretable, neuron.total - neuron.interpretable, random.interpretable, random.total - random.interpretable),
    cards: deck.cards.map((card, i) => ({ id: card.id, kind: deck.key[i].kind, index: deck.key[i].index, interpretable: marks[i] })),
  };
}

/**
 * Spread of a direction's top rows: their projections' population std over their mean lift above the mean
 * projection of all rows. The plain coefficient of variation (std / mean of the top projections) suits a
 * ReLU neuron, whose 0 means "off", but not a random direction, whose projections' origin is arbitrary (the
 * same top rows read as tight or loose as the data shifts); measured from the mean of all rows, the two compare.
 */
export function topSpread(projection: ArrayLike<number>, top: ArrayLike<number>): number {
  const topValues = Array.from(top, (row) => projection[row]);
  const lift = mean(topValues) - mean(projection);
  return lift > 0 ? std(topValues, 0) / lift : NaN;
}

/**
 * The topN rows with the largest scores, best first; with groups, the topN groups by their best row, each
 * shown by that row. Ties go to the lower `tieRank`, or without one to the lower row.
 */
export function topDistinct(
  scores: ArrayLike<number>,
  topN: number,
  groups: ArrayLike<number> | null = null,
  tieRank: ArrayLike<number> | null = null,
): Int32Array {
  return topOf(scores, topN, checkGroups(groups, scores.length, tieRank));
}

interface Grouping {
  groups: ArrayLike<number> | null;
  /** Distinct groups (inputs), or rows without groups. */
  count: number;
  /** Size of the group id range. */
  range: number;
  /** Each row's place among equal scores (lower first); null: the row index. */
  tieRank: ArrayLike<number> | null;
}

function checkGroups(groups: ArrayLike<number> | null, n: number, tieRank: ArrayLike<number> | null = null): Grouping {
  if (tieRank && tieRank.length < n) throw new Error(`topDistinct: ${tieRank.length} tie ranks for ${n} rows.`);
  if (!groups) return { groups: null, count: n, range: n, tieRank };
  if (groups.length < n) throw new Error(`neuronsVersusRandom: ${groups.length} group ids for ${n} rows.`);
  let span = 0;
  for (let i = 0; i < n; i++) {
    const g = groups[i];
    if (!Number.isInteger(g) || g < 0) throw new Error(`neuronsVersusRandom: group ids are input indices (whole numbers from 0), got ${g} at row ${i}.`);
    span = Math.max(span, g + 1);
  }
  const seen = new Uint8Array(span);
  let count = 0;
  for (let i = 0; i < n; i++) if (!seen[groups[i]]++) count++;
  return { groups, count, range: span, tieRank };
}

/** Selection of the best topN candidates in one pass, kept sorted in a short list (topN is small). */
function topOf(scores: ArrayLike<number>, topN: number, grouping: Grouping): Int32Array {
  const n = scores.length;
  const { groups, tieRank } = grouping;
  const better = tieRank
    ? (a: number, b: number) => scores[a] > scores[b] || (scores[a] === scores[b] && tieRank[a] < tieRank[b])
    : (a: number, b: number) => scores[a] > scores[b] || (scores[a] === scores[b] && a < b);
  // With groups, each group's best row is a candidate; without, every row is (no index array of n per call).
  let best: Int32Array | null = null;
  let candidates = n;
  if (groups) {
    best = new Int32Array(grouping.range).fill(-1);
    for (let i = 0; i < n; i++) {
      const g = groups[i];
      if (Number.isNaN(scores[i])) continue;
      if (best[g] < 0 || better(i, best[g])) best[g] = i;
    }
    candidates = 0;
    for (const row of best) if (row >= 0) candidates++;
  }
  const size = Math.min(topN, candidates);
  const rows = new Int32Array(size);
  if (size === 0) return rows;
  let filled = 0;
  const consider = (row: number) => {
    if (Number.isNaN(scores[row])) return;
    if (filled === size && !better(row, rows[size - 1])) return;
    let at = filled < size ? filled++ : size - 1;
    while (at > 0 && better(row, rows[at - 1])) {
      rows[at] = rows[at - 1];
      at--;
    }
    rows[at] = row;
  };
  if (best) {
    for (const row of best) if (row >= 0) consider(row);
  } else {
    for (let row = 0; row < n; row++) consider(row);
  }
  return rows.subarray(0, filled);
}

/** A column's top rows, or null when its topN-th best is no higher than its minimum (its top is a tie at the floor). */
function liveTop(column: Float32Array, topN: number, grouping: Grouping): Int32Array | null {
  const top = topOf(column, topN, grouping);
  let min = Infinity;
  for (let i = 0; i < column.length; i++) if (column[i] < min) min = column[i];
  return top.length === topN && column[top[topN - 1]] > min ? top : null;
}

function summary(values: number[]): ScoreSummary {
  return { mean: values.length ? mean(values) : NaN, std: values.length >= 2 ? std(values) : NaN, count: values.length };
}

/** Rows rotated between checks for a cancel. */
const ROTATE_BLOCK = 256;
/**
 * Most rotated directions scored per rotation. A whole rotation of GPT-2 small's MLP (3,072 units) costs
 * O(dim^3) to draw and n dim^2 to apply, minutes per rotation; 256 of its columns cost a twelfth of the
 * latter and estimate the rate to within 0.03.
 */
export const DISSECTION_UNITS = 256;

/**
 * Network Dissection's rate for the basis and for seeded random rotations of it. A unit whose top inputs are
 * ties at its floor (dead) fails, as in `dissectionRate`'s count over every unit; otherwise the same
 * count as `dissectionRate`, with the top inputs distinct when rows are grouped.
 */
async function dissection(
  values: Float32Array,
  n: number,
  dim: number,
  labels: ArrayLike<number>,
  basisTops: (Int32Array | null)[],
  options: { threshold: number; topN: number; rotations: number; seed: number; grouping: Grouping },
  pacer: Pacer,
  rotationDone: (rotations: number) => void,
): Promise<DissectionResult> {
  const { threshold, topN, rotations, seed, grouping } = options;
  const passes = (top: Int32Array | null) => top !== null && labelPurity(top, labels) >= threshold;
  const basisPassed = basisTops.filter(passes).length;
  const liveUnits = basisTops.filter((top) => top !== null).length;
  const rotated: number[] = [];
  const column = new Float32Array(n);
  const width = Math.min(dim, DISSECTION_UNITS);
  const coordinates = new Float32Array(rotations > 0 ? n * width : 0);
  for (let r = 0; r < rotations; r++) {
    pacer.check();
    const rotation = randomRotationColumns(dim, width, streamSeed(seed, 2 + r));
    // A block of rows at a time: a rotation of a large table takes seconds, and a cancel must get in.
    for (let i0 = 0; i0 < n; i0 += ROTATE_BLOCK) {
      if (pacer.due()) await pacer.pause();
      const i1 = Math.min(n, i0 + ROTATE_BLOCK);
      coordinates.set(rotateRows(values.subarray(i0 * dim, i1 * dim), i1 - i0, dim, rotation, width), i0 * width);
    }
    let passed = 0;
    for (let j = 0; j < width; j++) {
      if (pacer.due()) await pacer.pause();
      for (let i = 0; i < n; i++) column[i] = coordinates[i * width + j];
      if (passes(liveTop(column, topN, grouping))) passed++;
    }
    rotated.push(passed / width);
    rotationDone(r + 1);
  }
  const basis = basisPassed / dim;
  return {
    threshold,
    topN,
    units: dim,
    unitsPerRotation: width,
    basis,
    liveUnits,
    basisLive: basisPassed / liveUnits,
    rotated,
    rotatedMean: rotations ? mean(rotated) : NaN,
    rotatedStd: rotations >= 2 ? std(rotated) : NaN,
    p: (1 + rotated.filter((rate) => rate >= basis).length) / (1 + rotations),
  };
}
