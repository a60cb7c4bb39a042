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

/**
 * Whether a scored direction is a neuron (a coordinate axis), a random unit direction, or a sparse autoencoder's
 * latent (its top inputs are the rows where the SAE's own activation of it is largest, not a projection).
 */
export type DirectionKind = 'neuron' | 'random' | 'latent';

/**
 * A sparse autoencoder's latent activations on the same rows as the table, in compressed sparse rows (the layout of
 * the model side's `encodeSae`): row r's active latents are entries rowStart[r] to rowStart[r + 1]; a latent not
 * listed in a row is 0 there.
 */
export interface LatentActivations {
  /** Rows: must equal the table's n. */
  count: number;
  /** Latents (d_sae). */
  dSae: number;
  rowStart: Int32Array;
  latent: Int32Array;
  value: Float32Array;
  /** dSae x dim decoder rows, each the direction a latent writes: given, a scored latent carries its row as `direction`. */
  decoder?: Float32Array | null;
}

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
  /**
   * An SAE's latents on the same rows: k seeded live latents are scored beside the neurons and random directions,
   * tested against both, and every latent enters the dissection count. Null or absent: neurons and random only.
   */
  latents?: LatentActivations | null;
}

/** How a long neurons-versus-random run reports and stops: steps done (the basis, the directions, each rotation). */
export interface VersusRandomRun {
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
}

/** One neuron, random direction or latent with its top inputs' scores. */
export interface ScoredDirection {
  kind: DirectionKind;
  /** The neuron's id, the random direction's draw number (0..), or the latent's id. */
  index: number;
  /** The unit direction of a random draw, or a latent's decoder row (dim values); a neuron is the axis of its id. */
  direction?: Float32Array;
  /** Share of the most common label among the top inputs' labelled rows; null without labels or with none labelled. */
  purity: number | null;
  /**
   * Population std of the top rows' projections (a latent's: its activations) over their lift above the mean of all rows:
   * small when the top inputs respond alike and stand well above the rest. Measured from the mean of all rows,
   * not from 0, so that it does not depend on where a projection's origin happens to lie (see `topSpread`).
   */
  spread: number;
  /** Mean pairwise cosine of the top rows centred on the mean of all rows (`directionCoherence`). */
  coherence: number;
  /** Row ids of the top inputs, best first. */
  top: Int32Array;
}

/** A scored direction as a vector of the layer: its random draw, a latent's decoder row, or the neuron's axis. */
export function directionVector(d: ScoredDirection, dim: number): Float32Array {
  if (d.direction) return d.direction;
  if (d.kind === 'latent') throw new Error(`Latent ${d.index} was scored without the SAE's decoder, so it has no direction in the layer.`);
  return neuronDirections(dim, [d.index]);
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
  /** With an SAE's latents: the same count over every latent of the dictionary. */
  latent?: LatentDissection;
}

/** Network Dissection's rate over an SAE's latents: the dictionary taken as the basis. */
export interface LatentDissection {
  /** Every latent (d_sae), dead ones included (they count as not passing). */
  units: number;
  /** Share of the latents that pass. */
  rate: number;
  /** Latents whose top inputs are not ties at their floor (they fire on at least topN inputs), and the share of them that pass. */
  liveUnits: number;
  rateLive: number;
  /** (1 + rotations passing at least as large a share) / (1 + rotations): the latents against the basis's random rotations. */
  p: number;
}

/** Welch's t-tests of one pair of kinds (two-sided); null where a side has fewer than 2 finite scores. */
export interface KindTests {
  purity: TTestResult | null;
  spread: TTestResult | null;
  coherence: TTestResult | null;
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
  /** The neurons (ascending id), then the random directions (draw order), then any latents (ascending id). */
  directions: ScoredDirection[];
  /** `latent` only with latents. */
  summary: { neuron: KindSummary; random: KindSummary; latent?: KindSummary };
  /** Welch's t-test, neurons against random directions (two-sided); null where a side has fewer than 2 finite scores. */
  tests: KindTests;
  /** With latents: the dictionary's latents (d_sae), those live (top inputs not ties at their floor), and those scored (min(k, live)). */
  dictionary?: { dSae: number; liveLatents: number; latents: number };
  /** With latents: Welch's t-tests of latents against neurons, and of latents against random directions (t > 0: latents higher). */
  latentTests?: { versusNeurons: KindTests; versusRandom: KindTests };
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

/** The directions of a result (neurons, random, any latents), shuffled, with the key kept apart. */
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
  /** Only where the deck holds latents. */
  latent?: StudyRate;
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
 * Latents (with `options.latents`): live ones as for neurons (a latent active on fewer than topN inputs has a tie
 * at 0 among its top), all when at most k, else a seeded sample of k; a latent's top inputs are the rows where
 * its activation is largest, and its coherence is that of those rows of the layer, centred as for the others.
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

  const latents = options.latents ?? null;
  let latentTops: (Int32Array | null)[] | null = null;
  let dictionary: VersusRandomResult['dictionary'];
  if (latents) {
    const columns = latentColumns(latents, n, dim);
    latentTops = [];
    for (let i = 0; i < latents.dSae; i++) {
      if (pacer.due()) await pacer.pause();
      latentTops.push(liveTop(fillLatentColumn(columns, i, column), topN, grouping));
    }
    const liveLatents = latentTops.flatMap((top, i) => (top ? [i] : []));
    const chosenLatents =
      liveLatents.length <= k ? liveLatents : Array.from(shuffle(Int32Array.from(liveLatents), createRng(streamSeed(seed, LATENT_STREAM))).subarray(0, k)).sort((a, b) => a - b);
    for (const i of chosenLatents) {
      if (pacer.due()) await pacer.pause();
      const direction = latents.decoder ? latents.decoder.slice(i * dim, (i + 1) * dim) : undefined;
      directions.push(scoreOf('latent', i, fillLatentColumn(columns, i, column), latentTops[i]!, direction));
    }
    dictionary = { dSae: latents.dSae, liveLatents: liveLatents.length, latents: chosenLatents.length };
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
  const test = (score: 'purity' | 'spread' | 'coherence', first: DirectionKind = 'neuron', second: DirectionKind = 'random') => {
    const [a, b] = [of(first, score), of(second, score)];
    return a.length >= 2 && b.length >= 2 ? welchTTest(a, b) : null;
  };
  const tests = (first: DirectionKind, second: DirectionKind): KindTests => ({
    purity: labels ? test('purity', first, second) : null,
    spread: test('spread', first, second),
    coherence: test('coherence', first, second),
  });
  const dissected = labels ? await dissection(values, n, dim, labels, basisTops, { threshold, topN, rotations, seed, grouping }, pacer, (r) => stepDone(2 + r)) : null;
  if (dissected && latentTops) dissected.latent = latentDissection(latentTops, labels!, threshold, dissected.rotated);

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
    summary: { neuron: summarise('neuron'), random: summarise('random'), ...(latents ? { latent: summarise('latent') } : {}) },
    tests: tests('neuron', 'random'),
    ...(dictionary ? { dictionary, latentTests: { versusNeurons: tests('latent', 'neuron'), versusRandom: tests('latent', 'random') } } : {}),
    dissection: dissected,
  };
}

/** The stream of the latents' sample: apart from the neurons' (0), the directions' (1) and the rotations' (2, 3, ...). */
const LATENT_STREAM = -2;

/** Each latent's active rows and values: the compressed rows transposed, checked against the table. */
interface LatentColumns {
  count: number;
  start: Int32Array;
  row: Int32Array;
  value: Float32Array;
}

function latentColumns(latents: LatentActivations, n: number, dim: number): LatentColumns {
  const { count, dSae, rowStart, latent, value, decoder } = latents;
  const name = 'neuronsVersusRandom';
  if (count !== n) throw new Error(`${name}: the latents are of ${count} rows, the table has ${n}; encode the same rows.`);
  if (!Number.isInteger(dSae) || dSae < 1) throw new Error(`${name}: the latents need at least one latent, got dSae = ${dSae}.`);
  if (rowStart.length !== n + 1 || rowStart[0] !== 0 || rowStart[n] !== latent.length || value.length !== latent.length) {
    throw new Error(`${name}: the latents' compressed rows are inconsistent (${rowStart.length} row starts for ${n} rows, ${latent.length} latent ids, ${value.length} values).`);
  }
  if (decoder && decoder.length !== dSae * dim) throw new Error(`${name}: the decoder holds ${decoder.length} values, not ${dSae} latents x ${dim}.`);
  const start = new Int32Array(dSae + 1);
  for (let e = 0; e < latent.length; e++) {
    const i = latent[e];
    if (!Number.isInteger(i) || i < 0 || i >= dSae) throw new Error(`${name}: latent id ${i} at entry ${e} is outside 0..${dSae - 1}.`);
    if (!Number.isFinite(value[e])) throw new Error(`${name}: latent ${i} has a non-finite activation (${value[e]}) at entry ${e}.`);
    start[i + 1]++;
  }
  for (let i = 0; i < dSae; i++) start[i + 1] += start[i];
  const at = start.slice(0, dSae);
  const row = new Int32Array(latent.length);
  const kept = new Float32Array(latent.length);
  for (let r = 0; r < n; r++) {
    for (let e = rowStart[r]; e < rowStart[r + 1]; e++) {
      row[at[latent[e]]] = r;
      kept[at[latent[e]]++] = value[e];
    }
  }
  return { count: n, start, row, value: kept };
}

/** Latent i's activation on every row (0 where it is not active), written into `column`. */
function fillLatentColumn(columns: LatentColumns, i: number, column: Float32Array): Float32Array {
  column.fill(0);
  for (let e = columns.start[i]; e < columns.start[i + 1]; e++) column[columns.row[e]] = columns.value[e];
  return column;
}

/** The dissection count over every latent (dead ones failing), with its p against the basis's rotations. */
function latentDissection(tops: (Int32Array | null)[], labels: ArrayLike<number>, threshold: number, rotated: number[]): LatentDissection {
  const passed = tops.filter((top) => top !== null && labelPurity(top, labels) >= threshold).length;
  const liveUnits = tops.filter((top) => top !== null).length;
  const rate = passed / tops.length;
  return { units: tops.length, rate, liveUnits, rateLive: liveUnits ? passed / liveUnits : NaN, p: (1 + rotated.filter((r) => r >= rate).length) / (1 + rotated.length) };
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
  const latent = deck.key.some((entry) => entry.kind === 'latent') ? count('latent') : null;
  return {
    neuron,
    random,
    ...(latent ? { latent } : {}),
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
