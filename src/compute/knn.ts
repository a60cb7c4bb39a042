import { createRng } from '../lib/rng';
import { createPacer } from '../lib/yieldToPage';
import { DistanceKernels } from './distanceKernels';
import type { RangeRunner } from './parallel/runner';
import { allocate } from './parallel/shared';
import type { Metric } from './types';

/** k nearest neighbours of every row, nearest first, self excluded: n x k row-major. */
export interface KnnGraph {
  n: number;
  k: number;
  /** Neighbour row indices; -1 where fewer than k neighbours exist. */
  indices: Int32Array;
  /** Distances in the metric's units: euclidean distance, or cosine distance (1 - cos). */
  distances: Float32Array;
}

export interface KnnOptions {
  metric?: Metric;
  seed?: number;
  /** 'auto' is exact while n^2 d stays small, NN-descent beyond. */
  method?: 'auto' | 'exact' | 'nndescent';
  /** Measure distances with the WebAssembly SIMD kernel where the runtime has it (default true). */
  simd?: boolean;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Past this many pair-dimension products the exact search costs more than a second or two in JS. */
const EXACT_WORK_LIMIT = 1e9;

/** k nearest neighbours: exact blocked search for moderate n, NN-descent for large n. */
export async function knn(
  data: Float32Array,
  n: number,
  d: number,
  k: number,
  options: NnDescentOptions = {},
): Promise<KnnGraph> {
  const method = options.method ?? 'auto';
  const exact = method === 'exact' || (method === 'auto' && (n * n * d) / 2 <= EXACT_WORK_LIMIT);
  return exact ? exactKnn(data, n, d, k, options) : nnDescent(data, n, d, k, options);
}

/** Exact k nearest neighbours by a blocked all-pairs scan, each pair measured once. */
export async function exactKnn(
  data: Float32Array,
  n: number,
  d: number,
  k: number,
  options: KnnOptions = {},
): Promise<KnnGraph> {
  const metric = options.metric ?? 'euclidean';
  const pacer = createPacer(options.signal, 50, 'Projection cancelled');
  const x = metric === 'cosine' ? normaliseRows(data, n, d) : data;
  const heaps = new NeighbourHeaps(n, k);
  const kernels = options.simd === false ? null : DistanceKernels.create(x, n, d);
  // Tiles of B x B rows keep both blocks in L1/L2 while every pair inside is measured.
  const B = 64;
  const blocks = Math.ceil(n / B);
  const totalTiles = (blocks * (blocks + 1)) / 2;
  let doneTiles = 0;
  for (let ib = 0; ib < n; ib += B) {
    const iEnd = Math.min(n, ib + B);
    for (let jb = ib; jb < n; jb += B) {
      const jEnd = Math.min(n, jb + B);
      for (let i = ib; i < iEnd; i++) {
        const j0 = jb === ib ? i + 1 : jb;
        if (kernels) {
          const row = kernels.rowDistances(i, j0, jEnd);
          for (let j = j0; j < jEnd; j++) {
            heaps.pushNew(i, j, row[j - j0]);
            heaps.pushNew(j, i, row[j - j0]);
          }
        } else {
          for (let j = j0; j < jEnd; j++) {
            const s = squaredDistance(x, i * d, j * d, d);
            heaps.pushNew(i, j, s);
            heaps.pushNew(j, i, s);
          }
        }
      }
      doneTiles++;
      if (pacer.due()) {
        options.onProgress?.(doneTiles, totalTiles);
        await pacer.pause();
      }
    }
  }
  options.onProgress?.(totalTiles, totalTiles);
  return heaps.toGraph(metric);
}

export interface NnDescentOptions extends KnnOptions {
  /** Random-projection trees used to seed the neighbour lists. */
  trees?: number;
  /** Upper bound on refinement rounds; stops earlier once few lists change. */
  iterations?: number;
  /** Candidates sampled per point per round (new and old separately). */
  maxCandidates?: number;
  /** Stop when a round changes fewer than delta * n * k list entries. */
  delta?: number;
  /**
   * Threads for the forest and every step of the refinement (all but the first tree); without one, all runs
   * here. The graph is the same with or without one, whatever its thread count.
   */
  runner?: RangeRunner;
}

/** Candidate-pair slots of one join block (12 bytes each): bounds the update buffers whatever n is. */
const JOIN_BLOCK_SLOTS = 1 << 20;

/**
 * Approximate k nearest neighbours by NN-descent (Dong et al. 2011) seeded with random-projection
 * tree leaves, as in pynndescent, on flat typed arrays.
 */
export async function nnDescent(
  data: Float32Array,
  n: number,
  d: number,
  k: number,
  options: NnDescentOptions = {},
): Promise<KnnGraph> {
  const metric = options.metric ?? 'euclidean';
  const random = createRng(options.seed ?? 0);
  const pacer = createPacer(options.signal, 50, 'Projection cancelled');
  const source = metric === 'cosine' ? normaliseRows(data, n, d) : data;
  const runner = options.runner && options.runner.threads > 1 ? options.runner : null;
  const shared = runner?.sharesMemory ?? false;
  const heaps = new NeighbourHeaps(n, k, shared);
  const iterations = options.iterations ?? Math.max(5, Math.round(Math.log2(Math.max(2, n))));
  // Past a few trees NN-descent recovers the same recall for less than another tree costs.
  const trees = Math.max(1, options.trees ?? (n <= 20_000 ? 6 : 4));
  const maxCandidates = options.maxCandidates ?? Math.min(60, Math.max(k, 16));
  const delta = options.delta ?? 0.001;
  const totalSteps = trees + iterations;
  let step = 0;

  // Leaves of random-projection trees hold near neighbours together; all pairs within a leaf seed the lists.
  const leafSize = Math.max(k + 1, 24);
  const first = randomProjectionLeaves(source, n, d, leafSize, random);
  options.onProgress?.(++step, totalSteps);
  // Work on a copy of the rows in the first tree's leaf order: candidates are then mostly near each
  // other in memory, which matters once the table outgrows the cache (100k x 128 floats is 51 MB).
  const original = first.order;
  const x = allocate(Float32Array, n * d, shared);
  for (let i = 0; i < n; i++) x.set(source.subarray(original[i] * d, (original[i] + 1) * d), i * d);
  // The other trees are built on that copy, each with its own seed, one per thread at a time.
  const forest: ForestState = {
    n,
    d,
    k,
    x,
    leafSize,
    seeds: Uint32Array.from({ length: trees - 1 }, () => Math.floor(random() * 2 ** 32)),
    orders: allocate(Int32Array, trees * n, shared),
    bounds: allocate(Int32Array, trees * (n + 1), shared),
    leaves: allocate(Int32Array, trees, shared),
    heapIndices: heaps.indices,
    heapKeys: heaps.keys,
    isNew: heaps.isNew,
  };
  forest.orders.set(identity(n));
  forest.bounds.set(first.bounds);
  forest.leaves[0] = first.bounds.length - 1;
  if (runner) await runner.run('knn-trees', forest, trees - 1);
  else {
    for (let t = 0; t + 1 < trees; t++) {
      buildTrees(forest, t, t + 1);
      options.onProgress?.(++step, totalSteps);
      if (pacer.due()) await pacer.pause();
    }
  }
  step = trees;
  options.onProgress?.(step, totalSteps);
  pacer.check();
  if (runner) await runner.run('knn-leaf-join', forest, n);
  else forestJoin(forest, 0, n);
  if (pacer.due()) await pacer.pause();
  // Any list a tree left short gets random entries so every point joins the refinement.
  for (let i = 0; i < n; i++) {
    for (let tries = 0; heaps.count(i) < k && tries < 4 * k; tries++) {
      const j = Math.floor(random() * n);
      if (j !== i) heaps.push(i, j, squaredDistance(x, i * d, j * d, d));
    }
  }

  // Each round's four steps run over rows through the runner (here, without one): sampling the candidates,
  // marking the sampled entries old, the local join in blocks, and applying the join's pairs. Each row's
  // candidate list and neighbour list is written only by the thread that owns the row, in the same order as
  // one thread would, and the join reads the lists as they stood at its block's start (as pynndescent does):
  // the graph is then the same however the rows are split between threads.
  const m = maxCandidates;
  const perRow = (m * (m - 1)) / 2 + m * m;
  const blockRows = Math.max(1, Math.min(n, Math.floor(JOIN_BLOCK_SLOTS / perRow)));
  const state: NnDescentState = {
    n,
    d,
    k,
    m,
    x,
    heapIndices: heaps.indices,
    heapKeys: heaps.keys,
    isNew: heaps.isNew,
    newIndices: allocate(Int32Array, n * m, shared),
    newPriorities: allocate(Float32Array, n * m, shared),
    oldIndices: allocate(Int32Array, n * m, shared),
    oldPriorities: allocate(Float32Array, n * m, shared),
    salt: 0,
    first: 0,
    rows: 0,
    perRow,
    pairs: allocate(Int32Array, 2 * blockRows * perRow, shared),
    pairKeys: allocate(Float32Array, blockRows * perRow, shared),
    counts: allocate(Int32Array, blockRows, shared),
    changed: allocate(Int32Array, n, shared),
  };
  const run = async (kernel: NnDescentKernel, total: number) => {
    if (runner) await runner.run(kernel, state, total);
    else NN_DESCENT_KERNELS[kernel](state, 0, total);
  };
  const seedSalt = Math.floor(random() * 2 ** 32);
  for (let it = 0; it < iterations; it++) {
    state.salt = mix32(seedSalt + it);
    await run('knn-sample', n);
    await run('knn-mark-old', n);
    state.changed.fill(0);
    for (let first = 0; first < n; first += blockRows) {
      state.first = first;
      state.rows = Math.min(blockRows, n - first);
      await run('knn-join', state.rows);
      await run('knn-apply', n);
      if (pacer.due()) await pacer.pause();
    }
    let updates = 0;
    for (let i = 0; i < n; i++) updates += state.changed[i];
    options.onProgress?.(++step, totalSteps);
    if (updates <= delta * n * k) break;
  }
  options.onProgress?.(totalSteps, totalSteps);
  const permuted = heaps.toGraph(metric);
  // Back to the caller's row numbering.
  const indices = new Int32Array(n * k);
  const distances = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    const o = i * k;
    const to = original[i] * k;
    for (let s = 0; s < k; s++) {
      const j = permuted.indices[o + s];
      indices[to + s] = j < 0 ? -1 : original[j];
      distances[to + s] = permuted.distances[o + s];
    }
  }
  return { n, k, indices, distances };
}

/**
 * NN-descent's arrays while it refines, as its kernels read and write them (over shared memory when a runner
 * has threads). Neighbour lists are max-heaps of squared distances, n x k; candidate lists keep the m entries
 * of smallest priority, n x m, -1 in empty slots.
 */
export interface NnDescentState {
  n: number;
  d: number;
  k: number;
  m: number;
  /** n x d rows, in the order nnDescent works in. */
  x: Float32Array;
  heapIndices: Int32Array;
  heapKeys: Float32Array;
  isNew: Uint8Array;
  newIndices: Int32Array;
  newPriorities: Float32Array;
  oldIndices: Int32Array;
  oldPriorities: Float32Array;
  /** The round's salt for candidate priorities, a hash of each list entry. */
  salt: number;
  /** The join block: rows [first, first + rows). */
  first: number;
  rows: number;
  /** Pair slots per block row: the most pairs one row's candidates make. */
  perRow: number;
  /** Block row r's kept pairs (p, q) at slots [r * perRow, r * perRow + counts[r]), two entries per slot. */
  pairs: Int32Array;
  /** The squared distance of each kept pair. */
  pairKeys: Float32Array;
  counts: Int32Array;
  /** Entries each row's neighbour list took in this round. */
  changed: Int32Array;
}

/** 32-bit finaliser of murmur3: spreads an integer's bits over all 32. */
function mix32(value: number): number {
  let h = value >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Rows [start, end)'s candidate lists: every neighbour-list entry (i, j) offers j to i's list and i to j's,
 * new entries to the new lists, with a priority hashed from the entry (not drawn in turn), so each thread
 * offers its own rows exactly what one thread would, in the same order.
 */
function sampleCandidates(s: NnDescentState, start: number, end: number): void {
  const { n, k, m, heapIndices, isNew, newIndices, newPriorities, oldIndices, oldPriorities, salt } = s;
  newIndices.fill(-1, start * m, end * m);
  newPriorities.fill(Infinity, start * m, end * m);
  oldIndices.fill(-1, start * m, end * m);
  oldPriorities.fill(Infinity, start * m, end * m);
  for (let i = 0; i < n; i++) {
    const o = i * k;
    const ownsI = i >= start && i < end;
    for (let slot = 0; slot < k; slot++) {
      const j = heapIndices[o + slot];
      if (j < 0) continue;
      const ownsJ = j >= start && j < end;
      if (!ownsI && !ownsJ) continue;
      const priority = mix32(salt ^ (o + slot)) / 4294967296;
      const indices = isNew[o + slot] ? newIndices : oldIndices;
      const priorities = isNew[o + slot] ? newPriorities : oldPriorities;
      if (ownsI) candidatePush(indices, priorities, m, i, j, priority);
      if (ownsJ) candidatePush(indices, priorities, m, j, i, priority);
    }
  }
}

/** Rows [start, end): entries sampled as new are old from the next round on. */
function markSampledOld(s: NnDescentState, start: number, end: number): void {
  const { k, m, heapIndices, isNew, newIndices } = s;
  for (let i = start; i < end; i++) {
    const o = i * k;
    const oc = i * m;
    for (let slot = 0; slot < k; slot++) {
      if (!isNew[o + slot]) continue;
      const j = heapIndices[o + slot];
      for (let c = 0; c < m; c++) {
        if (newIndices[oc + c] === j) {
          isNew[o + slot] = 0;
          break;
        }
      }
    }
  }
}

/**
 * The local join of block rows [first + start, first + end): every new-new and new-old candidate pair of each
 * row is measured and kept where it would enter either list as the lists stand; writes only the block's pairs.
 */
function localJoin(s: NnDescentState, start: number, end: number): void {
  const { x, d, heapKeys: keys, k, newIndices, oldIndices, m, first, perRow, pairs, pairKeys, counts } = s;
  for (let r = start; r < end; r++) {
    const o = (first + r) * m;
    let slot = r * perRow;
    for (let a = 0; a < m; a++) {
      const p = newIndices[o + a];
      if (p < 0) continue;
      const limit = keys[p * k];
      for (let b = a + 1; b < m; b++) {
        const q = newIndices[o + b];
        if (q < 0) continue;
        const dist = squaredDistance(x, p * d, q * d, d);
        if (dist < limit || dist < keys[q * k]) {
          pairs[2 * slot] = p;
          pairs[2 * slot + 1] = q;
          pairKeys[slot++] = dist;
        }
      }
      for (let b = 0; b < m; b++) {
        const q = oldIndices[o + b];
        if (q < 0 || q === p) continue;
        const dist = squaredDistance(x, p * d, q * d, d);
        if (dist < limit || dist < keys[q * k]) {
          pairs[2 * slot] = p;
          pairs[2 * slot + 1] = q;
          pairKeys[slot++] = dist;
        }
      }
    }
    counts[r] = slot - r * perRow;
  }
}

/**
 * The block's pairs offered, in block order, to the neighbour lists this range owns; counts what each list took.
 * A block's pairs mostly touch rows near the block (the rows are in leaf order), so rows are owned in stripes
 * (row p by the range holding stripeKey(p)), not in one run each, or one thread would do a block's work alone.
 */
function applyJoin(s: NnDescentState, start: number, end: number): void {
  const { n, k, heapIndices, heapKeys, isNew, rows, perRow, pairs, pairKeys, counts, changed } = s;
  for (let r = 0; r < rows; r++) {
    const last = r * perRow + counts[r];
    for (let u = r * perRow; u < last; u++) {
      const p = pairs[2 * u];
      const q = pairs[2 * u + 1];
      const keyP = stripeKey(p, n);
      const keyQ = stripeKey(q, n);
      if (keyP >= start && keyP < end) changed[p] += heapPush(heapIndices, heapKeys, isNew, k, p, q, pairKeys[u]);
      if (keyQ >= start && keyQ < end) changed[q] += heapPush(heapIndices, heapKeys, isNew, k, q, p, pairKeys[u]);
    }
  }
}

/** Row p's place in [0, n) for owning it: rows p, p + 64, p + 128... share one, and 64 consecutive rows spread across [0, n). */
function stripeKey(p: number, n: number): number {
  return Math.floor(((p & 63) * n) / 64);
}

/** The random-projection forest that seeds NN-descent, as its kernels read and write it. */
export interface ForestState {
  n: number;
  d: number;
  k: number;
  /** n x d rows in the first tree's leaf order. */
  x: Float32Array;
  leafSize: number;
  /** The seed of each tree after the first. */
  seeds: Uint32Array;
  /** Tree t's row order at [t * n, (t + 1) * n): leaf l holds order[bounds[l]..bounds[l + 1]). */
  orders: Int32Array;
  /** Tree t's leaf bounds at [t * (n + 1), ...), leaves[t] + 1 of them. */
  bounds: Int32Array;
  leaves: Int32Array;
  heapIndices: Int32Array;
  heapKeys: Float32Array;
  isNew: Uint8Array;
}

/** Trees [start + 1, end + 1) of the forest (the first is built before the rows are reordered), each from its own seed. */
function buildTrees(f: ForestState, start: number, end: number): void {
  const { n, d, x, leafSize, seeds, orders, bounds, leaves } = f;
  for (let t = start + 1; t < end + 1; t++) {
    const tree = randomProjectionLeaves(x, n, d, leafSize, createRng(seeds[t - 1]));
    orders.set(tree.order, t * n);
    bounds.set(tree.bounds, t * (n + 1));
    leaves[t] = tree.bounds.length - 1;
  }
}

/**
 * Every pair of rows sharing a leaf, tree by tree, offered to the neighbour lists of rows [start, end); a pair
 * across two threads' rows is measured by both, which the first tree's row order makes rare.
 */
function forestJoin(f: ForestState, start: number, end: number): void {
  const { n, d, k, x, orders, bounds, leaves, heapIndices, heapKeys, isNew } = f;
  for (let t = 0; t < leaves.length; t++) {
    const order = t * n;
    const bound = t * (n + 1);
    for (let l = 0; l < leaves[t]; l++) {
      const from = bounds[bound + l];
      const to = bounds[bound + l + 1];
      for (let a = from; a < to; a++) {
        const p = orders[order + a];
        const ownsP = p >= start && p < end;
        for (let b = a + 1; b < to; b++) {
          const q = orders[order + b];
          const ownsQ = q >= start && q < end;
          if (!ownsP && !ownsQ) continue;
          const dist = squaredDistance(x, p * d, q * d, d);
          if (ownsP) heapPush(heapIndices, heapKeys, isNew, k, p, q, dist);
          if (ownsQ) heapPush(heapIndices, heapKeys, isNew, k, q, p, dist);
        }
      }
    }
  }
}

/** NN-descent's kernels by name: the range runner's registry holds the same functions under the same names. */
export const NN_DESCENT_KERNELS = {
  'knn-sample': sampleCandidates,
  'knn-mark-old': markSampledOld,
  'knn-join': localJoin,
  'knn-apply': applyJoin,
  'knn-trees': buildTrees,
  'knn-leaf-join': forestJoin,
};

/** The name of one of NN-descent's round kernels (those over NnDescentState). */
export type NnDescentKernel = 'knn-sample' | 'knn-mark-old' | 'knn-join' | 'knn-apply';

/** Offers j to row i's candidate list (a max-heap on priority, m slots) unless it is there or ranks below all. */
function candidatePush(indices: Int32Array, priorities: Float32Array, m: number, i: number, j: number, priority: number): void {
  const o = i * m;
  if (!(priority < priorities[o])) return;
  for (let c = 0; c < m; c++) if (indices[o + c] === j) return;
  const pos = o + replaceRoot(priorities, indices, null, o, m, priority);
  priorities[pos] = priority;
  indices[pos] = j;
}

/** Offers j as a neighbour of i; returns 1 when the list changed. */
function heapPush(indices: Int32Array, keys: Float32Array, isNew: Uint8Array, k: number, i: number, j: number, key: number): number {
  const o = i * k;
  if (!(key < keys[o])) return 0;
  for (let s = 0; s < k; s++) if (indices[o + s] === j) return 0;
  const pos = o + replaceRoot(keys, indices, isNew, o, k, key);
  keys[pos] = key;
  indices[pos] = j;
  isNew[pos] = 1;
  return 1;
}

function identity(n: number): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  return order;
}

/** Squared euclidean distance between the rows starting at oi and oj; four accumulators break the add chain. */
export function squaredDistance(x: Float32Array, oi: number, oj: number, d: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let c = 0;
  for (; c + 3 < d; c += 4) {
    const t0 = x[oi + c] - x[oj + c];
    const t1 = x[oi + c + 1] - x[oj + c + 1];
    const t2 = x[oi + c + 2] - x[oj + c + 2];
    const t3 = x[oi + c + 3] - x[oj + c + 3];
    s0 += t0 * t0;
    s1 += t1 * t1;
    s2 += t2 * t2;
    s3 += t3 * t3;
  }
  for (; c < d; c++) {
    const t = x[oi + c] - x[oj + c];
    s0 += t * t;
  }
  return s0 + s1 + s2 + s3;
}

/** Row-normalised copy, so cosine distance is half the squared euclidean distance. */
export function normaliseRows(data: Float32Array, n: number, d: number): Float32Array {
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const o = i * d;
    let s = 0;
    for (let c = 0; c < d; c++) s += data[o + c] * data[o + c];
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let c = 0; c < d; c++) out[o + c] = data[o + c] * inv;
  }
  return out;
}

/** Leaves of one random-projection tree: `order` permutes the rows, leaf l is order[bounds[l]..bounds[l+1]). */
function randomProjectionLeaves(x: Float32Array, n: number, d: number, leafSize: number, random: () => number): { order: Int32Array; bounds: number[] } {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const side = new Float64Array(n);
  const normal = new Float64Array(d);
  const bounds: number[] = [];
  const stack: number[] = [0, n];
  while (stack.length > 0) {
    const end = stack.pop()!;
    const start = stack.pop()!;
    const size = end - start;
    if (size <= leafSize) {
      bounds.push(start);
      continue;
    }
    // Hyperplane halfway between two random members, as in pynndescent's euclidean trees.
    const pa = start + Math.floor(random() * size);
    let qa = start + Math.floor(random() * (size - 1));
    if (qa >= pa) qa++;
    const p = order[pa];
    const q = order[qa];
    let offset = 0;
    for (let c = 0; c < d; c++) {
      normal[c] = x[p * d + c] - x[q * d + c];
      offset -= (normal[c] * (x[p * d + c] + x[q * d + c])) / 2;
    }
    let left = start;
    let right = end - 1;
    for (let a = start; a < end; a++) {
      const o = order[a] * d;
      let s = offset;
      for (let c = 0; c < d; c++) s += normal[c] * x[o + c];
      side[a] = s;
    }
    // Partition in place; a degenerate plane (duplicates) falls back to a random split.
    while (left <= right) {
      let s = side[left];
      if (s === 0) s = random() - 0.5;
      if (s > 0) {
        left++;
      } else {
        const t = order[left];
        order[left] = order[right];
        order[right] = t;
        const u = side[left];
        side[left] = side[right];
        side[right] = u;
        right--;
      }
    }
    let mid = left;
    if (mid - start < 1 || end - mid < 1) mid = start + (size >> 1);
    stack.push(start, mid, mid, end);
  }
  bounds.sort((a, b) => a - b);
  bounds.push(n);
  return { order, bounds };
}

/** Fixed-size max-heaps of (squared distance, index) per row, flat; the root holds the farthest kept neighbour. */
export class NeighbourHeaps {
  readonly indices: Int32Array;
  readonly keys: Float32Array;
  readonly isNew: Uint8Array;

  /** `shared`: the lists over shared memory, for the threads of a runner. */
  constructor(
    readonly n: number,
    readonly k: number,
    shared = false,
  ) {
    this.indices = allocate(Int32Array, n * k, shared).fill(-1);
    this.keys = allocate(Float32Array, n * k, shared).fill(Infinity);
    this.isNew = allocate(Uint8Array, n * k, shared);
  }

  /** Offer j as a neighbour of i; returns 1 when the list changed. */
  push(i: number, j: number, key: number): number {
    return heapPush(this.indices, this.keys, this.isNew, this.k, i, j, key);
  }

  /** Offer j as a neighbour of i when j cannot already be in i's list (each pair offered once). */
  pushNew(i: number, j: number, key: number): number {
    const k = this.k;
    const o = i * k;
    const keys = this.keys;
    const indices = this.indices;
    if (!(key < keys[o])) return 0;
    const pos = o + replaceRoot(keys, indices, this.isNew, o, k, key);
    keys[pos] = key;
    indices[pos] = j;
    this.isNew[pos] = 1;
    return 1;
  }

  /** Number of filled entries of row i. */
  count(i: number): number {
    let c = 0;
    for (let s = 0; s < this.k; s++) if (this.indices[i * this.k + s] >= 0) c++;
    return c;
  }

  /** Sorted, nearest first, with squared euclidean keys converted to the metric's distance. */
  toGraph(metric: Metric): KnnGraph {
    const { n, k } = this;
    const indices = new Int32Array(n * k);
    const distances = new Float32Array(n * k);
    const order = new Int32Array(k);
    for (let i = 0; i < n; i++) {
      const o = i * k;
      for (let s = 0; s < k; s++) order[s] = s;
      order.sort((a, b) => this.keys[o + a] - this.keys[o + b]);
      for (let s = 0; s < k; s++) {
        const src = o + order[s];
        const key = this.keys[src];
        indices[o + s] = this.indices[src];
        distances[o + s] = key === Infinity ? Infinity : metric === 'cosine' ? key / 2 : Math.sqrt(key);
      }
    }
    return { n, k, indices, distances };
  }
}

/**
 * Drops the root of the max-heap keys[o..o+size) (with its parallel indices and optional flags) for a
 * smaller key: sifts the hole down past every child larger than `key` and returns the hole's slot, where
 * the caller writes the new entry.
 */
function replaceRoot(keys: Float32Array, indices: Int32Array, flags: Uint8Array | null, o: number, size: number, key: number): number {
  let pos = 0;
  for (;;) {
    const l = 2 * pos + 1;
    if (l >= size) break;
    const r = l + 1;
    const child = r < size && keys[o + r] > keys[o + l] ? r : l;
    if (keys[o + child] <= key) break;
    keys[o + pos] = keys[o + child];
    indices[o + pos] = indices[o + child];
    if (flags) flags[o + pos] = flags[o + child];
    pos = child;
  }
  return pos;
}
