/** Columns that cross every boundary of the pipeline: typed arrays, never arrays of objects. */

/** Recorded activations of one layer: `count` rows of `dim` floats, row-major. */
export interface ActivationTable {
  layer: string;
  dim: number;
  count: number;
  /** count x dim, row-major. */
  values: Float32Array;
  /** Index of the input (image) each row came from. */
  input: Uint32Array;
  /** Spatial position of the row in the layer's output grid; -1 for a pooled row. */
  x: Int16Array;
  y: Int16Array;
  /** The layer's spatial output size (1 x 1 for a non-spatial layer). */
  gridWidth: number;
  gridHeight: number;
  /** Rows recorded before sampling to the memory budget; equals `count` when nothing was dropped. */
  totalBeforeSampling: number;
}

/** Per-input columns: what the model predicted, and the true label where known (-1 otherwise). */
export interface InputColumns {
  count: number;
  names: string[];
  /** Index into `labelNames`, -1 where unknown. */
  label: Int32Array;
  /** Top predicted class index, -1 where the model has no classifier output. */
  predicted: Int32Array;
  probability: Float32Array;
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
  nNeighbors?: number;
  minDist?: number;
  perplexity?: number;
  epochs?: number;
}

export interface ProgressEvent {
  stage: string;
  done: number;
  total: number;
  message?: string;
}

export type ProgressCallback = (event: ProgressEvent) => void;

/** One ranked input of a cell. `score` is the projection on the cell's mean direction. */
export interface TopInput {
  row: number;
  input: number;
  x: number;
  y: number;
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
}

export interface GridLevel {
  size: number;
  cells: AtlasCell[];
}
