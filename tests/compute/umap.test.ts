import { describe, expect, it } from 'vitest';
import { layoutQuality } from '../../src/compute/quality';
import { fitCurve, umap } from '../../src/compute/umap';
import { mixture } from './mixture';


/** Fraction of each point's k nearest layout neighbours that share its cluster. */
function clusterPurity(layout: Float32Array, label: Int32Array, k: number): number {
  const n = label.length;
  let same = 0;
  for (let i = 0; i < n; i++) {
    const order = Array.from({ length: n }, (_, j) => j)
      .filter((j) => j !== i)
      .sort(
        (a, b) =>
          (layout[2 * a] - layout[2 * i]) ** 2 + (layout[2 * a + 1] - layout[2 * i + 1]) ** 2 -
          ((layout[2 * b] - layout[2 * i]) ** 2 + (layout[2 * b + 1] - layout[2 * i + 1]) ** 2),
      );
    for (let s = 0; s < k; s++) if (label[order[s]] === label[i]) same++;
  }
  return same / (n * k);
}

describe('umap', () => {
  const n = 300;
  const d = 10;
  const { data, label } = mixture(n, d, 3, 1);

  it('lays out a well-separated mixture as separate, finite clusters', async () => {
    const layout = await umap(data, n, d, { seed: 1, epochs: 150 });
    expect(layout.length).toBe(n * 2);
    expect(layout.every(Number.isFinite)).toBe(true);
    expect(clusterPurity(layout, label, 10)).toBeGreaterThan(0.98);
    const [quality] = layoutQuality(data, n, d, [layout], { k: 10 });
    expect(quality.trustworthiness).toBeGreaterThan(0.9);
  });

  it('supports the cosine metric and a PCA start', async () => {
    const cosine = await umap(data, n, d, { seed: 2, epochs: 100, metric: 'cosine' });
    expect(cosine.every(Number.isFinite)).toBe(true);
    expect(clusterPurity(cosine, label, 10)).toBeGreaterThan(0.95);
    const pca = await umap(data, n, d, { seed: 2, epochs: 100, init: 'pca' });
    expect(clusterPurity(pca, label, 10)).toBeGreaterThan(0.95);
  });

  it('is deterministic for a seed', async () => {
    const a = await umap(data, n, d, { seed: 7, epochs: 60 });
    const b = await umap(data, n, d, { seed: 7, epochs: 60 });
    expect(a).toEqual(b);
    const c = await umap(data, n, d, { seed: 8, epochs: 60 });
    expect(c).not.toEqual(a);
  });

  it('reports progress, ending at total with the final layout', async () => {
    const calls: [number, number, Float32Array | undefined][] = [];
    const layout = await umap(data, n, d, { seed: 3, epochs: 60, onProgress: (done, total, l) => calls.push([done, total, l]) });
    expect(calls.length).toBeGreaterThan(1);
    for (const [done, total] of calls) expect(done).toBeLessThanOrEqual(total);
    const [done, total, last] = calls[calls.length - 1];
    expect(done).toBe(total);
    expect(last).toEqual(layout);
    expect(calls.some(([, , l]) => l?.length === n * 2)).toBe(true);
  });

  it('rejects with an AbortError when cancelled, before or during the run', async () => {
    const before = new AbortController();
    before.abort();
    await expect(umap(data, n, d, { signal: before.signal })).rejects.toMatchObject({ name: 'AbortError' });
    const during = new AbortController();
    await expect(umap(data, n, d, { signal: during.signal, onProgress: () => during.abort() })).rejects.toMatchObject({
      name: 'AbortError',
    });
  });

  it('handles tiny inputs', async () => {
    expect(await umap(new Float32Array([1, 2]), 1, 2)).toEqual(new Float32Array(2));
    const three = await umap(new Float32Array([0, 0, 1, 1, 5, 5]), 3, 2, { epochs: 20 });
    expect(three.length).toBe(6);
    expect(three.every(Number.isFinite)).toBe(true);
  });
});

describe('fitCurve', () => {
  it("matches umap-learn's a and b for min_dist 0.1, spread 1", () => {
    const { a, b } = fitCurve(1, 0.1);
    expect(a).toBeCloseTo(1.577, 1);
    expect(b).toBeCloseTo(0.895, 2);
  });
});
