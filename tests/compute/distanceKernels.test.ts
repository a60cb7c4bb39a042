import { describe, expect, it } from 'vitest';
import { DistanceKernels } from '../../src/compute/distanceKernels';
import { createRng, gaussian } from '../../src/lib/rng';

describe('DistanceKernels (WebAssembly SIMD)', () => {
  // Dimensions around the 4-float padding; row ranges of odd and even length, and empty.
  it.each([1, 3, 4, 5, 64])('squared distances match the double-precision sum (d = %i)', (d) => {
    const n = 23;
    const random = createRng(d);
    const data = new Float32Array(n * d);
    for (let v = 0; v < data.length; v++) data[v] = 3 * gaussian(random);
    const kernels = DistanceKernels.create(data, n, d)!;
    for (const [i, j0, j1] of [
      [0, 1, 23],
      [5, 0, 4],
      [22, 7, 14],
      [3, 9, 9],
    ]) {
      const row = kernels.rowDistances(i, j0, j1);
      expect(row.length).toBe(j1 - j0);
      for (let j = j0; j < j1; j++) {
        let s = 0;
        for (let c = 0; c < d; c++) s += (data[i * d + c] - data[j * d + c]) ** 2;
        expect(row[j - j0]).toBeCloseTo(s, 3);
        expect(Math.abs(row[j - j0] - s)).toBeLessThanOrEqual(1e-5 * Math.max(1, s));
      }
    }
  });
});
