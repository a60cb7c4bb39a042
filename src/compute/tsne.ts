import { createRng, gaussian } from '../lib/rng';
import { createPacer } from '../lib/yieldToPage';
import { knn, type KnnGraph } from './knn';
import { reducePca } from './pca';
import { TsneKernels } from './tsneKernels';
import type { RangeRunner } from './parallel/runner';
import type { Metric } from './types';

export interface TsneOptions {
  perplexity?: number;
  /** Total gradient iterations, early exaggeration included (default 750, as openTSNE: 250 + 500). */
  iterations?: number;
  metric?: Metric;
  seed?: number;
  /** Called as work proceeds; `layout` (a copy, N x 2) is passed a few times a second during optimisation. */
  onProgress?: (done: number, total: number, layout?: Float32Array) => void;
  signal?: AbortSignal;
  /** Exaggeration of P during the first `exaggerationIterations` iterations. */
  earlyExaggeration?: number;
  exaggerationIterations?: number;
  /** Step size; defaults to max(n / earlyExaggeration, 200) (Belkina et al. 2019). */
  learningRate?: number;
  /** 'pca' (default, scaled to std 1e-4) or 'random'. */
  init?: 'pca' | 'random';
  /**
   * Repulsion: 'auto' is exact (WebAssembly SIMD) up to 6,000 points and FFT-interpolated beyond; without
   * SIMD, Barnes-Hut (theta 0.5) up to 5,000 points. 'exact' uses the SIMD kernel where it can.
   */
  gradient?: 'auto' | 'exact' | 'bh' | 'fft';
  /** Use the WebAssembly SIMD kernels (gradient and neighbour search) where the runtime has them (default true); false: JavaScript only. */
  simd?: boolean;
  /** A precomputed neighbour graph (about 3 x perplexity neighbours per row) to skip the search. */
  knnGraph?: KnnGraph;
  /** Receives the neighbour graph the layout was made from (to build a search index for placing more rows). */
  onGraph?: (graph: KnnGraph) => void;
  /** Threads for the neighbour search (NN-descent); the layout is the same for any thread count. */
  runner?: RangeRunner;
}

/** Symmetric sparse matrix in CSR form. */
export interface SparseRows {
  n: number;
  rowStart: Int32Array;
  columns: Int32Array;
  values: Float32Array;
}

const PROGRESS_TOTAL = 1000;
/** The neighbour search and affinities take roughly this share of the run. */
const SETUP_SHARE = 150;
const LAYOUT_INTERVAL_MS = 200;
/**
 * Up to this many points the exact repulsion in WebAssembly SIMD beats both approximations in JavaScript
 * (measured at 750 iterations: 8.3 s at 5k against 10.3 s Barnes-Hut and 12.5 s FFT; at 8k FFT wins).
 */
const EXACT_LIMIT = 6000;
/** Without the SIMD kernels, up to this many points Barnes-Hut beats the FFT, whose grid has a fixed cost. */
const BH_LIMIT = 5000;
/**
 * FFT repulsion: the near field may measure this many candidate pairs per node of the (2g)^2 FFT before
 * the next grid up is cheaper (a pair ~3 ns; the FFT of 4x the nodes ~1.4 us per current node).
 */
const NEAR_PAIRS_PER_FFT_NODE = 256;
/** The finest grid (nodes per axis) the FFT repulsion refines to when the near field grows too costly. */
const MAX_REFINED_GRID = 512;
/** Bucket offsets (dx, dy) that meet each unordered pair of adjacent buckets once: itself, then 4 of 8. */
const NEIGHBOUR_BUCKETS = [0, 0, 1, 0, -1, 1, 0, 1, 1, 1];

/**
 * t-SNE (van der Maaten & Hinton 2008) with sparse kNN affinities; exact repulsion in WebAssembly SIMD,
 * Barnes-Hut, or FFT-interpolated repulsion (Linderman et al. 2019); early exaggeration, momentum and
 * gains. Input n x d, output n x 2.
 */
export async function tsne(data: Float32Array, n: number, d: number, options: TsneOptions = {}): Promise<Float32Array> {
  if (data.length < n * d) throw new Error(`tsne: data has ${data.length} values, expected ${n} x ${d}`);
  const seed = options.seed ?? 0;
  const perplexity = Math.max(1, Math.min(options.perplexity ?? 30, (n - 1) / 3));
  const iterations = options.iterations ?? 750;
  const exaggeration = options.earlyExaggeration ?? 12;
  const exaggerationIterations = Math.min(iterations, options.exaggerationIterations ?? 250);
  const learningRate = options.learningRate ?? Math.max(n / exaggeration, 200);
  const report = options.onProgress;
  const pacer = createPacer(options.signal, 50, 'Projection cancelled');
  const random = createRng(seed);
  if (n <= 2) return new Float32Array(n * 2);

  const neighbours = Math.min(n - 1, Math.floor(3 * perplexity));
  const graph =
    options.knnGraph ??
    (await knn(data, n, d, neighbours, {
      metric: options.metric ?? 'euclidean',
      seed,
      simd: options.simd,
      // P hardly depends on the far end of 90 neighbours: a lighter search (~97% recall) is plenty.
      maxCandidates: 16,
      iterations: 3,
      signal: options.signal,
      runner: options.runner,
      onProgress: (done, total) => report?.(Math.floor((SETUP_SHARE * done) / total), PROGRESS_TOTAL),
    }));
  options.onGraph?.(graph);
  pacer.check();
  const p = jointProbabilities(graph, perplexity);
  await pacer.pause();

  const layout = new Float64Array(n * 2);
  // A starting point only: one power iteration on a slim subspace is plenty and three times cheaper.
  const start = options.init === 'random' || d < 2 ? null : reducePca(data, n, d, 2, seed, { oversample: 6, iterations: 1 });
  {
    // openTSNE's scaling: a small start keeps early exaggeration from tearing clusters apart.
    let sd = 0;
    if (start) {
      for (let i = 0; i < n; i++) sd += start[2 * i] ** 2;
      sd = Math.sqrt(sd / n);
    }
    for (let i = 0; i < 2 * n; i++) {
      layout[i] = start && sd > 0 ? (start[i] / sd) * 1e-4 : 1e-4 * gaussian(random);
    }
  }
  report?.(SETUP_SHARE, PROGRESS_TOTAL, toFloat32(layout));

  const kernels = options.simd === false ? null : TsneKernels.create(p);
  const method =
    options.gradient === undefined || options.gradient === 'auto'
      ? kernels
        ? n <= EXACT_LIMIT
          ? 'exact'
          : 'fft'
        : n <= BH_LIMIT
          ? 'bh'
          : 'fft'
      : options.gradient;
  const repulsion = method === 'exact' ? null : method === 'bh' ? new BarnesHutRepulsion() : new FftRepulsion();
  const gradient = new Float64Array(2 * n);
  const update = new Float64Array(2 * n);
  const gains = new Float64Array(2 * n).fill(1);
  const repulsive = new Float64Array(2 * n);
  let lastLayoutAt = performance.now();

  for (let it = 0; it < iterations; it++) {
    const exaggerating = it < exaggerationIterations;
    const scale = exaggerating ? exaggeration : 1;
    const momentum = exaggerating ? 0.5 : 0.8;
    kernels?.setLayout(layout);
    const z = repulsion
      ? repulsion.compute(layout, n, repulsive)
      : kernels
        ? kernels.repulsion(repulsive)
        : exactRepulsion(layout, n, repulsive);
    // Gradient without the constant 4, matching the learning-rate convention above (openTSNE's).
    if (kernels) kernels.attraction(gradient, scale);
    else attractiveForces(p, layout, gradient, scale);
    const invZ = 1 / z;
    for (let v = 0; v < 2 * n; v++) {
      const g = gradient[v] - repulsive[v] * invZ;
      const u = update[v];
      const gain = gains[v];
      // Delta-bar-delta gains: grow a step that keeps its direction, shrink one that reverses. Both are
      // computed and one kept by arithmetic: the signs are random, and a branch on them mispredicts.
      const keeps = g * u < 0 ? 1 : 0;
      const nextGain = keeps * (gain + 0.2) + (1 - keeps) * Math.max(0.01, gain * 0.8);
      const step = momentum * u - learningRate * nextGain * g;
      gains[v] = nextGain;
      update[v] = step;
      layout[v] += step;
    }
    if (it === exaggerationIterations - 1) update.fill(0);
    const now = performance.now();
    const sendLayout = now - lastLayoutAt >= LAYOUT_INTERVAL_MS;
    if (sendLayout || pacer.due()) {
      if (sendLayout) lastLayoutAt = now;
      report?.(
        SETUP_SHARE + Math.floor(((PROGRESS_TOTAL - SETUP_SHARE) * (it + 1)) / iterations),
        PROGRESS_TOTAL,
        sendLayout ? toFloat32(layout) : undefined,
      );
      await pacer.pause();
    }
  }
  const out = toFloat32(layout);
  report?.(PROGRESS_TOTAL, PROGRESS_TOTAL, out.slice());
  return out;
}

/**
 * Symmetrised t-SNE affinities P = (P_j|i + P_i|j) / 2n from a kNN graph, each conditional row calibrated
 * to the given perplexity on squared distances.
 */
export function jointProbabilities(graph: KnnGraph, perplexity: number): SparseRows {
  const { n, k, indices, distances } = graph;
  const conditional = new Float32Array(n * k);
  const targetEntropy = Math.log(Math.min(perplexity, Math.max(1, k)));
  const squared = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    const o = i * k;
    let nearest = Infinity;
    for (let s = 0; s < k; s++) {
      const dist = indices[o + s] >= 0 ? distances[o + s] : Infinity;
      squared[s] = dist * dist;
      if (squared[s] < nearest) nearest = squared[s];
    }
    // Squared distances in excess of the nearest: P is unchanged and exp() cannot underflow.
    let spread = 0;
    let finite = 0;
    for (let s = 0; s < k; s++) {
      if (squared[s] === Infinity) continue;
      squared[s] -= nearest;
      spread += squared[s];
      finite++;
    }
    const beta = calibrateBeta(squared, k, targetEntropy, spread > 0 ? finite / spread : 1);
    let sum = 0;
    for (let s = 0; s < k; s++) {
      const w = squared[s] === Infinity ? 0 : Math.exp(-beta * squared[s]);
      conditional[o + s] = w;
      sum += w;
    }
    if (sum > 0) for (let s = 0; s < k; s++) conditional[o + s] /= sum;
  }

  // Scatter both directions into rows (counting sort by row), then merge duplicate columns in place.
  const counts = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) {
    for (let s = 0; s < k; s++) {
      const j = indices[i * k + s];
      if (j < 0 || j === i) continue;
      counts[i + 1]++;
      counts[j + 1]++;
    }
  }
  for (let i = 0; i < n; i++) counts[i + 1] += counts[i];
  const fill = counts.slice(0, n);
  const rawColumns = new Int32Array(counts[n]);
  const rawValues = new Float32Array(counts[n]);
  const norm = 1 / (2 * n);
  for (let i = 0; i < n; i++) {
    for (let s = 0; s < k; s++) {
      const j = indices[i * k + s];
      if (j < 0 || j === i) continue;
      const v = conditional[i * k + s] * norm;
      rawColumns[fill[i]] = j;
      rawValues[fill[i]++] = v;
      rawColumns[fill[j]] = i;
      rawValues[fill[j]++] = v;
    }
  }
  const slot = new Int32Array(n).fill(-1);
  const rowStart = new Int32Array(n + 1);
  const columns = new Int32Array(counts[n]);
  const values = new Float32Array(counts[n]);
  let at = 0;
  for (let i = 0; i < n; i++) {
    rowStart[i] = at;
    for (let e = counts[i]; e < counts[i + 1]; e++) {
      const j = rawColumns[e];
      if (slot[j] >= 0) {
        values[slot[j]] += rawValues[e];
      } else {
        slot[j] = at;
        columns[at] = j;
        values[at++] = rawValues[e];
      }
    }
    for (let e = rowStart[i]; e < at; e++) slot[columns[e]] = -1;
  }
  rowStart[n] = at;
  return { n, rowStart, columns: columns.slice(0, at), values: values.slice(0, at) };
}

/**
 * The precision beta whose distribution exp(-beta d_s) over the given squared distances has the target
 * entropy: Newton steps on H(beta), whose slope is -beta Var(d), kept inside a shrinking bracket and
 * falling back to bisection (about 4 passes a row where bisection alone takes ~20).
 */
function calibrateBeta(squared: Float64Array, k: number, targetEntropy: number, start: number): number {
  let beta = start;
  let lo = 0;
  let hi = Infinity;
  for (let iter = 0; iter < 100; iter++) {
    let sum = 0;
    let first = 0;
    let second = 0;
    for (let s = 0; s < k; s++) {
      const d = squared[s];
      if (d === Infinity) continue;
      const w = Math.exp(-beta * d);
      sum += w;
      first += w * d;
      second += w * d * d;
    }
    const mean = first / sum;
    const excess = Math.log(sum) + beta * mean - targetEntropy;
    if (Math.abs(excess) < 1e-5) break;
    // The entropy falls as beta grows.
    if (excess > 0) lo = beta;
    else hi = beta;
    const slope = -beta * (second / sum - mean * mean);
    let next = slope < 0 ? beta - excess / slope : NaN;
    if (!(next > lo && next < hi)) next = hi === Infinity ? beta * 2 : (lo + hi) / 2;
    beta = next;
  }
  return beta;
}

/** gradient_i = scale * sum_j p_ij w_ij (y_i - y_j), with w the Student-t kernel. */
export function attractiveForces(p: SparseRows, layout: Float64Array, gradient: Float64Array, scale: number): void {
  const { n, rowStart, columns, values } = p;
  for (let i = 0; i < n; i++) {
    const xi = layout[2 * i];
    const yi = layout[2 * i + 1];
    let gx = 0;
    let gy = 0;
    for (let e = rowStart[i]; e < rowStart[i + 1]; e++) {
      const j = columns[e];
      const dx = xi - layout[2 * j];
      const dy = yi - layout[2 * j + 1];
      const pw = values[e] / (1 + dx * dx + dy * dy);
      gx += pw * dx;
      gy += pw * dy;
    }
    gradient[2 * i] = scale * gx;
    gradient[2 * i + 1] = scale * gy;
  }
}

/** Exact sum_j w_ij^2 (y_i - y_j) into `out`; returns Z = sum_{i != j} w_ij. */
export function exactRepulsion(layout: Float64Array, n: number, out: Float64Array): number {
  out.fill(0);
  let z = 0;
  for (let i = 0; i < n; i++) {
    const xi = layout[2 * i];
    const yi = layout[2 * i + 1];
    // Two pairs per step with separate accumulators: the divisions of both overlap (~20% faster).
    let ax = 0;
    let ay = 0;
    let bx = 0;
    let by = 0;
    let za = 0;
    let zb = 0;
    let j = i + 1;
    for (; j + 1 < n; j += 2) {
      const dx0 = xi - layout[2 * j];
      const dy0 = yi - layout[2 * j + 1];
      const dx1 = xi - layout[2 * j + 2];
      const dy1 = yi - layout[2 * j + 3];
      const w0 = 1 / (1 + dx0 * dx0 + dy0 * dy0);
      const w1 = 1 / (1 + dx1 * dx1 + dy1 * dy1);
      za += w0;
      zb += w1;
      const q0 = w0 * w0;
      const q1 = w1 * w1;
      ax += q0 * dx0;
      ay += q0 * dy0;
      bx += q1 * dx1;
      by += q1 * dy1;
      out[2 * j] -= q0 * dx0;
      out[2 * j + 1] -= q0 * dy0;
      out[2 * j + 2] -= q1 * dx1;
      out[2 * j + 3] -= q1 * dy1;
    }
    for (; j < n; j++) {
      const dx = xi - layout[2 * j];
      const dy = yi - layout[2 * j + 1];
      const w = 1 / (1 + dx * dx + dy * dy);
      za += w;
      const q = w * w;
      ax += q * dx;
      ay += q * dy;
      out[2 * j] -= q * dx;
      out[2 * j + 1] -= q * dy;
    }
    out[2 * i] += ax + bx;
    out[2 * i + 1] += ay + by;
    z += za + zb;
  }
  return 2 * z;
}

/**
 * Barnes-Hut repulsion (van der Maaten 2014) on a quadtree kept in flat typed arrays: a cell whose
 * width over distance is below theta acts as one point at its centre of mass.
 */
export class BarnesHutRepulsion {
  constructor(private readonly theta = 0.5) {}
  private order = new Int32Array(0);
  private scratch = new Int32Array(0);
  /** Four numbers per node: centre of mass x and y, point count, (cell width / theta)^2. */
  private node = new Float64Array(0);
  private firstChild = new Int32Array(0);
  private rangeStart = new Int32Array(0);
  private rangeEnd = new Int32Array(0);
  private stack = new Int32Array(0);
  /** Build stack: (node, x0, y0, size, range start, range end, depth) per pending node. */
  private work = new Float64Array(0);
  private readonly bounds = new Int32Array(5);
  private readonly fill = new Int32Array(4);

  /** Fills out_i = sum_j w_ij^2 (y_i - y_j) and returns Z = sum_{i != j} w_ij. */
  compute(layout: Float64Array, n: number, out: Float64Array): number {
    this.build(layout, n);
    const { node, firstChild, rangeStart, rangeEnd, order, stack } = this;
    let z = 0;
    for (let i = 0; i < n; i++) {
      const xi = layout[2 * i];
      const yi = layout[2 * i + 1];
      let fx = 0;
      let fy = 0;
      let zi = 0;
      let top = 0;
      stack[top++] = 0;
      while (top > 0) {
        const k = stack[--top];
        const o = 4 * k;
        const dx = xi - node[o];
        const dy = yi - node[o + 1];
        const d2 = dx * dx + dy * dy;
        if (node[o + 3] < d2) {
          // Far enough: the whole cell acts as one point (never the cell holding i when theta < 0.7).
          const c = node[o + 2];
          const w = 1 / (1 + d2);
          zi += c * w;
          const q = c * w * w;
          fx += q * dx;
          fy += q * dy;
        } else {
          const f = firstChild[k];
          if (f < 0) {
            // Near leaf: its few points one by one.
            for (let s = rangeStart[k]; s < rangeEnd[k]; s++) {
              const j = order[s];
              if (j === i) continue;
              const ex = xi - layout[2 * j];
              const ey = yi - layout[2 * j + 1];
              const w = 1 / (1 + ex * ex + ey * ey);
              zi += w;
              const q = w * w;
              fx += q * ex;
              fy += q * ey;
            }
          } else {
            if (node[4 * f + 2] > 0) stack[top++] = f;
            if (node[4 * f + 6] > 0) stack[top++] = f + 1;
            if (node[4 * f + 10] > 0) stack[top++] = f + 2;
            if (node[4 * f + 14] > 0) stack[top++] = f + 3;
          }
        }
      }
      out[2 * i] = fx;
      out[2 * i + 1] = fy;
      z += zi;
    }
    return z;
  }

  /** Quadtree over the points: a node's children are 4 consecutive nodes; leaves hold up to 8 points. */
  private build(layout: Float64Array, n: number): void {
    const maxNodes = 4 * n + 16;
    if (this.order.length < n) {
      this.order = new Int32Array(n);
      this.scratch = new Int32Array(n);
    }
    if (this.firstChild.length < maxNodes) {
      this.node = new Float64Array(4 * maxNodes);
      this.firstChild = new Int32Array(maxNodes);
      this.rangeStart = new Int32Array(maxNodes);
      this.rangeEnd = new Int32Array(maxNodes);
      this.stack = new Int32Array(maxNodes);
      this.work = new Float64Array(7 * maxNodes);
    }
    const { order, scratch, node, firstChild, rangeStart, rangeEnd, work } = this;
    let minX = Infinity;
    let minY = Infinity;
    let maxX = -Infinity;
    let maxY = -Infinity;
    for (let i = 0; i < n; i++) {
      const x = layout[2 * i];
      const y = layout[2 * i + 1];
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
      order[i] = i;
    }
    const size = Math.max(maxX - minX, maxY - minY, 1e-12) * (1 + 1e-9);
    const invTheta2 = 1 / (this.theta * this.theta);
    let nodes = 1;
    let top = 0;
    work.set([0, minX, minY, size, 0, n, 0], 0);
    top = 7;
    while (top > 0) {
      const depth = work[--top];
      const end = work[--top];
      const start = work[--top];
      const s = work[--top];
      const y0 = work[--top];
      const x0 = work[--top];
      const k = work[--top];
      const m = end - start;
      let sx = 0;
      let sy = 0;
      for (let a = start; a < end; a++) {
        const p = order[a];
        sx += layout[2 * p];
        sy += layout[2 * p + 1];
      }
      const o = 4 * k;
      node[o] = m > 0 ? sx / m : 0;
      node[o + 1] = m > 0 ? sy / m : 0;
      node[o + 2] = m;
      node[o + 3] = s * s * invTheta2;
      rangeStart[k] = start;
      rangeEnd[k] = end;
      if (m <= 8 || depth > 40) {
        firstChild[k] = -1;
        continue;
      }
      // Partition the range into quadrants 0..3 (bit 0: right half, bit 1: top half) by counting.
      const half = s / 2;
      const mx = x0 + half;
      const my = y0 + half;
      const quadrant = (p: number) => (layout[2 * p] >= mx ? 1 : 0) | (layout[2 * p + 1] >= my ? 2 : 0);
      const bounds = this.bounds;
      bounds.fill(0);
      for (let a = start; a < end; a++) bounds[quadrant(order[a]) + 1]++;
      bounds[0] = start;
      for (let q = 0; q < 4; q++) bounds[q + 1] += bounds[q];
      const fill = this.fill;
      fill.set(bounds.subarray(0, 4));
      for (let a = start; a < end; a++) {
        const p = order[a];
        scratch[fill[quadrant(p)]++] = p;
      }
      for (let a = start; a < end; a++) order[a] = scratch[a];
      const first = nodes;
      nodes += 4;
      firstChild[k] = first;
      for (let q = 0; q < 4; q++) {
        work[top++] = first + q;
        work[top++] = q & 1 ? mx : x0;
        work[top++] = q & 2 ? my : y0;
        work[top++] = half;
        work[top++] = bounds[q];
        work[top++] = bounds[q + 1];
        work[top++] = depth + 1;
      }
    }
  }
}

/**
 * Repulsion by FFT-accelerated interpolation (FIt-SNE, Linderman et al. 2019) with a near/far split
 * (as in particle-particle particle-mesh codes): w^2 = K_far + K_near, where K_far is w^2 flattened
 * inside a radius R. The smooth K_far goes through the grid: charges [1, x, y, x^2 + y^2] are spread
 * with cubic Lagrange weights, convolved by FFT and interpolated back. K_near, zero beyond R, is summed
 * exactly over cell lists. A smooth far kernel tolerates a coarse grid, so the FFT stays small even
 * when well-separated clusters stretch the layout.
 */
export class FftRepulsion {
  /**
   * targetSpacing: grid spacing while the grid has room (layout units; the kernel's width is 1);
   * maxGrid: nodes per axis at most (raised to ~0.7 sqrt(n) for large n), beyond which the spacing
   * grows with the layout instead;
   * nearRadius: R in grid spacings.
   */
  constructor(
    private readonly targetSpacing = 0.5,
    private readonly maxGrid = 128,
    private readonly nearRadius = 2.5,
  ) {}

  /** Nodes per axis of the grid the last compute() used. */
  grid = 0;
  private kernelKey = '';
  private kernelHat = new Float64Array(0);
  private fft: Fft | null = null;
  private re1 = new Float64Array(0);
  private im1 = new Float64Array(0);
  private re2 = new Float64Array(0);
  private im2 = new Float64Array(0);
  private weightsX = new Float64Array(0);
  private weightsY = new Float64Array(0);
  private cellX = new Int32Array(0);
  private cellY = new Int32Array(0);
  private bucketStart = new Int32Array(0);
  private bucketPoints = new Int32Array(0);
  private bucketOf = new Int32Array(0);
  private sortedX = new Float64Array(0);
  private sortedY = new Float64Array(0);
  private sortedFx = new Float64Array(0);
  private sortedFy = new Float64Array(0);
  private nearTable = new Float64Array(0);
  private nearTableZ = new Float64Array(0);

  /** Fills out_i = sum_j w_ij^2 (y_i - y_j) and returns Z = sum_{i != j} w_ij. */
  compute(layout: Float64Array, n: number, out: Float64Array): number {
    let lo = Infinity;
    let hi = -Infinity;
    for (let v = 0; v < 2 * n; v++) {
      if (layout[v] < lo) lo = layout[v];
      if (layout[v] > hi) hi = layout[v];
    }
    const extent = Math.max(hi - lo, 1e-9);
    const P = 4;
    // Nodes 0..g-1 with one node of margin below and two above, as the cubic stencil needs. The grid
    // grows for accuracy (spacing) and for density: the near field costs ~ n^2 / g^2 pairs, the FFT
    // ~ g^2 log g, which balance near g ~ sqrt(n). A dense early-exaggeration layout needs the latter.
    const densityGrid = 0.7 * Math.sqrt(n);
    const cap = Math.max(this.maxGrid, densityGrid);
    let g = 32;
    while (g < cap && (extent / this.targetSpacing + P > g || g < densityGrid)) g *= 2;
    this.reserve(n);
    let h = 0;
    let radius = 0;
    let side = 0;
    for (;;) {
      // Spacings on a ladder of 2^(1/8) steps, so the kernel's transform is reused while the layout grows.
      h = Math.pow(2, Math.ceil(Math.log2(extent / (g - P)) * 8) / 8);
      // On a fine grid w^2 itself is smooth enough to interpolate (~0.1% error at h = 0.25): no near field.
      radius = h <= 0.3 ? 0 : this.nearRadius * h;
      if (radius === 0) break;
      side = this.bucket(layout, n, lo, hi, radius);
      // A dense core inside a wide layout (early exaggeration, 100k points) can put thousands of points
      // within the radius: then the next grid up, whose FFT costs ~4x, is far cheaper than the near field.
      if (g >= MAX_REFINED_GRID || this.nearCandidates(side) <= NEAR_PAIRS_PER_FFT_NODE * (2 * g) ** 2) break;
      g *= 2;
    }
    const origin = lo - h;
    this.grid = g;
    this.prepare(g, h, radius);

    const m = 2 * g;
    const { re1, im1, re2, im2, weightsX, weightsY, cellX, cellY } = this;
    re1.fill(0);
    im1.fill(0);
    re2.fill(0);
    im2.fill(0);
    for (let i = 0; i < n; i++) {
      const x = layout[2 * i];
      const y = layout[2 * i + 1];
      const ux = (x - origin) / h;
      const uy = (y - origin) / h;
      const fx = Math.min(g - 3, Math.max(1, Math.floor(ux)));
      const fy = Math.min(g - 3, Math.max(1, Math.floor(uy)));
      cellX[i] = fx - 1;
      cellY[i] = fy - 1;
      lagrangeCubic(ux - fx, weightsX, 4 * i);
      lagrangeCubic(uy - fy, weightsY, 4 * i);
      const q3 = x * x + y * y;
      for (let a = 0; a < 4; a++) {
        const row = (cellY[i] + a) * m + cellX[i];
        const wy = weightsY[4 * i + a];
        for (let b = 0; b < 4; b++) {
          const w = wy * weightsX[4 * i + b];
          // Two real charges per complex grid: [1 + i x] and [y + i (x^2 + y^2)].
          re1[row + b] += w;
          im1[row + b] += w * x;
          re2[row + b] += w * y;
          im2[row + b] += w * q3;
        }
      }
    }
    const fft = this.fft!;
    fft.forward2d(re1, im1, g);
    fft.forward2d(re2, im2, g);
    const kh = this.kernelHat;
    for (let v = 0; v < m * m; v++) {
      re1[v] *= kh[v];
      im1[v] *= kh[v];
      re2[v] *= kh[v];
      im2[v] *= kh[v];
    }
    fft.inverse2d(re1, im1, g);
    fft.inverse2d(re2, im2, g);

    let z = 0;
    for (let i = 0; i < n; i++) {
      let phi0 = 0;
      let phiX = 0;
      let phiY = 0;
      let phiQ = 0;
      for (let a = 0; a < 4; a++) {
        const row = (cellY[i] + a) * m + cellX[i];
        const wy = weightsY[4 * i + a];
        for (let b = 0; b < 4; b++) {
          const w = wy * weightsX[4 * i + b];
          phi0 += w * re1[row + b];
          phiX += w * im1[row + b];
          phiY += w * re2[row + b];
          phiQ += w * im2[row + b];
        }
      }
      const x = layout[2 * i];
      const y = layout[2 * i + 1];
      // sum_j K (1 + |y_i - y_j|^2) expanded in the four charges; for K = w^2 it is sum_j w.
      z += (1 + x * x + y * y) * phi0 - 2 * (x * phiX + y * phiY) + phiQ;
      out[2 * i] = x * phi0 - phiX;
      out[2 * i + 1] = y * phi0 - phiY;
    }
    // The grid counted each point against itself with K_far(0).
    z -= n * farKernel(0, radius * radius);
    if (radius > 0) z += this.nearField(layout, n, side, radius, out);
    return Math.max(z, 1e-12);
  }

  /**
   * Sorts the points into square buckets of side >= radius (so every near pair lies in the same or an
   * adjacent bucket): bucketStart (CSR offsets), bucketPoints (point indices in bucket order), bucketOf.
   * Returns the number of buckets per axis.
   */
  private bucket(layout: Float64Array, n: number, lo: number, hi: number, radius: number): number {
    const side = Math.max(1, Math.min(4096, Math.floor((hi - lo) / radius) + 1));
    const buckets = side * side;
    if (this.bucketStart.length < buckets + 1) this.bucketStart = new Int32Array(buckets + 1);
    const start = this.bucketStart;
    const points = this.bucketPoints;
    const of = this.bucketOf;
    start.fill(0, 0, buckets + 1);
    for (let i = 0; i < n; i++) {
      const bx = Math.min(side - 1, Math.floor((layout[2 * i] - lo) / radius));
      const by = Math.min(side - 1, Math.floor((layout[2 * i + 1] - lo) / radius));
      of[i] = by * side + bx;
      start[of[i] + 1]++;
    }
    for (let b = 0; b < buckets; b++) start[b + 1] += start[b];
    const fill = start.slice(0, buckets);
    for (let i = 0; i < n; i++) points[fill[of[i]]++] = i;
    return side;
  }

  /** Pairs the near field would measure over the current buckets: each bucket with itself and 4 neighbours. */
  private nearCandidates(side: number): number {
    const start = this.bucketStart;
    let pairs = 0;
    for (let by = 0; by < side; by++) {
      for (let bx = 0; bx < side; bx++) {
        const b = by * side + bx;
        const count = start[b + 1] - start[b];
        if (count === 0) continue;
        let around = 0;
        for (let nb = 1; nb < 5; nb++) {
          const cx = bx + NEIGHBOUR_BUCKETS[2 * nb];
          const cy = by + NEIGHBOUR_BUCKETS[2 * nb + 1];
          if (cx < 0 || cx >= side || cy >= side) continue;
          around += start[cy * side + cx + 1] - start[cy * side + cx];
        }
        pairs += (count * (count - 1)) / 2 + count * around;
      }
    }
    return pairs;
  }

  /** Adds sum_j K_near(r_ij) (y_i - y_j) to out over pairs closer than the radius; returns their Z share. */
  private nearField(layout: Float64Array, n: number, side: number, radius: number, out: Float64Array): number {
    const rr = radius * radius;
    const start = this.bucketStart;
    const points = this.bucketPoints;
    // Coordinates and forces in bucket order, so the pair loops read contiguous memory.
    const xs = this.sortedX;
    const ys = this.sortedY;
    const fxs = this.sortedFx;
    const fys = this.sortedFy;
    for (let s = 0; s < n; s++) {
      xs[s] = layout[2 * points[s]];
      ys[s] = layout[2 * points[s] + 1];
      fxs[s] = 0;
      fys[s] = 0;
    }
    const table = this.nearTable;
    const tableZ = this.nearTableZ;
    const steps = (table.length - 2) / rr;

    let z = 0;
    for (let by = 0; by < side; by++) {
      for (let bx = 0; bx < side; bx++) {
        const b = by * side + bx;
        const bEnd = start[b + 1];
        if (start[b] === bEnd) continue;
        for (let nb = 0; nb < 5; nb++) {
          const cx = bx + NEIGHBOUR_BUCKETS[2 * nb];
          const cy = by + NEIGHBOUR_BUCKETS[2 * nb + 1];
          if (cx < 0 || cx >= side || cy >= side) continue;
          const c = cy * side + cx;
          const cEnd = start[c + 1];
          for (let s = start[b]; s < bEnd; s++) {
            const xi = xs[s];
            const yi = ys[s];
            let fx = 0;
            let fy = 0;
            for (let t = nb === 0 ? s + 1 : start[c]; t < cEnd; t++) {
              const dx = xi - xs[t];
              const dy = yi - ys[t];
              const d2 = dx * dx + dy * dy;
              if (d2 >= rr) continue;
              // K_near and (1 + r^2) K_near tabulated on r^2: w^2 - K_far costs two divisions otherwise.
              const u = d2 * steps;
              const k = u | 0;
              const f = u - k;
              const near = table[k] + f * (table[k + 1] - table[k]);
              z += tableZ[k] + f * (tableZ[k + 1] - tableZ[k]);
              fx += near * dx;
              fy += near * dy;
              fxs[t] -= near * dx;
              fys[t] -= near * dy;
            }
            fxs[s] += fx;
            fys[s] += fy;
          }
        }
      }
    }
    for (let s = 0; s < n; s++) {
      out[2 * points[s]] += fxs[s];
      out[2 * points[s] + 1] += fys[s];
    }
    return 2 * z;
  }

  /** Per-point buffers for n points. */
  private reserve(n: number): void {
    if (this.cellX.length < n) {
      this.weightsX = new Float64Array(4 * n);
      this.weightsY = new Float64Array(4 * n);
      this.cellX = new Int32Array(n);
      this.cellY = new Int32Array(n);
      this.bucketPoints = new Int32Array(n);
      this.bucketOf = new Int32Array(n);
      this.sortedX = new Float64Array(n);
      this.sortedY = new Float64Array(n);
      this.sortedFx = new Float64Array(n);
      this.sortedFy = new Float64Array(n);
    }
  }

  /** The FFT and grid buffers for a g x g grid, and the far kernel's transform and near tables for h and radius. */
  private prepare(g: number, h: number, radius: number): void {
    const m = 2 * g;
    if (!this.fft || this.fft.size !== m) {
      this.fft = new Fft(m);
      this.re1 = new Float64Array(m * m);
      this.im1 = new Float64Array(m * m);
      this.re2 = new Float64Array(m * m);
      this.im2 = new Float64Array(m * m);
    }
    const key = `${g}:${h}:${radius}`;
    if (key === this.kernelKey) return;
    const rr = radius * radius;
    const entries = 2048;
    this.nearTable = new Float64Array(entries + 2);
    this.nearTableZ = new Float64Array(entries + 2);
    for (let k = 0; k <= entries; k++) {
      const d2 = (k / entries) * rr;
      const w = 1 / (1 + d2);
      this.nearTable[k] = w * w - farKernel(d2, rr);
      this.nearTableZ[k] = this.nearTable[k] * (1 + d2);
    }
    // Circulant embedding of the Toeplitz far kernel on a 2g x 2g torus; its transform is real and even.
    const re = new Float64Array(m * m);
    const im = new Float64Array(m * m);
    for (let r = 0; r < m; r++) {
      if (r === g) continue;
      const dr = (r < g ? r : r - m) * h;
      for (let c = 0; c < m; c++) {
        if (c === g) continue;
        const dc = (c < g ? c : c - m) * h;
        re[r * m + c] = farKernel(dr * dr + dc * dc, rr);
      }
    }
    this.fft!.forward2d(re, im, m);
    const scale = 1 / (m * m);
    for (let v = 0; v < m * m; v++) re[v] *= scale;
    this.kernelHat = re;
    this.kernelKey = key;
  }
}

/**
 * w^2 = (1 + r^2)^-2 beyond the radius (r^2 >= rr); inside, r^2 is replaced by r^2 + (rr - r^2)^3 / (3 rr^2),
 * which meets it with two matching derivatives at the radius and is flat at 0: smooth enough for the grid.
 */
function farKernel(d2: number, rr: number): number {
  const u = d2 >= rr ? d2 : d2 + ((rr - d2) * (rr - d2) * (rr - d2)) / (3 * rr * rr);
  const w = 1 / (1 + u);
  return w * w;
}

/** Cubic Lagrange weights for nodes at -1, 0, 1, 2 evaluated at t in [0, 1). */
function lagrangeCubic(t: number, out: Float64Array, offset: number): void {
  const tm1 = t - 1;
  const tm2 = t - 2;
  const tp1 = t + 1;
  out[offset] = (-t * tm1 * tm2) / 6;
  out[offset + 1] = (tp1 * tm1 * tm2) / 2;
  out[offset + 2] = (-tp1 * t * tm2) / 2;
  out[offset + 3] = (tp1 * t * tm1) / 6;
}

/** Radix-2 complex FFT of one power-of-two size, with 2-D transforms over an m x m row-major grid. */
export class Fft {
  private readonly cos: Float64Array;
  private readonly sin: Float64Array;
  private readonly reversed: Int32Array;
  /** Columns are transformed this many at a time, gathered into contiguous buffers. */
  private static readonly BLOCK = 8;
  private readonly bufRe: Float64Array;
  private readonly bufIm: Float64Array;

  constructor(readonly size: number) {
    if (size & (size - 1)) throw new Error(`Fft size ${size} is not a power of two`);
    this.cos = new Float64Array(size / 2);
    this.sin = new Float64Array(size / 2);
    for (let j = 0; j < size / 2; j++) {
      this.cos[j] = Math.cos((2 * Math.PI * j) / size);
      this.sin[j] = Math.sin((2 * Math.PI * j) / size);
    }
    this.reversed = new Int32Array(size);
    const bits = Math.log2(size);
    for (let j = 0; j < size; j++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((j >> b) & 1) << (bits - 1 - b);
      this.reversed[j] = r;
    }
    this.bufRe = new Float64Array(size * Fft.BLOCK);
    this.bufIm = new Float64Array(size * Fft.BLOCK);
  }

  /** In-place butterflies on br/bi[offset..offset+size), which must already be in bit-reversed order. */
  private butterflies(br: Float64Array, bi: Float64Array, offset: number, inverse: boolean): void {
    const n = this.size;
    const sign = inverse ? 1 : -1;
    for (let len = 2; len <= n; len <<= 1) {
      const half = len >> 1;
      const step = n / len;
      for (let j = 0; j < half; j++) {
        const wr = this.cos[j * step];
        const wi = sign * this.sin[j * step];
        for (let a = offset + j; a < offset + n; a += len) {
          const b = a + half;
          const tr = wr * br[b] - wi * bi[b];
          const ti = wr * bi[b] + wi * br[b];
          br[b] = br[a] - tr;
          bi[b] = bi[a] - ti;
          br[a] += tr;
          bi[a] += ti;
        }
      }
    }
  }

  /** Transform rows [0, rows) of an m x m grid in place. */
  private rows(re: Float64Array, im: Float64Array, rows: number, inverse: boolean): void {
    const m = this.size;
    const br = this.bufRe;
    const bi = this.bufIm;
    const rev = this.reversed;
    for (let r = 0; r < rows; r++) {
      const o = r * m;
      for (let s = 0; s < m; s++) {
        br[s] = re[o + rev[s]];
        bi[s] = im[o + rev[s]];
      }
      this.butterflies(br, bi, 0, inverse);
      re.set(br.subarray(0, m), o);
      im.set(bi.subarray(0, m), o);
    }
  }

  /** Transform every column of an m x m grid in place, a block of columns at a time so reads stay row-contiguous. */
  private columns(re: Float64Array, im: Float64Array, inverse: boolean): void {
    const m = this.size;
    const block = Math.min(Fft.BLOCK, m);
    const br = this.bufRe;
    const bi = this.bufIm;
    const rev = this.reversed;
    for (let c0 = 0; c0 < m; c0 += block) {
      for (let s = 0; s < m; s++) {
        const o = rev[s] * m + c0;
        for (let c = 0; c < block; c++) {
          br[c * m + s] = re[o + c];
          bi[c * m + s] = im[o + c];
        }
      }
      for (let c = 0; c < block; c++) this.butterflies(br, bi, c * m, inverse);
      for (let s = 0; s < m; s++) {
        const o = s * m + c0;
        for (let c = 0; c < block; c++) {
          re[o + c] = br[c * m + s];
          im[o + c] = bi[c * m + s];
        }
      }
    }
  }

  /** Forward 2-D transform of an m x m grid whose rows from `filledRows` on are zero. */
  forward2d(re: Float64Array, im: Float64Array, filledRows: number): void {
    this.rows(re, im, filledRows, false);
    this.columns(re, im, false);
  }

  /** Inverse 2-D transform (unnormalised) computing only the first `neededRows` rows of the result. */
  inverse2d(re: Float64Array, im: Float64Array, neededRows: number): void {
    this.columns(re, im, true);
    this.rows(re, im, neededRows, true);
  }
}

function toFloat32(layout: Float64Array): Float32Array {
  return Float32Array.from(layout);
}
