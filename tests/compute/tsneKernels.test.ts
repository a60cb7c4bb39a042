import { describe, expect, it } from 'vitest';
import { attractiveForces, exactRepulsion, type SparseRows } from '../../src/compute/tsne';
import { TsneKernels } from '../../src/compute/tsneKernels';
import { createRng, gaussian } from '../../src/lib/rng';

/** A random symmetric-pattern sparse matrix with rows of uneven length (0 to 2 x `perRow` entries). */
function randomRows(n: number, perRow: number, seed: number): SparseRows {
  const random = createRng(seed);
  const rowStart = new Int32Array(n + 1);
  const columns: number[] = [];
  const values: number[] = [];
  for (let i = 0; i < n; i++) {
    const count = Math.floor(random() * 2 * perRow);
    for (let s = 0; s < count; s++) {
      columns.push(Math.floor(random() * n));
      values.push(random() / (n * perRow));
    }
    rowStart[i + 1] = columns.length;
  }
  return { n, rowStart, columns: Int32Array.from(columns), values: Float32Array.from(values) };
}

function randomLayout(n: number, spread: number, seed: number): Float64Array {
  const random = createRng(seed);
  const layout = new Float64Array(2 * n);
  for (let v = 0; v < 2 * n; v++) layout[v] = spread * gaussian(random);
  return layout;
}

function relativeError(actual: Float64Array, expected: Float64Array): number {
  let err = 0;
  let norm = 0;
  for (let v = 0; v < expected.length; v++) {
    err += (actual[v] - expected[v]) ** 2;
    norm += expected[v] ** 2;
  }
  return Math.sqrt(err / Math.max(norm, 1e-300));
}

describe('TsneKernels (WebAssembly SIMD)', () => {
  it('runs here: Node has WebAssembly SIMD', () => {
    expect(TsneKernels.create(randomRows(4, 2, 1))).not.toBeNull();
  });

  // Sizes around the 8-column blocks and the 4-entry row padding, and scales from early exaggeration to late.
  it.each([
    [2, 1],
    [7, 10],
    [8, 10],
    [9, 0.01],
    [100, 30],
    [257, 3],
  ])('exact repulsion matches the double-precision loop (n = %i, spread %f)', (n, spread) => {
    const layout = randomLayout(n, spread, n);
    const expected = new Float64Array(2 * n);
    const z = exactRepulsion(layout, n, expected);
    const kernels = TsneKernels.create(randomRows(n, 3, n))!;
    kernels.setLayout(layout);
    const actual = new Float64Array(2 * n);
    expect(kernels.repulsion(actual) / z).toBeCloseTo(1, 5);
    expect(relativeError(actual, expected)).toBeLessThan(1e-5);
  });

  it.each([
    [1, 3],
    [9, 2],
    [300, 20],
  ])('attraction matches the double-precision loop, rows of any length (n = %i)', (n, perRow) => {
    const p = randomRows(n, perRow, 7 + n);
    const layout = randomLayout(n, 5, 3);
    const expected = new Float64Array(2 * n);
    attractiveForces(p, layout, expected, 12);
    const kernels = TsneKernels.create(p)!;
    kernels.setLayout(layout);
    const actual = new Float64Array(2 * n).fill(NaN);
    kernels.attraction(actual, 12);
    expect(relativeError(actual, expected)).toBeLessThan(1e-5);
  });

  it('follows the layout from one call to the next', () => {
    const n = 50;
    const kernels = TsneKernels.create(randomRows(n, 4, 2))!;
    for (const seed of [1, 2]) {
      const layout = randomLayout(n, 4, seed);
      const expected = new Float64Array(2 * n);
      exactRepulsion(layout, n, expected);
      kernels.setLayout(layout);
      const actual = new Float64Array(2 * n);
      kernels.repulsion(actual);
      expect(relativeError(actual, expected)).toBeLessThan(1e-5);
    }
  });
});
