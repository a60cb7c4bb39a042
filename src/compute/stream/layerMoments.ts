/** The layer's first and second moments as plain columns, in float64. */
export interface LayerMomentsState {
  dim: number;
  /** Rows whose values were all finite. */
  rows: number;
  sum: Float64Array;
  /** dim x dim, the upper triangle (i <= j) of the sum of x x^T; the lower triangle is left at 0. */
  cross: Float64Array;
}

/** Rows gathered before they are added to the sums: each sum then takes one write per batch, not per row. */
const BATCH = 32;

/**
 * The layer's mean and covariance over every row of a stream, accumulated in float64 as plain sums so that
 * shards add up (for PCA and whitening over all rows rather than a sample). Memory: dim^2 x 8 bytes;
 * time: dim^2 / 2 multiply-adds per row, done a batch of rows at a time so the sums stay in cache.
 */
export class LayerMoments {
  private readonly sums: LayerMomentsState;
  /** The pending rows, column by column: unit i's values are [i * BATCH, i * BATCH + pending). */
  private readonly batch: Float32Array;
  private pending = 0;

  constructor(dim: number) {
    this.sums = { dim, rows: 0, sum: new Float64Array(dim), cross: new Float64Array(dim * dim) };
    this.batch = new Float32Array(dim * BATCH);
  }

  /** The sums over every row added so far. */
  get state(): LayerMomentsState {
    this.flush();
    return this.sums;
  }

  addRow(data: Float32Array, offset: number): void {
    const { dim } = this.sums;
    for (let i = 0; i < dim; i++) if (!Number.isFinite(data[offset + i])) return;
    const b = this.pending;
    for (let i = 0; i < dim; i++) this.batch[i * BATCH + b] = data[offset + i];
    if (++this.pending === BATCH) this.flush();
  }

  private flush(): void {
    const n = this.pending;
    if (n === 0) return;
    const { dim, sum, cross } = this.sums;
    const batch = this.batch;
    for (let i = 0; i < dim; i++) {
      const ci = i * BATCH;
      let s = 0;
      for (let b = 0; b < n; b++) s += batch[ci + b];
      sum[i] += s;
      const row = i * dim;
      if (s === 0 && batch.subarray(ci, ci + n).every((v) => v === 0)) continue;
      for (let j = i; j < dim; j++) {
        const cj = j * BATCH;
        let dot = 0;
        for (let b = 0; b < n; b++) dot += batch[ci + b] * batch[cj + b];
        cross[row + j] += dot;
      }
    }
    this.sums.rows += n;
    this.pending = 0;
  }

  merge(other: LayerMomentsState): void {
    const s = this.state;
    if (other.dim !== s.dim) throw new RangeError(`Cannot merge the moments of a ${other.dim}-d layer into a ${s.dim}-d one.`);
    s.rows += other.rows;
    for (let i = 0; i < s.dim; i++) s.sum[i] += other.sum[i];
    for (let k = 0; k < s.cross.length; k++) s.cross[k] += other.cross[k];
  }

  mean(): Float64Array {
    const { rows, sum } = this.state;
    return sum.map((v) => (rows ? v / rows : 0));
  }

  /** The sample covariance (n - 1), dim x dim, symmetric. */
  covariance(): Float64Array {
    const { dim, rows, cross } = this.state;
    const mean = this.mean();
    const cov = new Float64Array(dim * dim);
    if (rows < 2) return cov;
    for (let i = 0; i < dim; i++) {
      for (let j = i; j < dim; j++) {
        const c = (cross[i * dim + j] - rows * mean[i] * mean[j]) / (rows - 1);
        cov[i * dim + j] = c;
        cov[j * dim + i] = c;
      }
    }
    return cov;
  }
}
