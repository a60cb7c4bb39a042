import { describe, expect, it } from 'vitest';
import { neuronClusters, neuronEmbeddings, neuronExamples } from '../../../src/compute/directions/neuronClusters';
import { createRng, gaussian } from '../../../src/lib/rng';
import { plantedDirection } from './planted';

const D = 48;

/** m example embeddings, each a positive multiple of one of the given patterns plus noise. */
function embeddingsOf(patterns: Float64Array[], m: number, seed: number) {
  const random = createRng(seed);
  const pattern = Int32Array.from({ length: m }, (_, i) => i % patterns.length);
  const embeddings = new Float32Array(m * D);
  for (let i = 0; i < m; i++) {
    const scale = 2 + random();
    for (let j = 0; j < D; j++) embeddings[i * D + j] = scale * patterns[pattern[i]][j] + 0.05 * gaussian(random);
  }
  return { embeddings, pattern };
}

describe('neuronClusters', () => {
  it.each([1, 2, 3, 4, 5])('finds two clusters for a neuron with two unrelated patterns (seed %i)', (seed) => {
    const random = createRng(seed);
    const patterns = [plantedDirection(D, random), plantedDirection(D, random)];
    const { embeddings, pattern } = embeddingsOf(patterns, 40, seed + 100);
    const { clusters, polysemanticity } = neuronClusters(embeddings, 40, D, { threshold: 0.5, minMembers: 3 });
    expect(polysemanticity).toBe(2);
    expect(clusters).toHaveLength(2);
    for (const cluster of clusters) {
      expect(cluster).toHaveLength(20);
      expect(new Set(cluster.map((i) => pattern[i])).size).toBe(1);
    }
  });

  it.each([1, 2, 3])('finds one cluster for a neuron with one pattern (seed %i)', (seed) => {
    const patterns = [plantedDirection(D, createRng(seed))];
    const { embeddings } = embeddingsOf(patterns, 30, seed + 100);
    const { clusters, polysemanticity } = neuronClusters(embeddings, 30, D, { threshold: 0.5, minMembers: 3 });
    expect(polysemanticity).toBe(1);
    expect(clusters[0]).toHaveLength(30);
  });

  it('orders clusters largest first and leaves zero embeddings alone', () => {
    const embeddings = Float32Array.of(1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0);
    const { clusters, polysemanticity } = neuronClusters(embeddings, 6, 2, { threshold: 0.9, minMembers: 2 });
    expect(clusters).toEqual([[0, 3, 5], [2, 4], [1]]);
    expect(polysemanticity).toBe(2);
  });
});

describe('neuronEmbeddings', () => {
  it('multiplies inputs by weights so rows sum to the pre-activation less the bias', () => {
    const inputs = Float32Array.of(1, 2, 3, -1, 0, 2);
    const weights = [0.5, -1, 2];
    const embeddings = neuronEmbeddings(inputs, 2, 3, weights);
    expect(Array.from(embeddings)).toEqual([0.5, -2, 6, -0.5, -0, 4]);
    expect(embeddings.subarray(0, 3).reduce((s, x) => s + x)).toBeCloseTo(1 * 0.5 + 2 * -1 + 3 * 2, 6);
  });
});

describe('neuronExamples', () => {
  it('keeps the rows within the fraction of the maximum', () => {
    expect(Array.from(neuronExamples(Float32Array.of(1, 4, 3, 2.9, -5)))).toEqual([1, 2]);
    expect(Array.from(neuronExamples(Float32Array.of(1, 4, 3, 2.9, -5), 0.5))).toEqual([1, 2, 3]);
    expect(neuronExamples(Float32Array.of(-1, -2))).toHaveLength(0);
  });
});
