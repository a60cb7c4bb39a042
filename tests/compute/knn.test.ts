import { describe, expect, it } from 'vitest';
import { exactKnn, knn, nnDescent } from '../../src/compute/knn';
import { mixture } from './mixture';


/** Brute-force k nearest neighbours (squared euclidean), nearest first. */
function bruteForce(data: Float32Array, n: number, d: number, k: number): number[][] {
  return Array.from({ length: n }, (_, i) => {
    const dist = Array.from({ length: n }, (_, j) => {
      let s = 0;
      for (let c = 0; c < d; c++) s += (data[i * d + c] - data[j * d + c]) ** 2;
      return s;
    });
    return dist
      .map((s, j) => [s, j] as const)
      .filter(([, j]) => j !== i)
      .sort((a, b) => a[0] - b[0])
      .slice(0, k)
      .map(([, j]) => j);
  });
}

function recall(found: Int32Array, truth: number[][], k: number): number {
  let hits = 0;
  truth.forEach((row, i) => {
    const set = new Set(row);
    for (let s = 0; s < k; s++) if (set.has(found[i * k + s])) hits++;
  });
  return hits / (truth.length * k);
}

describe('exactKnn', () => {
  it('matches brute force, nearest first, without self', async () => {
    const { data } = mixture(150, 6, 3, 1);
    const graph = await exactKnn(data, 150, 6, 5);
    expect(graph.indices.length).toBe(150 * 5);
    expect(recall(graph.indices, bruteForce(data, 150, 6, 5), 5)).toBe(1);
    for (let i = 0; i < 150; i++) {
      for (let s = 0; s < 5; s++) {
        expect(graph.indices[i * 5 + s]).not.toBe(i);
        if (s > 0) expect(graph.distances[i * 5 + s]).toBeGreaterThanOrEqual(graph.distances[i * 5 + s - 1]);
      }
    }
    // Euclidean distances, not squared.
    const j = graph.indices[0];
    let s = 0;
    for (let c = 0; c < 6; c++) s += (data[c] - data[j * 6 + c]) ** 2;
    expect(graph.distances[0]).toBeCloseTo(Math.sqrt(s), 4);
  });

  it('finds the same neighbours with the WebAssembly distance kernel as in JavaScript', async () => {
    const { data } = mixture(300, 37, 4, 6);
    const simd = await exactKnn(data, 300, 37, 12);
    const plain = await exactKnn(data, 300, 37, 12, { simd: false });
    expect(recall(simd.indices, bruteForce(data, 300, 37, 12), 12)).toBe(1);
    expect(recall(plain.indices, bruteForce(data, 300, 37, 12), 12)).toBe(1);
    for (let v = 0; v < simd.distances.length; v++) expect(simd.distances[v]).toBeCloseTo(plain.distances[v], 3);
  });

  it('reports cosine distance as 1 - cos', async () => {
    const data = new Float32Array([1, 0, 0, 1, 1, 1, -1, 0]);
    const graph = await exactKnn(data, 4, 2, 1, { metric: 'cosine' });
    expect(graph.indices[0]).toBe(2);
    expect(graph.distances[0]).toBeCloseTo(1 - Math.SQRT1_2, 5);
  });
});

describe('nnDescent', () => {
  it('recovers nearly all true neighbours', async () => {
    const { data } = mixture(1200, 12, 5, 2);
    const graph = await nnDescent(data, 1200, 12, 10, { seed: 3 });
    expect(recall(graph.indices, bruteForce(data, 1200, 12, 10), 10)).toBeGreaterThan(0.97);
    expect(graph.distances.every(Number.isFinite)).toBe(true);
  });

  it('is deterministic for a seed and reports progress', async () => {
    const { data } = mixture(400, 8, 4, 4);
    let calls = 0;
    const a = await nnDescent(data, 400, 8, 6, { seed: 9, onProgress: () => calls++ });
    const b = await nnDescent(data, 400, 8, 6, { seed: 9 });
    expect(a.indices).toEqual(b.indices);
    expect(calls).toBeGreaterThan(0);
  });

  it('rejects with an AbortError when cancelled', async () => {
    const { data } = mixture(400, 8, 4, 5);
    const controller = new AbortController();
    controller.abort();
    await expect(knn(data, 400, 8, 6, { method: 'nndescent', signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
    await expect(knn(data, 400, 8, 6, { method: 'exact', signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });
});
