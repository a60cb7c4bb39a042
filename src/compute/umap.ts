import { createRng, gaussian } from '../lib/rng';
import { createPacer } from '../lib/yieldToPage';
import { knn, type KnnGraph } from './knn';
import { reducePca, symmetricEigen } from './pca';
import { allocate, inProcessRunner, shareWith, type RangeRunner } from './parallel/runner';
import type { Metric } from './types';

export interface UmapOptions {
  /** Size of the local neighbourhood, the point itself included (as in umap-learn). */
  nNeighbors?: number;
  minDist?: number;
  /** Optimisation epochs; 500 up to 10,000 points, 200 beyond (umap-learn's default). */
  epochs?: number;
  metric?: Metric;
  seed?: number;
  /** Called as work proceeds; `layout` (a copy, N x 2) is passed a few times a second during optimisation. */
  onProgress?: (done: number, total: number, layout?: Float32Array) => void;
  signal?: AbortSignal;
  /** A precomputed neighbour graph (nNeighbors - 1 neighbours per row, self excluded) to skip the search. */
  knnGraph?: KnnGraph;
  /** Receives the neighbour graph the layout was made from (to build a search index for placing more rows). */
  onGraph?: (graph: KnnGraph) => void;
  /** Threads for the neighbour search (NN-descent); the layout is the same for any thread count. */
  runner?: RangeRunner;
  /** 'spectral' (default) or 'pca'. */
  init?: 'spectral' | 'pca';
  spread?: number;
  negativeSampleRate?: number;
  learningRate?: number;
}

/** Progress units: the neighbour search gets the first 30%, graph and initialisation the next 5%. */
const PROGRESS_TOTAL = 1000;
const KNN_SHARE = 300;
const SETUP_SHARE = 50;
/** How often an intermediate layout goes to onProgress while the layout settles. */
const LAYOUT_INTERVAL_MS = 200;

/**
 * UMAP (McInnes et al. 2018) on typed arrays: kNN graph, fuzzy simplicial set, spectral initialisation
 * and the umap-learn SGD with negative sampling. Input n x d row-major, output n x 2 row-major.
 */
export async function umap(data: Float32Array, n: number, d: number, options: UmapOptions = {}): Promise<Float32Array> {
  if (data.length < n * d) throw new Error(`umap: data has ${data.length} values, expected ${n} x ${d}`);
  const nNeighbors = Math.max(2, Math.min(options.nNeighbors ?? 15, n));
  const minDist = options.minDist ?? 0.1;
  const spread = options.spread ?? 1;
  const metric = options.metric ?? 'euclidean';
  const seed = options.seed ?? 0;
  const epochs = options.epochs ?? (n <= 10_000 ? 500 : 200);
  const report = options.onProgress;
  const pacer = createPacer(options.signal, 50, 'Projection cancelled');
  const random = createRng(seed);
  if (n <= 2) return trivialLayout(n);

  const graph =
    options.knnGraph ??
    (await knn(data, n, d, nNeighbors - 1, {
      metric,
      seed,
      signal: options.signal,
      runner: options.runner,
      onProgress: (done, total) => report?.(Math.floor((KNN_SHARE * done) / total), PROGRESS_TOTAL),
    }));
  options.onGraph?.(graph);
  pacer.check();
  const edges = fuzzySimplicialSet(graph, nNeighbors);
  pruneWeakEdges(edges, epochs);
  report?.(KNN_SHARE + SETUP_SHARE / 2, PROGRESS_TOTAL);
  await pacer.pause();

  const principal = pcaLayout(data, n, d, seed);
  const layout = options.init === 'pca' ? principal : spectralLayout(edges, n, data, d, random, principal) ?? principal;
  prepareInitialLayout(layout, n, random);
  report?.(KNN_SHARE + SETUP_SHARE, PROGRESS_TOTAL, layout.slice());
  await pacer.pause();

  const { a, b } = fitCurve(spread, minDist);
  await optimiseLayout(layout, n, edges, {
    a,
    b,
    epochs,
    negativeSampleRate: options.negativeSampleRate ?? 5,
    learningRate: options.learningRate ?? 1,
    random,
    pacer,
    runner: options.runner,
    report: (epoch, withLayout) =>
      report?.(
        KNN_SHARE + SETUP_SHARE + Math.floor(((PROGRESS_TOTAL - KNN_SHARE - SETUP_SHARE) * epoch) / epochs),
        PROGRESS_TOTAL,
        withLayout ? layout.slice() : undefined,
      ),
  });
  report?.(PROGRESS_TOTAL, PROGRESS_TOTAL, layout.slice());
  return layout;
}

/** Symmetric weighted graph as a CSR matrix; each undirected edge appears in both rows. */
export interface WeightedGraph {
  n: number;
  rowStart: Int32Array;
  columns: Int32Array;
  weights: Float32Array;
}

/**
 * UMAP's fuzzy simplicial set: per-point smooth kNN distances (rho, sigma), membership strengths,
 * then the fuzzy union w_ij + w_ji - w_ij w_ji.
 */
export function fuzzySimplicialSet(graph: KnnGraph, nNeighbors: number): WeightedGraph {
  const { n, k, indices, distances } = graph;
  const directed = new Float32Array(n * k);
  // umap-learn counts the point itself among its n_neighbors, so the target entropy is log2(nNeighbors).
  const target = Math.log2(nNeighbors);
  let meanAll = 0;
  let counted = 0;
  for (let e = 0; e < n * k; e++) {
    if (indices[e] >= 0 && Number.isFinite(distances[e])) {
      meanAll += distances[e];
      counted++;
    }
  }
  meanAll = counted > 0 ? meanAll / counted : 1;
  for (let i = 0; i < n; i++) {
    const o = i * k;
    let rho = 0;
    let mean = 0;
    let valid = 0;
    for (let s = 0; s < k; s++) {
      if (indices[o + s] < 0) continue;
      const dist = distances[o + s];
      if (rho === 0 && dist > 0) rho = dist;
      mean += dist;
      valid++;
    }
    mean = valid > 0 ? mean / valid : 0;
    let sigma = bisectSigma(distances, indices, o, k, rho, target);
    // umap-learn's floor keeps sigma from collapsing where all neighbours sit at the same distance.
    const floor = 1e-3 * (rho > 0 ? mean : meanAll);
    if (sigma < floor) sigma = floor;
    for (let s = 0; s < k; s++) {
      if (indices[o + s] < 0 || indices[o + s] === i) continue;
      const gap = distances[o + s] - rho;
      directed[o + s] = gap <= 0 ? 1 : Math.exp(-gap / sigma);
    }
  }

  // Reverse lookup w_ji by scanning j's short list; k is small, so this beats building a transpose.
  const weightOf = (i: number, j: number): number => {
    const o = j * k;
    for (let s = 0; s < k; s++) if (indices[o + s] === i) return directed[o + s];
    return 0;
  };
  // Each undirected pair once: from i, and from j only if i is not in j's list. Fuzzy union of the two ways.
  const forEachPair = (visit: (i: number, j: number, w: number) => void): void => {
    for (let i = 0; i < n; i++) {
      const o = i * k;
      for (let s = 0; s < k; s++) {
        const j = indices[o + s];
        if (j < 0 || j === i || directed[o + s] === 0) continue;
        const back = weightOf(i, j);
        if (back > 0 && j < i) continue;
        visit(i, j, directed[o + s] + back - directed[o + s] * back);
      }
    }
  };
  // Two passes into CSR: count each row's pairs, then place them.
  const rowStart = new Int32Array(n + 1);
  forEachPair((i, j) => {
    rowStart[i + 1]++;
    rowStart[j + 1]++;
  });
  for (let i = 0; i < n; i++) rowStart[i + 1] += rowStart[i];
  const fill = rowStart.slice(0, n);
  const columns = new Int32Array(rowStart[n]);
  const weights = new Float32Array(rowStart[n]);
  forEachPair((i, j, w) => {
    columns[fill[i]] = j;
    weights[fill[i]++] = w;
    columns[fill[j]] = i;
    weights[fill[j]++] = w;
  });
  return { n, rowStart, columns, weights };
}

/**
 * The sigma with sum_s exp(-max(0, d_s - rho) / sigma) = target over the k distances from offset o (those whose index
 * is >= 0 where `indices` is given), by bisection: UMAP's smooth kNN distance, for the fit and for placed rows.
 */
export function bisectSigma(distances: ArrayLike<number>, indices: ArrayLike<number> | null, o: number, k: number, rho: number, target: number): number {
  let lo = 0;
  let hi = Infinity;
  let sigma = 1;
  for (let it = 0; it < 64; it++) {
    let sum = 0;
    for (let s = 0; s < k; s++) {
      if (indices && indices[o + s] < 0) continue;
      const gap = distances[o + s] - rho;
      sum += gap > 0 ? Math.exp(-gap / sigma) : 1;
    }
    if (Math.abs(sum - target) < 1e-5) break;
    if (sum > target) {
      hi = sigma;
      sigma = (lo + hi) / 2;
    } else {
      lo = sigma;
      sigma = hi === Infinity ? sigma * 2 : (lo + hi) / 2;
    }
  }
  return sigma;
}

/** Drop edges too weak to be sampled even once in the given number of epochs (umap-learn does the same). */
function pruneWeakEdges(graph: WeightedGraph, epochs: number): void {
  let max = 0;
  for (let e = 0; e < graph.weights.length; e++) if (graph.weights[e] > max) max = graph.weights[e];
  const threshold = max / epochs;
  for (let e = 0; e < graph.weights.length; e++) if (graph.weights[e] < threshold) graph.weights[e] = 0;
}

/**
 * Spectral initialisation: leading non-trivial eigenvectors of the normalised adjacency
 * D^-1/2 W D^-1/2, by a bounded subspace iteration started from the data's first two principal
 * components. Disconnected components are laid out separately and placed by the PCA of their
 * centroids, as umap-learn's multi-component layout does. Returns null on failure.
 */
export function spectralLayout(
  graph: WeightedGraph,
  n: number,
  data: Float32Array,
  d: number,
  random: () => number,
  start: Float32Array,
): Float32Array | null {
  const component = connectedComponents(graph);
  const count = component.reduce((m, c) => Math.max(m, c + 1), 0);
  const members: Int32Array[] = [];
  {
    const sizes = new Int32Array(count);
    for (let i = 0; i < n; i++) sizes[component[i]]++;
    for (let c = 0; c < count; c++) members.push(new Int32Array(sizes[c]));
    const fill = new Int32Array(count);
    for (let i = 0; i < n; i++) members[component[i]][fill[component[i]]++] = i;
  }
  // Each vertex's index within its own component; edges never leave a component, so one array serves all.
  const local = new Int32Array(n);
  for (const m of members) for (let t = 0; t < m.length; t++) local[m[t]] = t;
  const layout = new Float32Array(n * 2);
  // One budget for the whole graph however it splits: cost is rounds x entries x block width.
  const rounds = Math.max(10, Math.min(200, Math.round(SPECTRAL_BUDGET / Math.max(1, graph.columns.length * 6))));
  if (count === 1) {
    const coords = componentEigenvectors(graph, members[0], local, random, start, rounds);
    if (!coords) return null;
    layout.set(coords);
    return layout;
  }

  // Place components by the PCA of their centroids, then fit each inside half the gap to its nearest neighbour.
  const centroids = new Float32Array(count * d);
  for (let c = 0; c < count; c++) {
    const m = members[c];
    for (const i of m) for (let j = 0; j < d; j++) centroids[c * d + j] += data[i * d + j] / m.length;
  }
  const centres = count > 2 ? reducePca(centroids, count, d, 2, 1) : new Float32Array([-1, 0, 1, 0].slice(0, count * 2));
  let extent = 0;
  for (let v = 0; v < centres.length; v++) extent = Math.max(extent, Math.abs(centres[v]));
  for (let v = 0; v < centres.length; v++) centres[v] = extent > 0 ? (10 * centres[v]) / extent : 0;
  for (let c = 0; c < count; c++) {
    let gap = Infinity;
    for (let o = 0; o < count; o++) {
      if (o === c) continue;
      gap = Math.min(gap, Math.hypot(centres[2 * c] - centres[2 * o], centres[2 * c + 1] - centres[2 * o + 1]));
    }
    const radius = Number.isFinite(gap) && gap > 0 ? gap / 2 : 1;
    const m = members[c];
    const coords = m.length > 3 ? componentEigenvectors(graph, m, local, random, start, rounds) : null;
    for (let t = 0; t < m.length; t++) {
      const i = m[t];
      // Tiny components (or ones whose iteration failed) get a small random cloud at their centre.
      const x = coords ? coords[2 * t] : random() * 2 - 1;
      const y = coords ? coords[2 * t + 1] : random() * 2 - 1;
      layout[2 * i] = centres[2 * c] + radius * x;
      layout[2 * i + 1] = centres[2 * c + 1] + radius * y;
    }
  }
  return layout;
}

/** Multiply-adds the spectral iteration may spend; a few tenths of a second at 20k points. */
const SPECTRAL_BUDGET = 5e7;

/** Connected-component label per vertex (breadth-first over the CSR graph). */
export function connectedComponents(graph: WeightedGraph): Int32Array {
  const { n, rowStart, columns, weights } = graph;
  const label = new Int32Array(n).fill(-1);
  const queue = new Int32Array(n);
  let next = 0;
  for (let s = 0; s < n; s++) {
    if (label[s] >= 0) continue;
    let head = 0;
    let tail = 0;
    queue[tail++] = s;
    label[s] = next;
    while (head < tail) {
      const i = queue[head++];
      for (let e = rowStart[i]; e < rowStart[i + 1]; e++) {
        const j = columns[e];
        if (weights[e] > 0 && label[j] < 0) {
          label[j] = next;
          queue[tail++] = j;
        }
      }
    }
    next++;
  }
  return label;
}

/** Two leading non-trivial eigenvectors of one component's normalised adjacency, scaled to [-1, 1]. */
function componentEigenvectors(
  graph: WeightedGraph,
  members: Int32Array,
  local: Int32Array,
  random: () => number,
  start: Float32Array,
  rounds: number,
): Float32Array | null {
  const m = members.length;
  const { rowStart, columns, weights } = graph;
  const invSqrtDegree = new Float64Array(m);
  const trivial = new Float64Array(m);
  let total = 0;
  let entries = 0;
  for (let t = 0; t < m; t++) {
    const i = members[t];
    let deg = 0;
    for (let e = rowStart[i]; e < rowStart[i + 1]; e++) deg += weights[e];
    entries += rowStart[i + 1] - rowStart[i];
    invSqrtDegree[t] = deg > 0 ? 1 / Math.sqrt(deg) : 0;
    trivial[t] = Math.sqrt(deg);
    total += deg;
  }
  for (let t = 0; t < m; t++) trivial[t] /= Math.sqrt(total);
  // The component's normalised adjacency D^-1/2 W D^-1/2 as a local CSR matrix, built once.
  const localStart = new Int32Array(m + 1);
  const cols = new Int32Array(entries);
  const vals = new Float64Array(entries);
  for (let t = 0, at = 0; t < m; t++) {
    const i = members[t];
    for (let e = rowStart[i]; e < rowStart[i + 1]; e++) {
      const u = local[columns[e]];
      cols[at] = u;
      vals[at++] = weights[e] * invSqrtDegree[t] * invSqrtDegree[u];
    }
    localStart[t + 1] = at;
  }

  // Block of 2 wanted + 4 guard vectors (the guards absorb the nearby spectrum and speed convergence),
  // stored row-major m x width so one pass over the edges updates every vector.
  const width = Math.min(6, m - 1);
  if (width < 2) return null;
  let block = new Float64Array(m * width);
  for (let v = 0; v < block.length; v++) block[v] = gaussian(random);
  // Starting from the principal components (in the normalised basis) keeps the global arrangement the
  // few affordable rounds cannot find, while the rounds pull neighbours in the graph together.
  for (let t = 0; t < m; t++) {
    for (let axis = 0; axis < 2; axis++) block[t * width + axis] = start[2 * members[t] + axis] * trivial[t];
  }
  let next = new Float64Array(m * width);
  const apply = (input: Float64Array, output: Float64Array) => {
    // (I + N) / 2 keeps the spectrum in [0, 1], so the wanted top end dominates rather than -1 eigenvalues.
    for (let t = 0; t < m; t++) {
      const ot = t * width;
      for (let c = 0; c < width; c++) output[ot + c] = 0.5 * input[ot + c];
      for (let e = localStart[t]; e < localStart[t + 1]; e++) {
        const w = 0.5 * vals[e];
        const ou = cols[e] * width;
        for (let c = 0; c < width; c++) output[ot + c] += w * input[ou + c];
      }
    }
  };
  const dots = new Float64Array(width);
  const orthonormalise = (x: Float64Array) => {
    // Gram-Schmidt against the trivial vector and earlier columns, twice for stability.
    for (let c = 0; c < width; c++) {
      for (let pass = 0; pass < 2; pass++) {
        let dot = 0;
        for (let t = 0; t < m; t++) dot += x[t * width + c] * trivial[t];
        for (let t = 0; t < m; t++) x[t * width + c] -= dot * trivial[t];
        dots.fill(0);
        for (let t = 0; t < m; t++) {
          const v = x[t * width + c];
          for (let p = 0; p < c; p++) dots[p] += v * x[t * width + p];
        }
        for (let t = 0; t < m; t++) {
          let v = x[t * width + c];
          for (let p = 0; p < c; p++) v -= dots[p] * x[t * width + p];
          x[t * width + c] = v;
        }
      }
      let norm = 0;
      for (let t = 0; t < m; t++) norm += x[t * width + c] ** 2;
      const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
      for (let t = 0; t < m; t++) x[t * width + c] *= inv;
    }
  };
  orthonormalise(block);
  for (let r = 0; r < rounds; r++) {
    apply(block, next);
    [block, next] = [next, block];
    if (r % 4 === 3 || r === rounds - 1) orthonormalise(block);
  }
  // Rayleigh-Ritz on the block to order the directions by eigenvalue.
  apply(block, next);
  const small = new Float64Array(width * width);
  for (let t = 0; t < m; t++) {
    for (let p = 0; p < width; p++) {
      const bp = block[t * width + p];
      for (let q = 0; q < width; q++) small[p * width + q] += bp * next[t * width + q];
    }
  }
  for (let p = 0; p < width; p++) {
    for (let q = p + 1; q < width; q++) {
      const avg = (small[p * width + q] + small[q * width + p]) / 2;
      small[p * width + q] = avg;
      small[q * width + p] = avg;
    }
  }
  const { vectors } = symmetricEigen(small, width);
  const coords = new Float32Array(m * 2);
  let extent = 0;
  for (let t = 0; t < m; t++) {
    for (let axis = 0; axis < 2; axis++) {
      let s = 0;
      for (let p = 0; p < width; p++) s += block[t * width + p] * vectors[p * width + axis];
      coords[2 * t + axis] = s;
      extent = Math.max(extent, Math.abs(s));
    }
  }
  if (!(extent > 0) || !Number.isFinite(extent)) return null;
  for (let v = 0; v < coords.length; v++) coords[v] /= extent;
  return coords;
}

/** The first two principal components of the data, as an n x 2 layout. */
function pcaLayout(data: Float32Array, n: number, d: number, seed: number): Float32Array {
  // A starting point only: one power iteration on a slim subspace is plenty and three times cheaper.
  if (d >= 2) return reducePca(data, n, d, 2, seed, { oversample: 6, iterations: 1 });
  const layout = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) layout[2 * i] = d === 1 ? data[i] : 0;
  return layout;
}

/** Scale to umap-learn's starting box, [0, 10] per axis, with a little noise so no two points coincide. */
function prepareInitialLayout(layout: Float32Array, n: number, random: () => number): void {
  for (let axis = 0; axis < 2; axis++) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < n; i++) {
      const v = layout[2 * i + axis];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const scale = hi > lo ? 10 / (hi - lo) : 1;
    for (let i = 0; i < n; i++) {
      layout[2 * i + axis] = (layout[2 * i + axis] - lo) * scale + 1e-4 * gaussian(random);
    }
  }
}

/** Parameters of 1 / (1 + a d^2b) fitted to UMAP's offset exponential for (spread, minDist), by damped Gauss-Newton. */
export function fitCurve(spread: number, minDist: number): { a: number; b: number } {
  const xs = new Float64Array(300);
  const ys = new Float64Array(300);
  for (let i = 0; i < 300; i++) {
    const x = (3 * spread * i) / 299;
    xs[i] = x;
    ys[i] = x < minDist ? 1 : Math.exp(-(x - minDist) / spread);
  }
  const residual = (a: number, b: number) => {
    let s = 0;
    for (let i = 1; i < 300; i++) s += (1 / (1 + a * xs[i] ** (2 * b)) - ys[i]) ** 2;
    return s;
  };
  let a = 1;
  let b = 1;
  let lambda = 1e-3;
  let current = residual(a, b);
  for (let it = 0; it < 200; it++) {
    let jaa = 0;
    let jab = 0;
    let jbb = 0;
    let ga = 0;
    let gb = 0;
    for (let i = 1; i < 300; i++) {
      const p = xs[i] ** (2 * b);
      const f = 1 / (1 + a * p);
      const r = f - ys[i];
      const da = -p * f * f;
      const db = -a * p * 2 * Math.log(xs[i]) * f * f;
      jaa += da * da;
      jab += da * db;
      jbb += db * db;
      ga += da * r;
      gb += db * r;
    }
    const maa = jaa * (1 + lambda);
    const mbb = jbb * (1 + lambda);
    const det = maa * mbb - jab * jab;
    if (det === 0) break;
    const stepA = -(mbb * ga - jab * gb) / det;
    const stepB = -(maa * gb - jab * ga) / det;
    const trialA = a + stepA;
    const trialB = b + stepB;
    const trial = trialA > 0 && trialB > 0 ? residual(trialA, trialB) : Infinity;
    if (trial < current) {
      const converged = current - trial < 1e-14;
      a = trialA;
      b = trialB;
      current = trial;
      lambda /= 3;
      if (converged) break;
    } else {
      lambda *= 4;
      if (lambda > 1e10) break;
    }
  }
  return { a, b };
}

interface OptimiseSettings {
  a: number;
  b: number;
  epochs: number;
  negativeSampleRate: number;
  learningRate: number;
  random: () => number;
  pacer: ReturnType<typeof createPacer>;
  report: (epoch: number, withLayout: boolean) => void;
  runner?: RangeRunner;
}

/** Edges processed between pacer checks; a slice is a few milliseconds of work. */
const EDGE_SLICE = 1 << 15;
/** Pre-drawn negative-sample vertices, cycled from a fresh random start each epoch. */
const NEGATIVE_POOL = 1 << 20;

/** umap-learn's SGD: each edge sampled in proportion to its weight, attracting both ends, plus negative samples. */
async function optimiseLayout(layout: Float32Array, n: number, graph: WeightedGraph, settings: OptimiseSettings): Promise<void> {
  const { epochs, random, pacer } = settings;
  const state = createSgdState(layout, n, graph, settings);
  if (n >= CHUNKED_SGD_FROM) return optimiseInChunks(state, settings);
  let lastLayoutAt = performance.now();
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const alpha = settings.learningRate * (1 - (epoch - 1) / epochs);
    state.poolAt = Math.floor(random() * NEGATIVE_POOL);
    for (let start = 0; start < state.edgeCount; start += EDGE_SLICE) {
      sgdSlice(state, epoch, alpha, start, Math.min(state.edgeCount, start + EDGE_SLICE));
      if (pacer.due()) {
        settings.report(epoch - 1, false);
        await pacer.pause();
      }
    }
    const now = performance.now();
    const sendLayout = now - lastLayoutAt >= LAYOUT_INTERVAL_MS;
    if (sendLayout) {
      lastLayoutAt = now;
      state.writeBack();
    }
    if (sendLayout || pacer.due()) {
      settings.report(epoch, sendLayout);
      await pacer.pause();
    }
  }
  state.writeBack();
}

/**
 * From this many points the SGD runs in chunks that threads can share: below it one thread is quick and the
 * serial epoch (umap-learn's) is kept. Chosen by point count, never by thread count, so a seed gives one layout.
 */
const CHUNKED_SGD_FROM = 20_000;
/** Chunks of vertices per epoch: a fixed number, so the layout is the same for any thread count. */
const SGD_CHUNKS = 64;

/**
 * One epoch of the SGD over chunks [start, end) of vertices (BFS order), as the 'umap-epoch' kernel. A chunk moves
 * only its own vertices: each directed edge pulls its head towards its tail with twice umap-learn's step (both
 * directions of an edge are in the list, so each end still gets the pull umap-learn gives it by moving both ends
 * of each), and negative samples push the head. It reads its own vertices live and every other vertex as the
 * epoch began (`snapshot`), so what a chunk computes does not depend on which thread runs the others.
 */
export function sgdChunks(input: SgdChunkInput, start: number, end: number): void {
  const { layout, snapshot, head, tail, epochsPerSample, nextSample, nextNegative, pool, chunkVertex, chunkEdge, epoch, alpha, negativeSampleRate, a, b } = input;
  const { attract, repel, stepsPerUnit, exactBelow, tableEnd } = cachedTables(a, b);
  const poolMask = NEGATIVE_POOL - 1;
  for (let c = start; c < end; c++) {
    const v0 = 2 * chunkVertex[c];
    const v1 = 2 * chunkVertex[c + 1];
    let poolAt = (input.poolSeed + c * 16411) & poolMask;
    for (let e = chunkEdge[c]; e < chunkEdge[c + 1]; e++) {
      if (nextSample[e] > epoch) continue;
      const jx = 2 * head[e];
      const kx = 2 * tail[e];
      const other = kx >= v0 && kx < v1 ? layout : snapshot;
      let px = layout[jx];
      let py = layout[jx + 1];
      let dx = px - other[kx];
      let dy = py - other[kx + 1];
      let d2 = dx * dx + dy * dy;
      if (d2 > 0) {
        const r = Math.sqrt(d2);
        let coeff: number;
        if (r >= exactBelow && r < tableEnd) {
          const u = r * stepsPerUnit;
          const t = u | 0;
          coeff = attract[t] + (u - t) * (attract[t + 1] - attract[t]);
        } else {
          const p = Math.pow(d2, b);
          coeff = (-2 * a * b * p) / d2 / (a * p + 1);
        }
        px += 2 * clip4(coeff * dx) * alpha;
        py += 2 * clip4(coeff * dy) * alpha;
      }
      nextSample[e] += epochsPerSample[e];
      const epochsPerNegative = epochsPerSample[e] / negativeSampleRate;
      const negatives = Math.floor((epoch - nextNegative[e]) / epochsPerNegative);
      let sx = 0;
      let sy = 0;
      for (let s = 0; s < negatives; s++) {
        const ox = 2 * pool[poolAt];
        poolAt = (poolAt + 1) & poolMask;
        if (ox === jx) continue;
        const from = ox >= v0 && ox < v1 ? layout : snapshot;
        dx = px - from[ox];
        dy = py - from[ox + 1];
        d2 = dx * dx + dy * dy;
        if (d2 > 0) {
          const r = Math.sqrt(d2);
          let coeff: number;
          if (r >= exactBelow && r < tableEnd) {
            const u = r * stepsPerUnit;
            const t = u | 0;
            coeff = repel[t] + (u - t) * (repel[t + 1] - repel[t]);
          } else {
            coeff = (2 * b) / ((0.001 + d2) * (a * Math.pow(d2, b) + 1));
          }
          sx += clip4(coeff * dx);
          sy += clip4(coeff * dy);
        } else {
          sx += 4;
          sy += 4;
        }
      }
      layout[jx] = px + sx * alpha;
      layout[jx + 1] = py + sy * alpha;
      nextNegative[e] += negatives * epochsPerNegative;
    }
  }
}

/** What the 'umap-epoch' kernel reads and writes: the SGD's state in shared memory, and the epoch's numbers. */
export interface SgdChunkInput {
  [key: string]: Float32Array | Float64Array | Int32Array | number;
  layout: Float32Array;
  snapshot: Float32Array;
  head: Int32Array;
  tail: Int32Array;
  epochsPerSample: Float64Array;
  nextSample: Float64Array;
  nextNegative: Float64Array;
  pool: Int32Array;
  chunkVertex: Int32Array;
  chunkEdge: Int32Array;
  epoch: number;
  alpha: number;
  poolSeed: number;
  negativeSampleRate: number;
  a: number;
  b: number;
}

let tableCache: { a: number; b: number; tables: GradientTables } | null = null;

/** The gradient tables of (a, b), made once per thread and layout. */
export function cachedTables(a: number, b: number): GradientTables {
  if (!tableCache || tableCache.a !== a || tableCache.b !== b) tableCache = { a, b, tables: gradientTables(a, b) };
  return tableCache.tables;
}

/** The SGD epoch by epoch over SGD_CHUNKS chunks of vertices, on the runner's threads. */
async function optimiseInChunks(state: SgdState, settings: OptimiseSettings): Promise<void> {
  const { epochs, random, pacer } = settings;
  const runner = settings.runner ?? inProcessRunner();
  const shared = runner.sharesMemory;
  const n = state.n;
  // Chunks of consecutive vertices; edges are ordered by head, so each chunk's edges are one run.
  const chunkVertex = allocate(Int32Array, SGD_CHUNKS + 1, shared);
  const chunkEdge = allocate(Int32Array, SGD_CHUNKS + 1, shared);
  for (let c = 0; c <= SGD_CHUNKS; c++) chunkVertex[c] = Math.round((c * n) / SGD_CHUNKS);
  for (let c = 0, e = 0; c <= SGD_CHUNKS; c++) {
    while (e < state.edgeCount && state.head[e] < chunkVertex[c]) e++;
    chunkEdge[c] = c === SGD_CHUNKS ? state.edgeCount : e;
  }
  const input: SgdChunkInput = {
    layout: shareWith(runner, state.layout),
    snapshot: allocate(Float32Array, 2 * n, shared),
    head: shareWith(runner, state.head),
    tail: shareWith(runner, state.tail),
    epochsPerSample: shareWith(runner, state.epochsPerSample),
    nextSample: shareWith(runner, state.nextSample),
    nextNegative: shareWith(runner, state.nextNegative),
    pool: shareWith(runner, state.pool),
    chunkVertex,
    chunkEdge,
    epoch: 0,
    alpha: 0,
    poolSeed: 0,
    negativeSampleRate: state.negativeSampleRate,
    a: state.a,
    b: state.b,
  };
  let lastLayoutAt = performance.now();
  for (let epoch = 1; epoch <= epochs; epoch++) {
    input.snapshot.set(input.layout);
    input.epoch = epoch;
    input.alpha = settings.learningRate * (1 - (epoch - 1) / epochs);
    input.poolSeed = Math.floor(random() * NEGATIVE_POOL);
    await runner.run('umap-epoch', input, SGD_CHUNKS);
    const now = performance.now();
    const sendLayout = now - lastLayoutAt >= LAYOUT_INTERVAL_MS;
    if (sendLayout) {
      lastLayoutAt = now;
      state.layout.set(input.layout);
      state.writeBack();
    }
    if (sendLayout || pacer.due()) {
      settings.report(epoch, sendLayout);
      await pacer.pause();
    }
  }
  state.layout.set(input.layout);
  state.writeBack();
}

/** Vertices in breadth-first order from each unvisited vertex in turn (a cheap bandwidth reduction). */
function breadthFirstOrder(graph: WeightedGraph): Int32Array {
  const { n, rowStart, columns } = graph;
  const order = new Int32Array(n);
  const seen = new Uint8Array(n);
  let tail = 0;
  for (let s = 0; s < n; s++) {
    if (seen[s]) continue;
    seen[s] = 1;
    let head = tail;
    order[tail++] = s;
    while (head < tail) {
      const i = order[head++];
      for (let e = rowStart[i]; e < rowStart[i + 1]; e++) {
        const j = columns[e];
        if (!seen[j]) {
          seen[j] = 1;
          order[tail++] = j;
        }
      }
    }
  }
  return order;
}

type SgdState = ReturnType<typeof createSgdState>;

function createSgdState(layout: Float32Array, n: number, graph: WeightedGraph, settings: OptimiseSettings) {
  const { rowStart, columns, weights } = graph;
  // Renumber vertices in breadth-first order so an edge's two ends usually sit close in memory; the
  // optimiser works on a renumbered copy of the layout (`place`), written back by `writeBack`.
  const order = breadthFirstOrder(graph);
  const rank = new Int32Array(n);
  for (let r = 0; r < n; r++) rank[order[r]] = r;
  const place = new Float32Array(2 * n);
  for (let r = 0; r < n; r++) {
    place[2 * r] = layout[2 * order[r]];
    place[2 * r + 1] = layout[2 * order[r] + 1];
  }
  let edgeCount = 0;
  let maxWeight = 0;
  for (let e = 0; e < weights.length; e++) {
    if (weights[e] > 0) edgeCount++;
    if (weights[e] > maxWeight) maxWeight = weights[e];
  }
  const head = new Int32Array(edgeCount);
  const tail = new Int32Array(edgeCount);
  const epochsPerSample = new Float64Array(edgeCount);
  const nextSample = new Float64Array(edgeCount);
  const nextNegative = new Float64Array(edgeCount);
  let at = 0;
  for (let r = 0; r < n; r++) {
    const i = order[r];
    for (let e = rowStart[i]; e < rowStart[i + 1]; e++) {
      if (weights[e] <= 0) continue;
      head[at] = r;
      tail[at] = rank[columns[e]];
      epochsPerSample[at] = maxWeight / weights[e];
      nextSample[at] = epochsPerSample[at];
      nextNegative[at] = epochsPerSample[at] / settings.negativeSampleRate;
      at++;
    }
  }
  // Drawing each negative sample through the shared closure RNG costs more than the gradient itself.
  const pool = new Int32Array(NEGATIVE_POOL);
  for (let s = 0; s < NEGATIVE_POOL; s++) pool[s] = Math.floor(settings.random() * n);
  const writeBack = () => {
    for (let r = 0; r < n; r++) {
      layout[2 * order[r]] = place[2 * r];
      layout[2 * order[r] + 1] = place[2 * r + 1];
    }
  };
  return {
    layout: place,
    writeBack,
    n,
    edgeCount,
    head,
    tail,
    epochsPerSample,
    nextSample,
    nextNegative,
    pool,
    poolAt: 0,
    negativeSampleRate: settings.negativeSampleRate,
    a: settings.a,
    b: settings.b,
    tables: gradientTables(settings.a, settings.b),
  };
}

/** One epoch's SGD over edges [start, end): synchronous, so the hot loop keeps its locals in registers. */
function sgdSlice(state: SgdState, epoch: number, alpha: number, start: number, end: number): void {
  const { layout, head, tail, epochsPerSample, nextSample, nextNegative, pool, negativeSampleRate, a, b } = state;
  const { attract, repel, stepsPerUnit, exactBelow, tableEnd } = state.tables;
  const poolMask = NEGATIVE_POOL - 1;
  let poolAt = state.poolAt;
  for (let e = start; e < end; e++) {
    if (nextSample[e] > epoch) continue;
    const jx = 2 * head[e];
    const kx = 2 * tail[e];
    let dx = layout[jx] - layout[kx];
    let dy = layout[jx + 1] - layout[kx + 1];
    let d2 = dx * dx + dy * dy;
    if (d2 > 0) {
      const r = Math.sqrt(d2);
      let coeff: number;
      if (r >= exactBelow && r < tableEnd) {
        const u = r * stepsPerUnit;
        const t = u | 0;
        coeff = attract[t] + (u - t) * (attract[t + 1] - attract[t]);
      } else {
        const p = Math.pow(d2, b);
        coeff = (-2 * a * b * p) / d2 / (a * p + 1);
      }
      const gx = clip4(coeff * dx) * alpha;
      const gy = clip4(coeff * dy) * alpha;
      layout[jx] += gx;
      layout[jx + 1] += gy;
      layout[kx] -= gx;
      layout[kx + 1] -= gy;
    }
    nextSample[e] += epochsPerSample[e];

    const epochsPerNegative = epochsPerSample[e] / negativeSampleRate;
    const negatives = Math.floor((epoch - nextNegative[e]) / epochsPerNegative);
    // The negative samples' pushes are summed from one position, not applied one by one as in
    // umap-learn: independent samples overlap in the CPU instead of waiting on each other (~1.5x).
    const px = layout[jx];
    const py = layout[jx + 1];
    let sx = 0;
    let sy = 0;
    for (let s = 0; s < negatives; s++) {
      const ox = 2 * pool[poolAt];
      poolAt = (poolAt + 1) & poolMask;
      if (ox === jx) continue;
      dx = px - layout[ox];
      dy = py - layout[ox + 1];
      d2 = dx * dx + dy * dy;
      if (d2 > 0) {
        const r = Math.sqrt(d2);
        let coeff: number;
        if (r >= exactBelow && r < tableEnd) {
          const u = r * stepsPerUnit;
          const t = u | 0;
          coeff = repel[t] + (u - t) * (repel[t + 1] - repel[t]);
        } else {
          coeff = (2 * b) / ((0.001 + d2) * (a * Math.pow(d2, b) + 1));
        }
        sx += clip4(coeff * dx);
        sy += clip4(coeff * dy);
      } else {
        sx += 4;
        sy += 4;
      }
    }
    layout[jx] = px + sx * alpha;
    layout[jx + 1] = py + sy * alpha;
    nextNegative[e] += negatives * epochsPerNegative;
  }
  state.poolAt = poolAt;
}

/**
 * The attractive gradient coefficient at squared distance d2 > 0: tabulated where the table is accurate, else the
 * formula. The SGD loops here write it out inline: a call cost them 3-11% (measured at 15k and 30k points).
 */
export function attraction(d2: number, tables: GradientTables, a: number, b: number): number {
  const r = Math.sqrt(d2);
  if (r >= tables.exactBelow && r < tables.tableEnd) return interpolate(tables.attract, r * tables.stepsPerUnit);
  const p = Math.pow(d2, b);
  return (-2 * a * b * p) / d2 / (a * p + 1);
}

/** A gradient table read between its entries at fractional index u. */
function interpolate(table: Float32Array | Float64Array, u: number): number {
  const t = u | 0;
  return table[t] + (u - t) * (table[t + 1] - table[t]);
}

/** The repulsive gradient coefficient at squared distance d2 > 0, as `attraction`. */
export function repulsion(d2: number, tables: GradientTables, a: number, b: number): number {
  const r = Math.sqrt(d2);
  if (r >= tables.exactBelow && r < tables.tableEnd) return interpolate(tables.repel, r * tables.stepsPerUnit);
  return (2 * b) / ((0.001 + d2) * (a * Math.pow(d2, b) + 1));
}

export type GradientTables = ReturnType<typeof gradientTables>;

export function clip4(v: number): number {
  return v > 4 ? 4 : v < -4 ? -4 : v;
}

/**
 * The attractive and repulsive gradient coefficients tabulated against distance r, for linear
 * interpolation: Math.pow dominated the optimiser, and at 32 steps per unit the tables agree to ~1e-4.
 */
export function gradientTables(a: number, b: number) {
  const stepsPerUnit = 32;
  const tableEnd = 128;
  const size = tableEnd * stepsPerUnit + 2;
  const attract = new Float64Array(size);
  const repel = new Float64Array(size);
  for (let t = 1; t < size; t++) {
    const d2 = (t / stepsPerUnit) ** 2;
    const p = Math.pow(d2, b);
    attract[t] = (-2 * a * b * p) / d2 / (a * p + 1);
    repel[t] = (2 * b) / ((0.001 + d2) * (a * p + 1));
  }
  // Below a few table steps both curves bend too sharply to interpolate; those rare pairs use the formula.
  return { attract, repel, stepsPerUnit, tableEnd, exactBelow: 4 / stepsPerUnit };
}

function trivialLayout(n: number): Float32Array {
  const layout = new Float32Array(n * 2);
  if (n === 2) layout[2] = 1;
  return layout;
}
