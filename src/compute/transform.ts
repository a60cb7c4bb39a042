import { createRng } from '../lib/rng';
import { normaliseRows, type KnnGraph } from './knn';
import { buildSearchIndex, IndexSearcher, type SearchIndex } from './searchIndex';
import { Fft, tsne, type TsneOptions } from './tsne';
import { attraction, bisectSigma, cachedTables, clip4, fitCurve, repulsion, umap, type UmapOptions } from './umap';
import type { Metric } from './types';

/**
 * Fit on some rows, place others into the fitted layout: umap-learn's `transform` and openTSNE's
 * `transform`. A placed row's neighbours among the fitted rows come from a search index, its starting
 * point is their weighted mean in the layout, and a short optimisation follows with the fitted layout
 * held fixed. Every row is placed on its own, with a random stream seeded by its global row number, so
 * rows can be split across threads or shards in any way and land in the same place.
 */

/** What both placements share: the fitted rows' search index and layout, and the metric of the search space. */
interface FittedBase {
  index: SearchIndex;
  /** n x 2, the fitted rows' layout in the engine's own coordinates. */
  embedding: Float32Array;
  /** 'cosine': the index holds unit rows and a distance is half the squared euclidean one. */
  metric: Metric;
  /** Neighbours searched per placed row. */
  neighbours: number;
  seed: number;
}

export interface FittedUmap extends FittedBase {
  kind: 'umap';
  a: number;
  b: number;
  /** Perplexity of the weights that average the neighbours' places into the row's start. */
  startPerplexity: number;
  /**
   * Epochs of the optimisation after the start (umap-learn's transform: 30 beyond 10,000 fitted rows). 0 by
   * default: measured here it lowers the placed rows' neighbour recall (README, `npm run bench:scale`).
   */
  epochs: number;
  negativeSampleRate: number;
  /** The placement's initial learning rate: a quarter of the fit's, as umap-learn's transform. */
  learningRate: number;
}

export interface FittedTsne extends FittedBase {
  kind: 'tsne';
  /** Perplexity of a placed row's affinities to the fitted rows (openTSNE's transform uses 5). */
  perplexity: number;
  iterations: number;
  learningRate: number;
  /** Largest step norm (openTSNE's max_grad_norm). */
  maxStep: number;
  /** The fitted layout's repulsion as fields on a g x g grid: Z (sum of w) and the push sum w^2 (y - y_j). */
  field: RepulsionField;
}

export type FittedLayout = FittedUmap | FittedTsne;

/** The search space of a metric: cosine rows are unit-normalised, so euclidean search ranks them by cosine distance. */
export function searchRows(data: Float32Array, n: number, d: number, metric: Metric): Float32Array {
  return metric === 'cosine' ? normaliseRows(data, n, d) : data;
}

/** Neighbours of a placed row: umap-learn's default n_neighbors, whatever the fit's neighbourhood size. */
const UMAP_PLACE_NEIGHBOURS = 15;
/**
 * A placed row starts at its neighbours' places averaged with Gaussian weights of this perplexity: openTSNE
 * places with a low perplexity (5) so new points sit by their nearest neighbours; 1.5 measured best here
 * (recall@15 of a 20k layout fitted on 5k: 0.265 at 1.5, 0.256 at 2, 0.239 at 5, 0.204 with umap-learn's
 * memberships; the full fit 0.281).
 */
const UMAP_START_PERPLEXITY = 1.5;
/** Out-edges per fitted row in the search graph: t-SNE's 90-neighbour lists would make each step of the walk 6x dearer for little gain. */
const SEARCH_DEGREE = 15;
/** openTSNE's transform: 15 neighbours at perplexity 5. */
const TSNE_PLACE_NEIGHBOURS = 15;
const TSNE_PLACE_PERPLEXITY = 5;
/** Gradient steps of a t-SNE placement (openTSNE runs 250; these steps are capped at maxStep, so 100 travel far enough). */
const TSNE_PLACE_ITERATIONS = 100;

/** Fits UMAP on n x d rows and keeps what placing more rows needs. */
export async function fitUmap(data: Float32Array, n: number, d: number, options: UmapOptions & { placeEpochs?: number } = {}): Promise<FittedUmap> {
  const metric = options.metric ?? 'euclidean';
  const seed = options.seed ?? 0;
  let graph: KnnGraph | null = null;
  const embedding = await umap(data, n, d, { ...options, onGraph: (g) => (graph = g) });
  const { a, b } = fitCurve(options.spread ?? 1, options.minDist ?? 0.1);
  return {
    kind: 'umap',
    index: indexOf(data, n, d, graph, metric, seed),
    embedding,
    metric,
    neighbours: Math.min(UMAP_PLACE_NEIGHBOURS, n),
    seed,
    a,
    b,
    startPerplexity: UMAP_START_PERPLEXITY,
    epochs: options.placeEpochs ?? 0,
    negativeSampleRate: options.negativeSampleRate ?? 5,
    learningRate: (options.learningRate ?? 1) / 4,
  };
}

/** Fits t-SNE on n x d rows and keeps what placing more rows needs. */
export async function fitTsne(data: Float32Array, n: number, d: number, options: TsneOptions = {}): Promise<FittedTsne> {
  const metric = options.metric ?? 'euclidean';
  const seed = options.seed ?? 0;
  let graph: KnnGraph | null = null;
  const embedding = await tsne(data, n, d, { ...options, onGraph: (g) => (graph = g) });
  return {
    kind: 'tsne',
    index: indexOf(data, n, d, graph, metric, seed),
    embedding,
    metric,
    neighbours: Math.min(n, TSNE_PLACE_NEIGHBOURS),
    seed,
    perplexity: TSNE_PLACE_PERPLEXITY,
    iterations: TSNE_PLACE_ITERATIONS,
    learningRate: 1,
    maxStep: 0.25,
    field: repulsionField(embedding, n),
  };
}

/** The search index of a fit, over the graph the fit made (its nearest SEARCH_DEGREE neighbours per row). */
function indexOf(data: Float32Array, n: number, d: number, graph: KnnGraph | null, metric: Metric, seed: number): SearchIndex {
  if (!graph) throw new Error('The layout engine made no neighbour graph to search.');
  return buildSearchIndex(searchRows(data, n, d, metric), n, d, truncateGraph(graph, SEARCH_DEGREE), seed);
}

/** The first k neighbours of each row (lists are nearest first). */
function truncateGraph(graph: KnnGraph, k: number): KnnGraph {
  if (graph.k <= k) return graph;
  const indices = new Int32Array(graph.n * k);
  const distances = new Float32Array(graph.n * k);
  for (let i = 0; i < graph.n; i++) {
    indices.set(graph.indices.subarray(i * graph.k, i * graph.k + k), i * k);
    distances.set(graph.distances.subarray(i * graph.k, i * graph.k + k), i * k);
  }
  return { n: graph.n, k, indices, distances };
}

/** Per-thread scratch of a placement: the searcher and the neighbours' weights. */
export class Placer {
  private readonly searcher: IndexSearcher;
  private readonly weights: Float64Array;
  private readonly distances: Float64Array;

  constructor(readonly fitted: FittedLayout) {
    this.searcher = new IndexSearcher(fitted.index, fitted.neighbours);
    this.weights = new Float64Array(fitted.neighbours);
    this.distances = new Float64Array(fitted.neighbours);
  }

  /**
   * Places rows [start, end) of `rows` (count x d, in the search space) into out (count x 2); numbers[r],
   * row r's global number, seeds its random stream.
   */
  place(rows: Float32Array, numbers: ArrayLike<number>, out: Float32Array, start: number, end: number): void {
    const { fitted } = this;
    const d = fitted.index.d;
    for (let r = start; r < end; r++) {
      const found = this.searcher.search(rows, r * d);
      const { keys } = this.searcher;
      const neighbours = this.searcher.rows;
      for (let s = 0; s < found; s++) this.distances[s] = fitted.metric === 'cosine' ? keys[s] / 2 : Math.sqrt(keys[s]);
      // A row identical to a fitted row takes that row's place: the same activation, the same point.
      if (found > 0 && keys[0] === 0) {
        out[2 * r] = fitted.embedding[2 * neighbours[0]];
        out[2 * r + 1] = fitted.embedding[2 * neighbours[0] + 1];
        continue;
      }
      const random = createRng(rowSeed(fitted.seed, numbers[r]));
      if (fitted.kind === 'umap') placeUmapRow(fitted, neighbours, this.distances, this.weights, found, random, out, r);
      else placeTsneRow(fitted, neighbours, this.distances, this.weights, found, out, r);
    }
  }
}

/** A row's own seed: its global number mixed with the layout's seed (a murmur-style finaliser). */
function rowSeed(seed: number, row: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ row;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * umap-learn's transform for one row: start at the neighbours' places averaged (with low-perplexity weights
 * where umap-learn uses the memberships: see UMAP_START_PERPLEXITY); then, when epochs > 0, its SGD that moves
 * only this row: memberships exp(-d / sigma) to the neighbours (local connectivity 0, so no rho, sigma matching
 * log2(k)), attraction along each edge sampled by membership, repulsion from random fitted points.
 */
function placeUmapRow(
  fitted: FittedUmap,
  neighbours: Int32Array,
  distances: Float64Array,
  weights: Float64Array,
  k: number,
  random: () => number,
  out: Float32Array,
  r: number,
): void {
  const { embedding, a, b, epochs, negativeSampleRate } = fitted;
  const n = fitted.index.n;
  conditionalAffinities(distances, k, fitted.startPerplexity, weights);
  let x = 0;
  let y = 0;
  for (let s = 0; s < k; s++) {
    x += weights[s] * embedding[2 * neighbours[s]];
    y += weights[s] * embedding[2 * neighbours[s] + 1];
  }
  if (epochs > 0) {
    const sigma = smoothSigma(distances, k, Math.log2(k));
    for (let s = 0; s < k; s++) weights[s] = Math.exp(-distances[s] / sigma);
  }
  const tables = cachedTables(a, b);
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const alpha = fitted.learningRate * (1 - (epoch - 1) / epochs);
    for (let s = 0; s < k; s++) {
      const w = weights[s];
      // Edges too weak to be sampled once in the run are dropped, as in the fit (the largest weight is 1).
      if (w * epochs < 1) continue;
      const every = 1 / w;
      // Edge s is due at epochs every, 2 every, ...: it fires when a multiple of `every` falls in (epoch - 1, epoch].
      if (Math.floor(epoch / every) === Math.floor((epoch - 1) / every)) continue;
      const j = 2 * neighbours[s];
      let dx = x - embedding[j];
      let dy = y - embedding[j + 1];
      let d2 = dx * dx + dy * dy;
      if (d2 > 0) {
        const coeff = attraction(d2, tables, a, b);
        x += clip4(coeff * dx) * alpha;
        y += clip4(coeff * dy) * alpha;
      }
      // Negative samples due by this epoch: the count umap-learn draws per sampling of the edge.
      const negatives = Math.floor(negativeSampleRate);
      for (let q = 0; q < negatives; q++) {
        const o = 2 * Math.floor(random() * n);
        dx = x - embedding[o];
        dy = y - embedding[o + 1];
        d2 = dx * dx + dy * dy;
        if (!(d2 > 0)) continue;
        const coeff = repulsion(d2, tables, a, b);
        x += clip4(coeff * dx) * alpha;
        y += clip4(coeff * dy) * alpha;
      }
    }
  }
  out[2 * r] = x;
  out[2 * r + 1] = y;
}

/** sigma with sum_s exp(-d_s / sigma) = target, by bisection; floored at 1e-3 of the mean distance, as umap-learn. */
function smoothSigma(distances: Float64Array, k: number, target: number): number {
  let mean = 0;
  for (let s = 0; s < k; s++) mean += distances[s];
  mean /= Math.max(1, k);
  return Math.max(bisectSigma(distances, null, 0, k, 0, target), 1e-3 * mean, 1e-12);
}

/**
 * openTSNE's transform for one row: Gaussian affinities p_s to its neighbours at a low perplexity, a start
 * at their p-weighted mean, then gradient steps with momentum where the row is pulled by its neighbours
 * (w = 1 / (1 + d^2)) and pushed by every fitted point through the precomputed field, each step's norm
 * capped. The fitted points do not move.
 */
function placeTsneRow(fitted: FittedTsne, neighbours: Int32Array, distances: Float64Array, p: Float64Array, k: number, out: Float32Array, r: number): void {
  const { embedding, field } = fitted;
  conditionalAffinities(distances, k, fitted.perplexity, p);
  let x = 0;
  let y = 0;
  for (let s = 0; s < k; s++) {
    x += p[s] * embedding[2 * neighbours[s]];
    y += p[s] * embedding[2 * neighbours[s] + 1];
  }
  let vx = 0;
  let vy = 0;
  const sample = { z: 0, fx: 0, fy: 0 };
  for (let it = 0; it < fitted.iterations; it++) {
    let ax = 0;
    let ay = 0;
    for (let s = 0; s < k; s++) {
      const dx = x - embedding[2 * neighbours[s]];
      const dy = y - embedding[2 * neighbours[s] + 1];
      const w = 1 / (1 + dx * dx + dy * dy);
      ax += p[s] * w * dx;
      ay += p[s] * w * dy;
    }
    fieldAt(field, x, y, sample);
    const z = Math.max(sample.z, 1e-12);
    let gx = 4 * (ax - sample.fx / z);
    let gy = 4 * (ay - sample.fy / z);
    const norm = Math.hypot(gx, gy) * fitted.learningRate;
    if (norm > fitted.maxStep) {
      gx *= fitted.maxStep / norm;
      gy *= fitted.maxStep / norm;
    }
    vx = 0.8 * vx - fitted.learningRate * gx;
    vy = 0.8 * vy - fitted.learningRate * gy;
    x += vx;
    y += vy;
  }
  out[2 * r] = x;
  out[2 * r + 1] = y;
}

/** p_s proportional to exp(-beta d_s^2), beta set by bisection so the entropy is log(perplexity); sums to 1. */
function conditionalAffinities(distances: Float64Array, k: number, perplexity: number, p: Float64Array): void {
  const target = Math.log(Math.min(perplexity, Math.max(1, k - 1)));
  let beta = 1;
  let lo = 0;
  let hi = Infinity;
  const d0 = distances[0] * distances[0];
  for (let it = 0; it < 100; it++) {
    let sum = 0;
    let weighted = 0;
    for (let s = 0; s < k; s++) {
      const gap = distances[s] * distances[s] - d0;
      const v = Math.exp(-beta * gap);
      p[s] = v;
      sum += v;
      weighted += gap * v;
    }
    const entropy = Math.log(sum) + (beta * weighted) / sum;
    if (Math.abs(entropy - target) < 1e-5) break;
    if (entropy > target) {
      lo = beta;
      beta = hi === Infinity ? beta * 2 : (lo + hi) / 2;
    } else {
      hi = beta;
      beta = (lo + hi) / 2;
    }
  }
  let sum = 0;
  for (let s = 0; s < k; s++) sum += p[s];
  for (let s = 0; s < k; s++) p[s] /= sum;
}

/**
 * The repulsion of a fixed set of points on any point y, tabulated on a grid: Z(y) = sum_j w_j and
 * F(y) = sum_j w_j^2 (y - y_j), w_j = 1 / (1 + |y - y_j|^2). The points are spread onto the grid's nodes
 * (bilinear weights) and convolved with the kernels by FFT (plain data, so it travels to threads and files).
 */
export interface RepulsionField {
  g: number;
  originX: number;
  originY: number;
  h: number;
  /** g x g each, row-major by y then x. */
  z: Float64Array;
  fx: Float64Array;
  fy: Float64Array;
}

/** The fields at (x, y), interpolated bilinearly; outside the grid, at its nearest edge. */
export function fieldAt(field: RepulsionField, x: number, y: number, out: { z: number; fx: number; fy: number }): void {
  const { g, h } = field;
  const u = Math.min(g - 1.000001, Math.max(0, (x - field.originX) / h));
  const v = Math.min(g - 1.000001, Math.max(0, (y - field.originY) / h));
  const i = u | 0;
  const j = v | 0;
  const tu = u - i;
  const tv = v - j;
  const o = j * g + i;
  const w00 = (1 - tu) * (1 - tv);
  const w10 = tu * (1 - tv);
  const w01 = (1 - tu) * tv;
  const w11 = tu * tv;
  out.z = w00 * field.z[o] + w10 * field.z[o + 1] + w01 * field.z[o + g] + w11 * field.z[o + g + 1];
  out.fx = w00 * field.fx[o] + w10 * field.fx[o + 1] + w01 * field.fx[o + g] + w11 * field.fx[o + g + 1];
  out.fy = w00 * field.fy[o] + w10 * field.fy[o + 1] + w01 * field.fy[o + g] + w11 * field.fy[o + g + 1];
}

/** Nodes per axis of the repulsion grid, and the margin around the layout it covers (layout units). */
const FIELD_GRID = 256;
const FIELD_MARGIN = 3;

/** The repulsion field of an n x 2 layout. */
export function repulsionField(layout: Float32Array, n: number, g = FIELD_GRID): RepulsionField {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (let i = 0; i < n; i++) {
    x0 = Math.min(x0, layout[2 * i]);
    x1 = Math.max(x1, layout[2 * i]);
    y0 = Math.min(y0, layout[2 * i + 1]);
    y1 = Math.max(y1, layout[2 * i + 1]);
  }
  const extent = Math.max(x1 - x0, y1 - y0) + 2 * FIELD_MARGIN;
  const h = extent / (g - 1);
  const originX = x0 - FIELD_MARGIN;
  const originY = y0 - FIELD_MARGIN;
  const m = 2 * g;
  const fft = new Fft(m);
  // Charges on the nodes, bilinear.
  const chargeRe = new Float64Array(m * m);
  const chargeIm = new Float64Array(m * m);
  for (let p = 0; p < n; p++) {
    const u = (layout[2 * p] - originX) / h;
    const v = (layout[2 * p + 1] - originY) / h;
    const i = Math.min(g - 2, Math.floor(u));
    const j = Math.min(g - 2, Math.floor(v));
    const tu = u - i;
    const tv = v - j;
    chargeRe[j * m + i] += (1 - tu) * (1 - tv);
    chargeRe[j * m + i + 1] += tu * (1 - tv);
    chargeRe[(j + 1) * m + i] += (1 - tu) * tv;
    chargeRe[(j + 1) * m + i + 1] += tu * tv;
  }
  fft.forward2d(chargeRe, chargeIm, g);
  // Kernels indexed by the offset target - source, wrapped on the 2g torus (offsets beyond g never occur).
  const convolve = (kernel: (dx: number, dy: number) => number): Float64Array => {
    const re = new Float64Array(m * m);
    const im = new Float64Array(m * m);
    for (let r = 0; r < m; r++) {
      if (r === g) continue;
      const dy = (r < g ? r : r - m) * h;
      for (let c = 0; c < m; c++) {
        if (c === g) continue;
        re[r * m + c] = kernel((c < g ? c : c - m) * h, dy);
      }
    }
    fft.forward2d(re, im, m);
    for (let v = 0; v < m * m; v++) {
      const pr = re[v] * chargeRe[v] - im[v] * chargeIm[v];
      const pi = re[v] * chargeIm[v] + im[v] * chargeRe[v];
      re[v] = pr;
      im[v] = pi;
    }
    fft.inverse2d(re, im, g);
    const out = new Float64Array(g * g);
    const scale = 1 / (m * m);
    for (let r = 0; r < g; r++) for (let c = 0; c < g; c++) out[r * g + c] = re[r * m + c] * scale;
    return out;
  };
  const z = convolve((dx, dy) => 1 / (1 + dx * dx + dy * dy));
  const fx = convolve((dx, dy) => dx / (1 + dx * dx + dy * dy) ** 2);
  const fy = convolve((dx, dy) => dy / (1 + dx * dx + dy * dy) ** 2);
  return { g, originX, originY, h, z, fx, fy };
}

