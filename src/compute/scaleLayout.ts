import { abortError } from '../lib/abort';
import { createRng } from '../lib/rng';
import { createPacer } from '../lib/yieldToPage';
import { layoutFrame, type LayoutFrame } from './grid';
import { normaliseRows } from './knn';
import { applyPca, type PcaBasis } from './pca';
import { prepareRows, project, ProjectionError, type ProjectionProgress } from './projection';
import { placeOnRunner } from './parallel/place';
import { inProcessRunner, type RangeRunner } from './parallel/runner';
import { fitTsne, fitUmap, type FittedLayout } from './transform';
import type { ProjectionOptions } from './types';

/**
 * Up to this many rows a layout is one full fit; beyond, it is fitted on this many sampled rows and the
 * rest are placed into it (umap-learn's and openTSNE's `transform`). Chosen by measurement (`npm run
 * bench:scale`, README): a 100k fit takes 20-34 s here, placing a row costs about a quarter of fitting one
 * (900k placed in 60 s on 2 threads), and at 300k fit-and-place keeps more recall than a full fit.
 */
export const FIT_SAMPLE = 100_000;
/** Rows placed per batch: large enough to amortise a thread hand-off, small enough to report progress often. */
export const PLACE_BATCH = 16_384;

/** What placing rows into a fitted layout needs beside the fit itself: the preprocessing and the frame bins use. */
export interface LayoutFit {
  /** The projection settings the fit was made with. */
  options: ProjectionOptions;
  /** Input width before preprocessing. */
  dim: number;
  /** Rows are unit-normalised before PCA (cosine metric with PCA). */
  normaliseFirst: boolean;
  /** PCA fitted on the sample, or null when rows go to the engine as they are. */
  pca: PcaBasis | null;
  fitted: FittedLayout;
  /** The fitted layout's frame: every row, fitted or placed, is binned through it. */
  frame: LayoutFrame;
}

/**
 * Places a batch of rows (count x fit's search width, preprocessed) into a fit, writing count x 2 into out;
 * numbers[r] is row r's global number, which seeds its random stream (parallel/place.ts implements it on a runner).
 */
export type PlaceRows = (fit: LayoutFit, rows: Float32Array, count: number, numbers: Int32Array, out: Float32Array) => Promise<void>;

export interface ScaleOptions {
  /** Fit on at most this many rows (default FIT_SAMPLE). */
  fitSample?: number;
  /** Threads for the neighbour search and the placement; the layout is the same for any thread count. */
  runner?: RangeRunner;
  /** Place every row into this fit instead of fitting (a shard placing its rows into the merge's fit). */
  fit?: LayoutFit;
  onProgress?: ProjectionProgress;
  signal?: AbortSignal;
}

export interface ScaledLayout {
  /** n x 2 in the engine's coordinates. */
  layout: Float32Array;
  frame: LayoutFrame;
  /** The fit (of every row when n <= fitSample, else of the sample); null for the stock engines, which cannot place rows. */
  fit: LayoutFit | null;
  /** Rows fitted (sorted); null when all were. */
  sample: Int32Array | null;
}

const PROGRESS_TOTAL = 1000;
const FIT_SHARE = 600;

/**
 * Projects n x d rows to n x 2: one fit when n <= fitSample, else a fit on a seeded sample of fitSample rows
 * and every other row placed into it, in batches; or, given a fit, every row placed into it. Stock engines
 * (umap-js, tsne-js) fit every row and cannot place any.
 */
export async function projectAtScale(data: Float32Array, n: number, d: number, options: ProjectionOptions, scale: ScaleOptions = {}): Promise<ScaledLayout> {
  const fitSample = Math.max(3, scale.fitSample ?? FIT_SAMPLE);
  const { onProgress, signal, runner } = scale;
  if (scale.fit) {
    if (scale.fit.dim !== d) throw new ProjectionError(`The fitted layout takes rows of ${scale.fit.dim} values; these have ${d}.`);
    const layout = new Float32Array(2 * n);
    await placeAll(scale.fit, data, allRows(n), layout, (done, total) => onProgress?.(done, total), scale);
    return { layout, frame: scale.fit.frame, fit: scale.fit, sample: null };
  }
  if (options.method !== 'umap' && options.method !== 'tsne') {
    const layout = await project(data, n, d, options, onProgress, signal);
    return { layout, frame: layoutFrame(layout), fit: null, sample: null };
  }
  if (n <= fitSample) {
    const fit = await fitLayout(data, n, d, options, onProgress, signal, runner);
    return { layout: fit.fitted.embedding, frame: fit.frame, fit, sample: null };
  }
  const sample = sampleRows(n, fitSample, options.seed);
  const sampled = gatherRows(data, d, sample, 0, sample.length);
  const fit = await fitLayout(sampled, sample.length, d, options, (done, total) => onProgress?.(Math.floor((FIT_SHARE * done) / total), PROGRESS_TOTAL), signal, runner);
  const layout = new Float32Array(2 * n);
  const isSampled = new Uint8Array(n);
  sample.forEach((row, s) => {
    isSampled[row] = 1;
    layout[2 * row] = fit.fitted.embedding[2 * s];
    layout[2 * row + 1] = fit.fitted.embedding[2 * s + 1];
  });
  const rest = new Int32Array(n - sample.length);
  for (let i = 0, at = 0; i < n; i++) if (!isSampled[i]) rest[at++] = i;
  const placing = (done: number, total: number) => onProgress?.(FIT_SHARE + Math.floor(((PROGRESS_TOTAL - FIT_SHARE) * done) / total), PROGRESS_TOTAL);
  await placeAll(fit, data, rest, layout, placing, scale);
  onProgress?.(PROGRESS_TOTAL, PROGRESS_TOTAL, layout.slice());
  return { layout, frame: fit.frame, fit, sample };
}

function allRows(n: number): Int32Array {
  const rows = new Int32Array(n);
  for (let i = 0; i < n; i++) rows[i] = i;
  return rows;
}

/** Fits the layout on n x d rows: preprocessing (unit rows, PCA) fitted here too, so placed rows get the same. */
export async function fitLayout(
  data: Float32Array,
  n: number,
  d: number,
  options: ProjectionOptions,
  onProgress?: ProjectionProgress,
  signal?: AbortSignal,
  runner?: RangeRunner,
): Promise<LayoutFit> {
  if (options.method !== 'umap' && options.method !== 'tsne') {
    throw new ProjectionError(`Only this project's UMAP and t-SNE can place rows into a fitted layout; "${options.method}" fits every row.`);
  }
  if (n < 3) throw new ProjectionError(`At least 3 activations are needed for a layout; got ${n}.`);
  const { rows, dim, metric, normaliseFirst, pca } = prepareRows(data, n, d, options);
  const common = { metric, seed: options.seed, onProgress, signal, runner } as const;
  const fitted =
    options.method === 'umap'
      ? await fitUmap(rows, n, dim, { ...common, nNeighbors: options.nNeighbors, minDist: options.minDist, epochs: options.iterations })
      : await fitTsne(rows, n, dim, { ...common, perplexity: options.perplexity, iterations: options.iterations });
  return { options, dim: d, normaliseFirst, pca, fitted, frame: layoutFrame(fitted.embedding) };
}

/** Rows in the fit's search space: unit rows and PCA as fitted (the index itself normalises cosine rows). */
export function preprocessRows(fit: LayoutFit, rows: Float32Array, count: number): Float32Array {
  let out = fit.normaliseFirst ? normaliseRows(rows, count, fit.dim) : rows;
  if (fit.pca) out = applyPca(fit.pca, out, count);
  return fit.fitted.metric === 'cosine' ? normaliseRows(out, count, fit.fitted.index.d) : out;
}

/** Places the given rows of data (n x d) into the fit, a batch at a time, writing their places into layout (n x 2). */
export async function placeAll(
  fit: LayoutFit,
  data: Float32Array,
  rows: Int32Array,
  layout: Float32Array,
  onProgress: (done: number, total: number) => void,
  scale: Pick<ScaleOptions, 'runner' | 'signal'> = {},
): Promise<void> {
  const place = placeOnRunner(scale.runner ?? inProcessRunner());
  const pacer = createPacer(scale.signal, 50, 'Projection cancelled');
  const out = new Float32Array(2 * PLACE_BATCH);
  for (let start = 0; start < rows.length; start += PLACE_BATCH) {
    const end = Math.min(rows.length, start + PLACE_BATCH);
    const count = end - start;
    const batch = preprocessRows(fit, gatherRows(data, fit.dim, rows, start, end), count);
    // Rows are numbered by their row in data, so a row lands in the same place however the rows are batched.
    await place(fit, batch, count, rows.subarray(start, end), out);
    for (let r = 0; r < count; r++) {
      layout[2 * rows[start + r]] = out[2 * r];
      layout[2 * rows[start + r] + 1] = out[2 * r + 1];
    }
    onProgress(end, rows.length);
    if (pacer.due()) await pacer.pause();
    if (scale.signal?.aborted) throw abortError('Projection cancelled');
  }
}

/** fitSample distinct rows of n, chosen by a seeded partial shuffle, in ascending order. */
export function sampleRows(n: number, count: number, seed: number): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const random = createRng(seed ^ 0x5a3b1e);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(random() * (n - i));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order.slice(0, count).sort();
}

/** Rows[start..end) of data (d wide) gathered into one block. */
function gatherRows(data: Float32Array, d: number, rows: Int32Array, start: number, end: number): Float32Array {
  const out = new Float32Array((end - start) * d);
  for (let r = start; r < end; r++) out.set(data.subarray(rows[r] * d, (rows[r] + 1) * d), (r - start) * d);
  return out;
}
