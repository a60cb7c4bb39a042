import { UMAP } from 'umap-js';
import TSNE from 'tsne-js';
import { abortError } from '../lib/abort';
import { createRng } from '../lib/rng';
import { reducePca } from './pca';
import type { Metric, ProjectionOptions } from './types';

/** tsne-js is exact O(N^2) in time and memory: ~100 s for 1,000 points here, ~470 s for 2,000. */
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

/** Scales each row to unit length, so euclidean distances order pairs as cosine distances do. */
export function normaliseRows(data: Float32Array, n: number, d: number): Float32Array {
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += data[i * d + k] ** 2;
    const inv = 1 / (Math.sqrt(s) || 1);
    for (let k = 0; k < d; k++) out[i * d + k] = data[i * d + k] * inv;
  }
  return out;
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
    nEpochs: options.epochs,
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
        `(the cap is ${TSNE_JS_MAX_POINTS.toLocaleString('en')}); pick t-SNE (Barnes-Hut) or UMAP, or fewer samples per image.`,
    );
  }
  const iterations = options.epochs ?? 500;
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
  let input = data;
  let dim = d;
  if (options.metric === 'cosine') input = normaliseRows(input, n, dim);
  if (options.pcaDims > 0 && dim > options.pcaDims) {
    input = reducePca(input, n, dim, options.pcaDims, options.seed);
    dim = options.pcaDims;
  }
  switch (options.method) {
    case 'umap-js':
      return projectUmapJs(toRows(input, n, dim), options.pcaDims > 0 ? 'euclidean' : options.metric, options, onProgress, signal);
    case 'tsne-js':
      return projectTsneJs(toRows(input, n, dim), options, onProgress);
    default:
      throw new ProjectionError(`Unknown projection method "${options.method}".`);
  }
}
