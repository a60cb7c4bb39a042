import { DISTANCE_KERNELS_WASM } from './wasm/distanceKernels.wasm';
import { instantiateKernels, kernelModule } from './wasmKernels';

interface KernelExports {
  memory: WebAssembly.Memory;
  rowDistances(x: number, stride: number, i: number, j0: number, j1: number, out: number): void;
}

/**
 * Squared euclidean distances between rows in WebAssembly SIMD (src/compute/wasm/distanceKernels.wat), on a
 * single-precision copy of the data with rows zero-padded to a multiple of 4: ~10x the JavaScript loop.
 */
export class DistanceKernels {
  private readonly exports: KernelExports;
  private readonly stride: number;
  private readonly out: Float32Array;
  private readonly outAt: number;

  /** Kernels over the n x d rows of data, or null where the runtime cannot run them. */
  static create(data: Float32Array, n: number, d: number): DistanceKernels | null {
    const module = kernelModule(DISTANCE_KERNELS_WASM);
    return module ? new DistanceKernels(module, data, n, d) : null;
  }

  private constructor(module: WebAssembly.Module, data: Float32Array, n: number, d: number) {
    const stride = Math.ceil(d / 4) * 4;
    this.stride = stride;
    this.outAt = 4 * n * stride;
    this.exports = instantiateKernels<KernelExports>(module, this.outAt + 4 * n);
    const buffer = this.exports.memory.buffer;
    const rows = new Float32Array(buffer, 0, n * stride);
    if (stride === d) rows.set(data.subarray(0, n * d));
    else for (let i = 0; i < n; i++) rows.set(data.subarray(i * d, (i + 1) * d), i * stride);
    this.out = new Float32Array(buffer, this.outAt, n);
  }

  /** |x_i - x_j|^2 for j0 <= j < j1, at index j - j0 of the returned view (valid until the next call). */
  rowDistances(i: number, j0: number, j1: number): Float32Array {
    this.exports.rowDistances(0, this.stride, i, j0, j1, this.outAt);
    return this.out.subarray(0, j1 - j0);
  }
}
