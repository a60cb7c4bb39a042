/** Columns that cross every boundary of the pipeline: typed arrays, never arrays of objects. */

/** Recorded activations of one layer: `count` rows of `dim` floats, row-major. */
export interface ActivationTable {
  layer: string;
  dim: number;
  count: number;
  /** count x dim, row-major. */
  values: Float32Array;
  /** Index of the input (an image or a text document) each row came from. */
  input: Uint32Array;
  /**
   * Where in its input the row was recorded: a flat index into `positionShape` (row-major: y * width + x
   * for an image layer's [H, W], the token index for a text layer's [T]); -1 for a row pooled over positions.
   */
  position: Int32Array;
  /** The layer's positions: [H, W] for an image feature map, [T] for tokens, [] for a vector layer. */
  positionShape: number[];
  /** Rows recorded before sampling to the memory budget; equals `count` when nothing was dropped. */
  totalBeforeSampling: number;
  /** An optional key per row that cells summarise (text: the recorded token's id). */
  key?: Int32Array;
}

/** A 2-D layout: N x 2 row-major. */
export type Layout = Float32Array;

export type ProjectionMethod = 'umap' | 'tsne' | 'umap-js' | 'tsne-js';
export type Metric = 'euclidean' | 'cosine';

export interface ProjectionOptions {
  method: ProjectionMethod;
  metric: Metric;
  /** Reduce to this many dimensions with PCA first; 0 disables. */
  pcaDims: number;
  seed: number;
  /** UMAP's neighbourhood size. */
  nNeighbors?: number;
  /** UMAP's minimum distance between embedded points. */
  minDist?: number;
  /** t-SNE's perplexity. */
  perplexity?: number;
  /** UMAP epochs or t-SNE iterations; absent: the engine's default for the number of points. */
  iterations?: number;
}

export interface ProgressEvent {
  stage: string;
  done: number;
  total: number;
  message?: string;
}

export type ProgressCallback = (event: ProgressEvent) => void;

/** One ranked point of a cell: its row, input and position. `score` is the projection on the cell's mean direction. */
export interface TopInput {
  row: number;
  input: number;
  position: number;
  score: number;
}

export interface AtlasCell {
  /** Column and row of the cell in a g x g grid, origin at the layout's minimum. */
  i: number;
  j: number;
  count: number;
  /** Mean activation vector of the cell's members (dim floats). */
  mean: Float32Array;
  /** [label, count] pairs, most frequent first. */
  labels: [number, number][];
  top: TopInput[];
  /** The member row nearest to the mean: the cell's dataset exemplar. */
  exemplar: TopInput;
  /** The most typical row keys (text: tokens), [key, weight], heaviest first; weight: summed projection on the mean. */
  keys?: [number, number][];
}

export interface GridLevel {
  size: number;
  cells: AtlasCell[];
}
