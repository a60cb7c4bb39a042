import { UMAP } from 'umap-js';
import TSNE from 'tsne-js';
import { abortError } from '../lib/abort';
import { createRng } from '../lib/rng';
import { normaliseRows } from './knn';
import { applyPca, fitPca } from './pca';
import { tsne } from './tsne';
import { umap } from './umap';
import type { Metric, ProjectionOptions } from './types';

/** tsne-js is exact O(N^2) in time and memory: 37-52 s for 1,000 points on a 2-core machine, ~4x that for 2,000. */
export const TSNE_JS_MAX_POINTS = 2000;

export class ProjectionError extends Error {
  override name = 'ProjectionError';
}

export type ProjectionProgress = (done: number, total: number, layout?: Float32Array) => void;

const euclidean = (a: number[], b: number[]) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
};

const cosine = (a: number[], b: number[]) => {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return 1 - dot / (Math.sqrt(na * nb) || 1);
};

function toRows(data: Float32Array, n: number, d: number): number[][] {
  const rows: number[][] = new Array(n);
  for (let i = 0; i < n; i++) rows[i] = Array.from(data.subarray(i * d, (i + 1) * d));
  return rows;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** umap-js, the reference implementation, stepped by hand so it reports progress and can be cancelled. */
async function projectUmapJs(
  rows: number[][],
  metric: Metric,
  options: ProjectionOptions,
  onProgress?: ProjectionProgress,
  signal?: AbortSignal,
): Promise<Float32Array> {
  const umap = new UMAP({
    nComponents: 2,
    nNeighbors: Math.min(options.nNeighbors ?? 15, rows.length - 1),
    minDist: options.minDist ?? 0.1,
    nEpochs: options.iterations,
    random: createRng(options.seed),
    distanceFn: metric === 'cosine' ? cosine : euclidean,
  });
  const epochs = umap.initializeFit(rows);
  let last = performance.now();
  for (let epoch = 0; epoch < epochs; epoch++) {
    umap.step();
    if (performance.now() - last > 50) {
      onProgress?.(epoch, epochs);
      await yieldToEventLoop();
      if (signal?.aborted) throw abortError('Projection cancelled');
      last = performance.now();
    }
  }
  return Float32Array.from(umap.getEmbedding().flat());
}

/** tsne-js, the exact reference; synchronous inside, so only terminating its worker stops it early. */
function projectTsneJs(rows: number[][], options: ProjectionOptions, onProgress?: ProjectionProgress): Float32Array {
  if (rows.length > TSNE_JS_MAX_POINTS) {
    throw new ProjectionError(
      `tsne-js computes exact O(N²) t-SNE and would take many minutes for ${rows.length.toLocaleString('en')} points ` +
        `(the cap is ${TSNE_JS_MAX_POINTS.toLocaleString('en')}); pick this project's t-SNE or UMAP, or fewer samples per image.`,
    );
  }
  const iterations = options.iterations ?? 500;
  const model = new TSNE({
    dim: 2,
    perplexity: Math.min(options.perplexity ?? 30, (rows.length - 1) / 3),
    earlyExaggeration: 4,
    learningRate: 100,
    nIter: iterations,
    metric: 'euclidean',
  });
  model.on('progressIter', ([iter]: [number]) => onProgress?.(iter, iterations));
  model.init({ data: rows, type: 'dense' });
  model.run();
  return Float32Array.from((model.getOutput() as number[][]).flat());
}

/** Rows as the engines take them: PCA to `pcaDims` first when d is larger (unit rows first for cosine), and the metric they are then measured by. */
export function prepareRows(data: Float32Array, n: number, d: number, options: ProjectionOptions) {
  const reduce = options.pcaDims > 0 && d > options.pcaDims;
  // Unit rows first, so distances in the PCA space approximate cosine distances.
  const normaliseFirst = reduce && options.metric === 'cosine';
  const unit = normaliseFirst ? normaliseRows(data, n, d) : data;
  const pca = reduce ? fitPca(unit, n, d, options.pcaDims, options.seed) : null;
  return {
    rows: pca ? applyPca(pca, unit, n) : unit,
    dim: pca ? options.pcaDims : d,
    // After PCA the rows live in a euclidean space; without it the engines apply the metric themselves.
    metric: pca ? ('euclidean' as const) : options.metric,
    normaliseFirst,
    pca,
  };
}

/**
 * Projects n x d rows to n x 2 with the chosen method; PCA to `pcaDims` first when d is larger.
 * Cosine distance is handled by unit-normalising rows for engines that only know euclidean distance.
 */
export async function project(
  data: Float32Array,
  n: number,
  d: number,
  options: ProjectionOptions,
  onProgress?: ProjectionProgress,
  signal?: AbortSignal,
): Promise<Float32Array> {
  if (n < 3) throw new ProjectionError(`At least 3 activations are needed for a layout; got ${n}.`);
  if (signal?.aborted) throw abortError('Projection cancelled');
  const { rows: input, dim, metric } = prepareRows(data, n, d, options);
  switch (options.method) {
    case 'umap':
      return umap(input, n, dim, { nNeighbors: options.nNeighbors, minDist: options.minDist, epochs: options.iterations, metric, seed: options.seed, onProgress, signal });
    case 'tsne':
      return tsne(input, n, dim, { perplexity: options.perplexity, iterations: options.iterations, metric, seed: options.seed, onProgress, signal });
    case 'umap-js':
      return projectUmapJs(toRows(input, n, dim), metric, options, onProgress, signal);
    case 'tsne-js':
      // tsne-js knows only euclidean distance, which on unit rows orders pairs as cosine distance does.
      return projectTsneJs(toRows(metric === 'cosine' ? normaliseRows(input, n, dim) : input, n, dim), options, onProgress);
    default:
      throw new ProjectionError(`Unknown projection method "${options.method}".`);
  }
}
