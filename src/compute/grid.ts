import type { ActivationTable, AtlasCell, GridLevel, Layout, TopInput } from './types';

export interface NormaliseOptions {
  /** Percentiles each axis is clipped to, so a few outliers do not squeeze the rest into a corner. */
  lowPercentile?: number;
  highPercentile?: number;
  /** Fraction of [0, 1] left empty on each side. */
  margin?: number;
}

function percentile(sorted: Float32Array, p: number): number {
  if (sorted.length === 0) return 0;
  const pos = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** How a layout maps into [0, 1]: each axis clipped to [lo, hi] and scaled into [margin, 1 - margin]. */
export interface LayoutFrame {
  lo: [number, number];
  hi: [number, number];
  margin: number;
}

/** The frame of a layout: each axis's [low, high] percentiles. Rows placed later into the same layout use the same frame. */
export function layoutFrame(layout: Layout, options: NormaliseOptions = {}): LayoutFrame {
  const { lowPercentile = 1, highPercentile = 99, margin = 0.02 } = options;
  const n = layout.length / 2;
  const lo: [number, number] = [0, 0];
  const hi: [number, number] = [0, 0];
  for (let axis = 0; axis < 2; axis++) {
    const column = new Float32Array(n);
    for (let i = 0; i < n; i++) column[i] = layout[2 * i + axis];
    column.sort();
    lo[axis] = percentile(column, lowPercentile);
    hi[axis] = percentile(column, highPercentile);
  }
  return { lo, hi, margin };
}

/** A layout mapped into [0, 1] by a frame; values outside the frame are clipped to its edge. */
export function applyFrame(layout: Layout, frame: LayoutFrame): Layout {
  const out = new Float32Array(layout.length);
  const n = layout.length / 2;
  const { margin } = frame;
  for (let axis = 0; axis < 2; axis++) {
    const lo = frame.lo[axis];
    const hi = frame.hi[axis];
    const span = hi - lo || 1;
    for (let i = 0; i < n; i++) {
      const v = Math.min(hi, Math.max(lo, layout[2 * i + axis]));
      out[2 * i + axis] = margin + ((v - lo) / span) * (1 - 2 * margin);
    }
  }
  return out;
}

/** Clips each axis to its [low, high] percentiles and scales it into [margin, 1 - margin]. */
export function normaliseLayout(layout: Layout, options: NormaliseOptions = {}): Layout {
  return applyFrame(layout, layoutFrame(layout, options));
}

export interface BinOptions {
  /** Cells with fewer members are dropped. */
  minCount?: number;
  /** Top inputs kept per cell (distinct inputs). */
  topK?: number;
  /** Label per input (index into the atlas's label names), for the cell's histogram; -1 is skipped. */
  inputLabel?: Int32Array;
}

/** Cell column/row of a normalised coordinate in a g x g grid. */
export const cellOf = (v: number, g: number): number => Math.min(g - 1, Math.max(0, Math.floor(v * g)));

/** Row indices of every non-empty cell, keyed j * g + i, in row order. */
export function cellMembers(normalised: Layout, g: number): Map<number, number[]> {
  const members = new Map<number, number[]>();
  const n = normalised.length / 2;
  for (let r = 0; r < n; r++) {
    const key = cellOf(normalised[2 * r + 1], g) * g + cellOf(normalised[2 * r], g);
    let list = members.get(key);
    if (!list) members.set(key, (list = []));
    list.push(r);
  }
  return members;
}

/** Mean of the given rows of an N x D table. */
export function meanOfRows(values: Float32Array, dim: number, rows: number[]): Float32Array {
  const mean = new Float64Array(dim);
  for (const r of rows) {
    const o = r * dim;
    for (let k = 0; k < dim; k++) mean[k] += values[o + k];
  }
  const out = new Float32Array(dim);
  for (let k = 0; k < dim; k++) out[k] = mean[k] / rows.length;
  return out;
}

/**
 * Ranks rows by their projection on the direction of `mean` (dot(a, mean / |mean|)), keeping the best
 * position per input, so each input appears once.
 */
export function rankByDirection(table: ActivationTable, rows: number[], mean: Float32Array, topK: number): TopInput[] {
  const { values, dim } = table;
  let norm = 0;
  for (let k = 0; k < dim; k++) norm += mean[k] * mean[k];
  norm = Math.sqrt(norm) || 1;
  const best = new Map<number, TopInput>();
  for (const r of rows) {
    let dot = 0;
    const o = r * dim;
    for (let k = 0; k < dim; k++) dot += values[o + k] * mean[k];
    const score = dot / norm;
    const input = table.input[r];
    const seen = best.get(input);
    if (!seen || score > seen.score) best.set(input, { row: r, input, position: table.position[r], score });
  }
  return [...best.values()].sort((a, b) => b.score - a.score || a.row - b.row).slice(0, topK);
}

/** Keys to show per cell (text: its typical tokens). */
const KEYS_SHOWN = 5;

/**
 * The cell's most typical row keys: each key weighted by its rows' projections on the cell's mean direction
 * (negative projections count as zero); where no row projects positively, by how often it occurs.
 */
export function typicalKeys(table: ActivationTable, rows: number[], mean: Float32Array, k = KEYS_SHOWN): [number, number][] {
  const { values, dim, key } = table;
  if (!key) return [];
  let norm = 0;
  for (let d = 0; d < dim; d++) norm += mean[d] * mean[d];
  norm = Math.sqrt(norm) || 1;
  const weight = new Map<number, number>();
  const count = new Map<number, number>();
  for (const r of rows) {
    let dot = 0;
    for (let d = 0, o = r * dim; d < dim; d++) dot += values[o + d] * mean[d];
    weight.set(key[r], (weight.get(key[r]) ?? 0) + Math.max(0, dot / norm));
    count.set(key[r], (count.get(key[r]) ?? 0) + 1);
  }
  const positive = [...weight.values()].some((w) => w > 0);
  const by = positive ? weight : count;
  return [...by.entries()]
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .slice(0, k)
    .map(([id, w]) => [id, Math.round(w * 1000) / 1000]);
}

/** The member row nearest (euclidean) to the mean: the cell's dataset exemplar. */
export function nearestToMean(table: ActivationTable, rows: number[], mean: Float32Array): TopInput {
  const { values, dim } = table;
  let bestRow = rows[0];
  let bestDist = Infinity;
  for (const r of rows) {
    let d = 0;
    const o = r * dim;
    for (let k = 0; k < dim; k++) {
      const diff = values[o + k] - mean[k];
      d += diff * diff;
    }
    if (d < bestDist) {
      bestDist = d;
      bestRow = r;
    }
  }
  return { row: bestRow, input: table.input[bestRow], position: table.position[bestRow], score: -Math.sqrt(bestDist) };
}

/** Bins a normalised layout into a g x g grid and summarises each cell that has enough members. */
export function binToGrid(table: ActivationTable, normalised: Layout, g: number, options: BinOptions = {}): GridLevel {
  const { minCount = 1, topK = 16, inputLabel } = options;
  const cells: AtlasCell[] = [];
  for (const [key, rows] of cellMembers(normalised, g)) {
    if (rows.length < minCount) continue;
    const mean = meanOfRows(table.values, table.dim, rows);
    const histogram = new Map<number, number>();
    if (inputLabel) {
      for (const r of rows) {
        const label = inputLabel[table.input[r]];
        if (label >= 0) histogram.set(label, (histogram.get(label) ?? 0) + 1);
      }
    }
    cells.push({
      i: key % g,
      j: Math.floor(key / g),
      count: rows.length,
      mean,
      labels: [...histogram.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]),
      top: rankByDirection(table, rows, mean, topK),
      exemplar: nearestToMean(table, rows, mean),
      ...(table.key ? { keys: typicalKeys(table, rows, mean) } : {}),
    });
  }
  cells.sort((a, b) => a.j - b.j || a.i - b.i);
  return { size: g, cells };
}

/** `bins` equal-width bins from min to max (one bin of everything where all values are equal). */
export interface Histogram {
  min: number;
  max: number;
  counts: number[];
}

/** The histogram of `count` values read by `at`, in `bins` equal-width bins from their min to their max. */
export function equalWidthHistogram(count: number, at: (k: number) => number, bins = 30): Histogram {
  let min = Infinity;
  let max = -Infinity;
  for (let k = 0; k < count; k++) {
    const v = at(k);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const counts = new Array<number>(bins).fill(0);
  const span = max - min || 1;
  for (let k = 0; k < count; k++) counts[Math.min(bins - 1, Math.floor(((at(k) - min) / span) * bins))]++;
  return { min, max, counts };
}

/** One neuron (channel) of the recorded layer: its strongest points, one per input, and how its values spread. */
export interface NeuronProfile {
  neuron: number;
  top: TopInput[];
  histogram: Histogram;
}

/** Ranks every row by one channel's value (the basis direction) and histograms that channel. */
export function neuronProfile(table: ActivationTable, neuron: number, topK: number, bins = 30): NeuronProfile {
  const { dim, count, values } = table;
  if (!Number.isInteger(neuron) || neuron < 0 || neuron >= dim) throw new RangeError(`Neuron ${neuron} does not exist: the layer has ${dim} (0 to ${dim - 1}).`);
  const basis = new Float32Array(dim);
  basis[neuron] = 1;
  const rows = Array.from({ length: count }, (_, r) => r);
  return { neuron, top: rankByDirection(table, rows, basis, topK), histogram: equalWidthHistogram(count, (r) => values[r * dim + neuron], bins) };
}

export const GRID_SIZES = [20, 40, 80, 160] as const;

/** All grid levels of an atlas, coarse to fine. */
export function buildLevels(
  table: ActivationTable,
  normalised: Layout,
  options: BinOptions & { sizes?: readonly number[] } = {},
): GridLevel[] {
  return (options.sizes ?? GRID_SIZES).map((g) => binToGrid(table, normalised, g, options));
}
