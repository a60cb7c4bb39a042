import { createRng } from '../lib/rng';
import { createPacer, type Pacer } from '../lib/yieldToPage';
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
   * Threads for the local join (the distance evaluations, nearly all of the time); without one it runs here.
   * The graph is the same whatever the runner's thread count.
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
  const first = await randomProjectionLeaves(source, n, d, leafSize, random, pacer);
  // Work on a copy of the rows in the first tree's leaf order: candidates are then mostly near each
  // other in memory, which matters once the table outgrows the cache (100k x 128 floats is 51 MB).
  const original = first.order;
  const x = allocate(Float32Array, n * d, shared);
  for (let i = 0; i < n; i++) x.set(source.subarray(original[i] * d, (original[i] + 1) * d), i * d);
  for (let t = 0; t < trees; t++) {
    const leaves = t === 0 ? { order: identity(n), bounds: first.bounds } : await randomProjectionLeaves(x, n, d, leafSize, random, pacer);
    for (let l = 0; l + 1 < leaves.bounds.length; l++) {
      const start = leaves.bounds[l];
      const end = leaves.bounds[l + 1];
      for (let a = start; a < end; a++) {
        const p = leaves.order[a];
        for (let b = a + 1; b < end; b++) {
          const q = leaves.order[b];
          const s = squaredDistance(x, p * d, q * d, d);
          heaps.push(p, q, s);
          heaps.push(q, p, s);
        }
      }
      if (pacer.due()) await pacer.pause();
    }
    options.onProgress?.(++step, totalSteps);
  }
  // Any list a tree left short gets random entries so every point joins the refinement.
  for (let i = 0; i < n; i++) {
    for (let tries = 0; heaps.count(i) < k && tries < 4 * k; tries++) {
      const j = Math.floor(random() * n);
      if (j !== i) heaps.push(i, j, squaredDistance(x, i * d, j * d, d));
    }
  }

  const m = maxCandidates;
  const newCandidates = new CandidateLists(n, m, shared);
  const stamp = new Int32Array(n).fill(-1);
  const oldCandidates = new CandidateLists(n, m, shared);
  // The join measures a block of rows' candidate pairs against the lists as they stood at the block's start
  // (in parallel where a runner has threads), then applies the kept pairs in row order, as pynndescent does:
  // the graph is then the same however the block is split between threads.
  const perRow = (m * (m - 1)) / 2 + m * m;
  const blockRows = Math.max(1, Math.min(n, Math.floor(JOIN_BLOCK_SLOTS / perRow)));
  const join: LocalJoinInput = {
    x,
    d,
    keys: heaps.keys,
    k,
    newCandidates: newCandidates.indices,
    oldCandidates: oldCandidates.indices,
    m,
    first: 0,
    perRow,
    pairs: allocate(Int32Array, 2 * blockRows * perRow, shared),
    pairKeys: allocate(Float32Array, blockRows * perRow, shared),
    counts: allocate(Int32Array, blockRows, shared),
  };
  for (let it = 0; it < iterations; it++) {
    newCandidates.clear();
    oldCandidates.clear();
    // Sample candidates, forward and reverse, with random priorities so hubs do not flood the join.
    for (let i = 0; i < n; i++) {
      const o = i * k;
      for (let s = 0; s < k; s++) {
        const j = heaps.indices[o + s];
        if (j < 0) continue;
        const priority = random();
        const lists = heaps.isNew[o + s] ? newCandidates : oldCandidates;
        lists.push(i, j, priority);
        lists.push(j, i, priority);
      }
    }
    // Entries sampled as new are old from the next round on; a stamp per row makes the lookup O(1).
    for (let i = 0; i < n; i++) {
      const oc = i * m;
      for (let s = 0; s < m; s++) {
        const j = newCandidates.indices[oc + s];
        if (j >= 0) stamp[j] = i;
      }
      const o = i * k;
      for (let s = 0; s < k; s++) {
        if (heaps.isNew[o + s] && stamp[heaps.indices[o + s]] === i) heaps.isNew[o + s] = 0;
      }
    }
    let updates = 0;
    for (let first = 0; first < n; first += blockRows) {
      const rows = Math.min(blockRows, n - first);
      join.first = first;
      if (runner) await runner.run('knn-join', join, rows);
      else localJoin(join, 0, rows);
      const { pairs, pairKeys, counts } = join;
      for (let r = 0; r < rows; r++) {
        const end = r * perRow + counts[r];
        for (let u = r * perRow; u < end; u++) {
          const p = pairs[2 * u];
          const q = pairs[2 * u + 1];
          updates += heaps.push(p, q, pairKeys[u]) + heaps.push(q, p, pairKeys[u]);
        }
      }
      if (pacer.due()) await pacer.pause();
    }
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

/** NN-descent's local join over a block of rows as the 'knn-join' kernel reads it; arrays shared with the threads when there are any. */
export interface LocalJoinInput {
  /** n x d rows, in the order nnDescent works in. */
  x: Float32Array;
  d: number;
  /** Neighbour heap keys, n x k: index i * k (the root) is row i's farthest kept squared distance. */
  keys: Float32Array;
  k: number;
  /** Each row's new and old candidates, n x m, -1 in empty slots. */
  newCandidates: Int32Array;
  oldCandidates: Int32Array;
  m: number;
  /** The block's first row: kernel index r is row first + r. */
  first: number;
  /** Update slots per row: the most pairs one row's candidates make. */
  perRow: number;
  /** Out: index r's kept pairs (p, q) at slots [r * perRow, r * perRow + counts[r]), two entries per slot. */
  pairs: Int32Array;
  /** Out: the squared distance of each kept pair. */
  pairKeys: Float32Array;
  /** Out: pairs kept per index. */
  counts: Int32Array;
}

/**
 * The local join of rows [first + start, first + end): every new-new and new-old candidate pair of each row is
 * measured and kept where it would enter either list; reads only arrays nobody writes meanwhile.
 */
export function localJoin(input: LocalJoinInput, start: number, end: number): void {
  const { x, d, keys, k, newCandidates, oldCandidates, m, first, perRow, pairs, pairKeys, counts } = input;
  for (let r = start; r < end; r++) {
    const o = (first + r) * m;
    let slot = r * perRow;
    for (let a = 0; a < m; a++) {
      const p = newCandidates[o + a];
      if (p < 0) continue;
      const limit = keys[p * k];
      for (let b = a + 1; b < m; b++) {
        const q = newCandidates[o + b];
        if (q < 0) continue;
        const s = squaredDistance(x, p * d, q * d, d);
        if (s < limit || s < keys[q * k]) {
          pairs[2 * slot] = p;
          pairs[2 * slot + 1] = q;
          pairKeys[slot++] = s;
        }
      }
      for (let b = 0; b < m; b++) {
        const q = oldCandidates[o + b];
        if (q < 0 || q === p) continue;
        const s = squaredDistance(x, p * d, q * d, d);
        if (s < limit || s < keys[q * k]) {
          pairs[2 * slot] = p;
          pairs[2 * slot + 1] = q;
          pairKeys[slot++] = s;
        }
      }
    }
    counts[r] = slot - r * perRow;
  }
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
async function randomProjectionLeaves(
  x: Float32Array,
  n: number,
  d: number,
  leafSize: number,
  random: () => number,
  pacer: Pacer,
): Promise<{ order: Int32Array; bounds: number[] }> {
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
    if (pacer.due()) await pacer.pause();
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

  /** `shared`: keys over shared memory, for a threaded join to read. */
  constructor(
    readonly n: number,
    readonly k: number,
    shared = false,
  ) {
    this.indices = new Int32Array(n * k).fill(-1);
    this.keys = allocate(Float32Array, n * k, shared).fill(Infinity);
    this.isNew = new Uint8Array(n * k);
  }

  /** Offer j as a neighbour of i; returns 1 when the list changed. */
  push(i: number, j: number, key: number): number {
    const k = this.k;
    const o = i * k;
    if (!(key < this.keys[o])) return 0;
    for (let s = 0; s < k; s++) if (this.indices[o + s] === j) return 0;
    return this.pushNew(i, j, key);
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

/** Per-row candidate sets of bounded size keeping the entries with the smallest random priority. */
class CandidateLists {
  readonly indices: Int32Array;
  private readonly priorities: Float32Array;

  /** `shared`: indices over shared memory, for a threaded join to read. */
  constructor(
    n: number,
    private readonly m: number,
    shared = false,
  ) {
    this.indices = allocate(Int32Array, n * m, shared);
    this.priorities = new Float32Array(n * m);
  }

  clear(): void {
    this.indices.fill(-1);
    this.priorities.fill(Infinity);
  }

  push(i: number, j: number, priority: number): void {
    const m = this.m;
    const o = i * m;
    const pr = this.priorities;
    const ix = this.indices;
    if (!(priority < pr[o])) return;
    for (let s = 0; s < m; s++) if (ix[o + s] === j) return;
    const pos = o + replaceRoot(pr, ix, null, o, m, priority);
    pr[pos] = priority;
    ix[pos] = j;
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
