import { createRng } from '../lib/rng';
import { knn, normaliseRows, type KnnGraph } from './knn';
import { jointProbabilities } from './tsne';
import type { Metric } from './types';

/** How faithfully a 2-D layout keeps each point's high-dimensional neighbours. */
export interface LayoutQuality {
  /** Venna & Kaski trustworthiness@k: 1 = no layout neighbour is a stranger in the data. */
  trustworthiness: number;
  /** Mean fraction of the exact k data neighbours that are also k layout neighbours. */
  recall: number;
  /** Points the figures were averaged over (all of them, or a seeded sample for large n). */
  queries: number;
}

export interface QualityOptions {
  k?: number;
  metric?: Metric;
  /** Average over at most this many seeded query points; each costs one pass over the data. */
  sampleSize?: number;
  seed?: number;
}

/**
 * Trustworthiness@k and kNN recall@k of several layouts of the same data against exact
 * high-dimensional neighbours, sharing one distance pass per query point.
 */
export function layoutQuality(
  data: Float32Array,
  n: number,
  d: number,
  layouts: Float32Array[],
  options: QualityOptions = {},
): LayoutQuality[] {
  const k = Math.min(options.k ?? 15, n - 1);
  const x = options.metric === 'cosine' ? normaliseRows(data, n, d) : data;
  const queries = sampleQueries(n, options.sampleSize ?? n, options.seed ?? 0);
  const high = new Float64Array(n);
  const low = new Float64Array(n);
  const highNearest = new Int32Array(k);
  const lowNearest = new Int32Array(k);
  const isHighNeighbour = new Uint8Array(n);
  const penalty = new Float64Array(layouts.length);
  const hits = new Float64Array(layouts.length);

  for (const q of queries) {
    const oq = q * d;
    for (let j = 0; j < n; j++) {
      const oj = j * d;
      let s = 0;
      for (let c = 0; c < d; c++) {
        const t = x[oq + c] - x[oj + c];
        s += t * t;
      }
      high[j] = s;
    }
    high[q] = Infinity;
    smallestK(high, k, highNearest);
    for (let s = 0; s < k; s++) isHighNeighbour[highNearest[s]] = 1;

    layouts.forEach((layout, l) => {
      const qx = layout[2 * q];
      const qy = layout[2 * q + 1];
      for (let j = 0; j < n; j++) {
        const dx = layout[2 * j] - qx;
        const dy = layout[2 * j + 1] - qy;
        low[j] = dx * dx + dy * dy;
      }
      low[q] = Infinity;
      smallestK(low, k, lowNearest);
      for (let s = 0; s < k; s++) {
        const j = lowNearest[s];
        if (isHighNeighbour[j]) {
          hits[l]++;
          continue;
        }
        // Rank of the intruder among the data neighbours of q (1 = nearest).
        const dj = high[j];
        let rank = 1;
        for (let m = 0; m < n; m++) if (high[m] < dj) rank++;
        penalty[l] += Math.max(0, rank - k);
      }
    });
    for (let s = 0; s < k; s++) isHighNeighbour[highNearest[s]] = 0;
  }

  const m = queries.length;
  const norm = 2 / (m * k * (2 * n - 3 * k - 1));
  return layouts.map((_, l) => ({
    trustworthiness: 1 - norm * penalty[l],
    recall: hits[l] / (m * k),
    queries: m,
  }));
}

/** Trustworthiness@k of one layout (see layoutQuality). */
export function trustworthiness(data: Float32Array, n: number, d: number, layout: Float32Array, options: QualityOptions = {}): number {
  return layoutQuality(data, n, d, [layout], options)[0].trustworthiness;
}

/** kNN recall@k of one layout (see layoutQuality). */
export function knnRecall(data: Float32Array, n: number, d: number, layout: Float32Array, options: QualityOptions = {}): number {
  return layoutQuality(data, n, d, [layout], options)[0].recall;
}

export interface KlOptions {
  perplexity?: number;
  metric?: Metric;
  /** Neighbours per point for P; defaults to every other point up to 2,000 points (exact P), else 3 x perplexity. */
  neighbours?: number;
  /** A precomputed neighbour graph to build P from. */
  knnGraph?: KnnGraph;
}

/**
 * KL(P || Q) of a 2-D layout, with P the symmetrised perplexity-calibrated affinities of the data and
 * Q the Student-t affinities of the layout, normalised over all pairs exactly.
 */
export async function tsneKl(data: Float32Array, n: number, d: number, layout: Float32Array, options: KlOptions = {}): Promise<number> {
  const perplexity = options.perplexity ?? 30;
  const neighbours = Math.min(n - 1, options.neighbours ?? (n <= 2000 ? n - 1 : Math.ceil(3 * perplexity)));
  const graph =
    options.knnGraph ??
    (await knn(data, n, d, neighbours, {
      metric: options.metric ?? 'euclidean',
      // Exact up to 20k points; beyond, NN-descent with a wider search than t-SNE itself uses.
      method: n <= 20_000 ? 'exact' : 'nndescent',
      maxCandidates: 24,
      iterations: 5,
    }));
  const p = jointProbabilities(graph, perplexity);
  let z = 0;
  for (let i = 0; i < n; i++) {
    const xi = layout[2 * i];
    const yi = layout[2 * i + 1];
    let s = 0;
    for (let j = i + 1; j < n; j++) {
      const dx = xi - layout[2 * j];
      const dy = yi - layout[2 * j + 1];
      s += 1 / (1 + dx * dx + dy * dy);
    }
    z += 2 * s;
  }
  let kl = 0;
  for (let i = 0; i < n; i++) {
    for (let e = p.rowStart[i]; e < p.rowStart[i + 1]; e++) {
      const pij = p.values[e];
      if (pij <= 0) continue;
      const j = p.columns[e];
      const dx = layout[2 * i] - layout[2 * j];
      const dy = layout[2 * i + 1] - layout[2 * j + 1];
      const qij = 1 / (1 + dx * dx + dy * dy) / z;
      kl += pij * Math.log(pij / qij);
    }
  }
  return kl;
}

/** Indices of the k smallest values (any order) by a bounded max-heap. */
function smallestK(values: Float64Array, k: number, out: Int32Array): void {
  const keys = new Float64Array(k).fill(Infinity);
  out.fill(-1);
  for (let j = 0; j < values.length; j++) {
    const v = values[j];
    if (!(v < keys[0])) continue;
    let pos = 0;
    for (;;) {
      const l = 2 * pos + 1;
      if (l >= k) break;
      const r = l + 1;
      const child = r < k && keys[r] > keys[l] ? r : l;
      if (keys[child] <= v) break;
      keys[pos] = keys[child];
      out[pos] = out[child];
      pos = child;
    }
    keys[pos] = v;
    out[pos] = j;
  }
}

/** All of 0..n-1, or a seeded sample of size m without replacement. */
function sampleQueries(n: number, m: number, seed: number): Int32Array {
  const all = new Int32Array(n);
  for (let i = 0; i < n; i++) all[i] = i;
  if (m >= n) return all;
  const random = createRng(seed);
  for (let i = 0; i < m; i++) {
    const j = i + Math.floor(random() * (n - i));
    const t = all[i];
    all[i] = all[j];
    all[j] = t;
  }
  return all.slice(0, m).sort();
}
