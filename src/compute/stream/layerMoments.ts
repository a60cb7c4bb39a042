/** The layer's first and second moments as plain columns, in float64. */
export interface LayerMomentsState {
  dim: number;
  /** Rows whose values were all finite. */
  rows: number;
  sum: Float64Array;
  /** dim x dim, the upper triangle (i <= j) of the sum of x x^T; the lower triangle is left at 0. */
  cross: Float64Array;
}

/**
 * The layer's mean and covariance over every row of a stream, accumulated in float64 as plain sums so that
 * shards add up (for PCA and whitening over all rows rather than a sample). Memory: dim^2 x 8 bytes;
 * time: dim^2 / 2 multiply-adds per row.
 */
export class LayerMoments {
  readonly state: LayerMomentsState;

  constructor(dim: number) {
    this.state = { dim, rows: 0, sum: new Float64Array(dim), cross: new Float64Array(dim * dim) };
  }

  addRow(data: Float32Array, offset: number): void {
    const { dim, sum, cross } = this.state;
    for (let i = 0; i < dim; i++) if (!Number.isFinite(data[offset + i])) return;
    this.state.rows++;
    for (let i = 0; i < dim; i++) {
      const xi = data[offset + i];
      sum[i] += xi;
      if (xi === 0) continue;
      const row = i * dim;
      for (let j = i; j < dim; j++) cross[row + j] += xi * data[offset + j];
    }
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
