import type { SparseRows } from './tsne';
import { TSNE_KERNELS_WASM } from './wasm/tsneKernels.wasm';
import { instantiateKernels, kernelModule } from './wasmKernels';

interface KernelExports {
  memory: WebAssembly.Memory;
  repulsion(n: number, padded: number, xs: number, ys: number, fx: number, fy: number): number;
  attraction(n: number, rows: number, cols: number, vals: number, xy: number, gx: number, gy: number, scale: number): void;
}

/** Padding positions: their Student-t weights round to zero in single precision. */
const FAR_AWAY = 1e15;

/**
 * The t-SNE gradient terms in WebAssembly SIMD (src/compute/wasm/tsneKernels.wat), on one run's own
 * memory: the joint probabilities P are copied in once, positions once per iteration, in single precision.
 * At 1k points the exact repulsion takes ~0.4 ms (the JavaScript loop ~1.7 ms), the attraction ~3x less
 * than in JavaScript. Where the runtime has no SIMD, create() returns null and t-SNE stays in JavaScript.
 */
export class TsneKernels {
  private readonly exports: KernelExports;
  private readonly n: number;
  private readonly padded: number;
  private readonly xs: Float32Array;
  private readonly ys: Float32Array;
  private readonly xy: Float32Array;
  private readonly fx: Float32Array;
  private readonly fy: Float32Array;
  private readonly gx: Float32Array;
  private readonly gy: Float32Array;
  /** Byte offsets of the columns above and of P's CSR arrays, as the kernels take them. */
  private readonly at: { xs: number; ys: number; xy: number; fx: number; fy: number; gx: number; gy: number; rows: number; cols: number; vals: number };

  /** Kernels for n points with affinities p, or null where the runtime cannot run them. */
  static create(p: SparseRows): TsneKernels | null {
    const module = kernelModule(TSNE_KERNELS_WASM);
    return module ? new TsneKernels(module, p) : null;
  }

  private constructor(module: WebAssembly.Module, p: SparseRows) {
    const { n } = p;
    // Rows padded to a multiple of 4 entries with zero-valued ones, as the attraction kernel reads them.
    let nnz = 0;
    for (let i = 0; i < n; i++) nnz += Math.ceil((p.rowStart[i + 1] - p.rowStart[i]) / 4) * 4;
    const padded = Math.ceil(n / 8) * 8;
    this.n = n;
    this.padded = padded;
    const column = 4 * padded;
    const at = {
      xs: 0,
      ys: column,
      xy: 2 * column,
      fx: 4 * column,
      fy: 5 * column,
      gx: 6 * column,
      gy: 7 * column,
      rows: 8 * column,
      cols: 8 * column + 4 * (n + 1),
      vals: 8 * column + 4 * (n + 1) + 4 * nnz,
    };
    this.at = at;
    this.exports = instantiateKernels<KernelExports>(module, at.vals + 4 * nnz);
    const buffer = this.exports.memory.buffer;
    this.xs = new Float32Array(buffer, at.xs, padded);
    this.ys = new Float32Array(buffer, at.ys, padded);
    this.xy = new Float32Array(buffer, at.xy, 2 * padded);
    this.fx = new Float32Array(buffer, at.fx, padded);
    this.fy = new Float32Array(buffer, at.fy, padded);
    this.gx = new Float32Array(buffer, at.gx, padded);
    this.gy = new Float32Array(buffer, at.gy, padded);
    this.xs.fill(FAR_AWAY, n);
    this.ys.fill(FAR_AWAY, n);
    const rows = new Int32Array(buffer, at.rows, n + 1);
    const cols = new Int32Array(buffer, at.cols, nnz);
    const vals = new Float32Array(buffer, at.vals, nnz);
    let e = 0;
    for (let i = 0; i < n; i++) {
      rows[i] = e;
      for (let s = p.rowStart[i]; s < p.rowStart[i + 1]; s++, e++) {
        cols[e] = p.columns[s];
        vals[e] = p.values[s];
      }
      // A padding entry points at the row itself: zero distance, zero weight.
      for (; e % 4 !== 0; e++) {
        cols[e] = i;
        vals[e] = 0;
      }
    }
    rows[n] = e;
  }

  /** Copies the current positions (n x 2, interleaved) in for the next kernel calls. */
  setLayout(layout: Float64Array): void {
    const { n, xs, ys, xy } = this;
    for (let i = 0; i < n; i++) {
      const x = layout[2 * i];
      const y = layout[2 * i + 1];
      xs[i] = x;
      ys[i] = y;
      xy[2 * i] = x;
      xy[2 * i + 1] = y;
    }
  }

  /** Exact out_i = sum_j w_ij^2 (y_i - y_j) over all pairs; returns Z = sum_{i != j} w_ij. */
  repulsion(out: Float64Array): number {
    const { n, at, fx, fy } = this;
    const z = this.exports.repulsion(n, this.padded, at.xs, at.ys, at.fx, at.fy);
    for (let i = 0; i < n; i++) {
      out[2 * i] = fx[i];
      out[2 * i + 1] = fy[i];
    }
    return z;
  }

  /** gradient_i = scale * sum_j p_ij w_ij (y_i - y_j), P being the matrix given at creation. */
  attraction(gradient: Float64Array, scale: number): void {
    const { n, at, gx, gy } = this;
    this.exports.attraction(n, at.rows, at.cols, at.vals, at.xy, at.gx, at.gy, scale);
    for (let i = 0; i < n; i++) {
      gradient[2 * i] = gx[i];
      gradient[2 * i + 1] = gy[i];
    }
  }
}
