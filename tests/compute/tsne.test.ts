import { describe, expect, it } from 'vitest';
import { exactKnn } from '../../src/compute/knn';
import { BarnesHutRepulsion, exactRepulsion, FftRepulsion, jointProbabilities, tsne } from '../../src/compute/tsne';
import { createRng, gaussian } from '../../src/lib/rng';
import { mixture, nearestSameCluster } from './mixture';

describe('tsne', () => {
  const n = 300;
  const d = 10;
  const { data, label } = mixture(n, d, 3, 1);

  it('separates a well-separated mixture with exact (SIMD and JavaScript), Barnes-Hut and FFT repulsion', async () => {
    for (const [gradient, simd] of [['exact', true], ['exact', false], ['bh', true], ['fft', true]] as const) {
      const layout = await tsne(data, n, d, { seed: 1, iterations: 200, exaggerationIterations: 100, perplexity: 20, gradient, simd });
      expect(layout.length).toBe(n * 2);
      expect(layout.every(Number.isFinite)).toBe(true);
      expect(nearestSameCluster(layout, label)).toBeGreaterThan(0.98);
    }
  });

  it('takes the same steps with the WebAssembly kernels as in JavaScript, to single precision', async () => {
    // Few iterations: t-SNE is chaotic enough that rounding differences grow over a long run.
    const options = { seed: 2, iterations: 20, exaggerationIterations: 10, gradient: 'exact' } as const;
    const simd = await tsne(data, n, d, options);
    const plain = await tsne(data, n, d, { ...options, simd: false });
    let err = 0;
    let norm = 0;
    for (let v = 0; v < 2 * n; v++) {
      err += (simd[v] - plain[v]) ** 2;
      norm += plain[v] ** 2;
    }
    expect(Math.sqrt(err / norm)).toBeLessThan(1e-3);
    expect(simd).not.toEqual(plain);
  });

  it('is deterministic for a seed', async () => {
    const a = await tsne(data, n, d, { seed: 4, iterations: 80 });
    const b = await tsne(data, n, d, { seed: 4, iterations: 80 });
    expect(a).toEqual(b);
    const c = await tsne(data, n, d, { seed: 4, iterations: 80, init: 'random' });
    expect(c).not.toEqual(a);
  });

  it('reports progress, ending at total with the final layout', async () => {
    const calls: [number, number, Float32Array | undefined][] = [];
    const layout = await tsne(data, n, d, { iterations: 50, onProgress: (done, total, l) => calls.push([done, total, l]) });
    expect(calls.length).toBeGreaterThan(1);
    const [done, total, last] = calls[calls.length - 1];
    expect(done).toBe(total);
    expect(last).toEqual(layout);
  });

  it('rejects with an AbortError when cancelled, before or during the run', async () => {
    const before = new AbortController();
    before.abort();
    await expect(tsne(data, n, d, { signal: before.signal })).rejects.toMatchObject({ name: 'AbortError' });
    const during = new AbortController();
    await expect(tsne(data, n, d, { signal: during.signal, onProgress: () => during.abort() })).rejects.toMatchObject({
      name: 'AbortError',
    });
  });
});

describe('jointProbabilities', () => {
  it('is symmetric and sums to one', async () => {
    const { data } = mixture(120, 5, 2, 2);
    const p = jointProbabilities(await exactKnn(data, 120, 5, 30), 10);
    let sum = 0;
    const entries = new Map<string, number>();
    for (let i = 0; i < p.n; i++) {
      for (let e = p.rowStart[i]; e < p.rowStart[i + 1]; e++) {
        sum += p.values[e];
        entries.set(`${i},${p.columns[e]}`, p.values[e]);
      }
    }
    expect(sum).toBeCloseTo(1, 5);
    for (const [key, v] of entries) {
      const [i, j] = key.split(',');
      expect(entries.get(`${j},${i}`)).toBeCloseTo(v, 7);
    }
  });
});

/** An approximate repulsion within 1% of the exact Z, and its normalised forces within 3% (relative norm). */
function expectCloseRepulsion(approx: Float64Array, zApprox: number, exact: Float64Array, z: number): void {
  expect(Math.abs(zApprox - z) / z).toBeLessThan(0.01);
  let err = 0;
  let norm = 0;
  for (let v = 0; v < exact.length; v++) {
    err += (exact[v] / z - approx[v] / zApprox) ** 2;
    norm += (exact[v] / z) ** 2;
  }
  expect(Math.sqrt(err / norm)).toBeLessThan(0.03);
}

describe('approximate repulsion', () => {
  const random = createRng(5);
  const n = 800;
  const layout = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    const c = i % 4;
    layout[2 * i] = 15 * Math.cos(c) + 3 * gaussian(random);
    layout[2 * i + 1] = 15 * Math.sin(c) + 3 * gaussian(random);
  }
  const exact = new Float64Array(2 * n);
  const z = exactRepulsion(layout, n, exact);

  it.each([
    ['FFT', () => new FftRepulsion()],
    ['Barnes-Hut', () => new BarnesHutRepulsion()],
  ])('%s agrees with the exact repulsion to about 1%%', (_, create) => {
    const approx = new Float64Array(2 * n);
    const zApprox = create().compute(layout, n, approx);
    expectCloseRepulsion(approx, zApprox, exact, z);
  });
});

describe('FFT repulsion on a dense core inside a wide layout', () => {
  it('refines its grid instead of measuring every pair of the core, and stays accurate', () => {
    // Early exaggeration at scale: nearly all points within one unit, a few far out.
    const random = createRng(8);
    const n = 12_000;
    const layout = new Float64Array(2 * n);
    for (let i = 0; i < n; i++) {
      const far = i < 8;
      layout[2 * i] = far ? 40 * Math.cos(i) : 0.4 * gaussian(random);
      layout[2 * i + 1] = far ? 40 * Math.sin(i) : 0.4 * gaussian(random);
    }
    const exact = new Float64Array(2 * n);
    const z = exactRepulsion(layout, n, exact);
    const fft = new FftRepulsion();
    const approx = new Float64Array(2 * n);
    const zApprox = fft.compute(layout, n, approx);
    expect(fft.grid).toBeGreaterThan(128);
    expectCloseRepulsion(approx, zApprox, exact, z);
  });
});
