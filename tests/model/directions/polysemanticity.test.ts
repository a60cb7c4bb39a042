import { describe, expect, it } from 'vitest';
import { createRng, gaussian } from '../../../src/lib/rng';
import type { NeuronInputs } from '../../../src/model/directions/neuronInputs';
import { defaultThreshold, IMAGE_THRESHOLD, measurePolysemanticity, neuronPolysemanticity, TEXT_THRESHOLD } from '../../../src/model/directions/polysemanticity';

/** A recording of 80 rows, 5 neurons reading 6 inputs; neuron 4 is never positive. */
function recording(seed = 1): NeuronInputs {
  const random = createRng(seed);
  const [count, width, dim] = [80, 5, 6];
  const activations = Float32Array.from({ length: count * width }, (_, i) => (i % width === 4 ? -random() : 2 * random() - 0.5));
  return {
    layer: 'toy',
    count,
    width,
    dim,
    activations,
    inputs: Float32Array.from({ length: count * dim }, () => gaussian(random)),
    window: Int32Array.from({ length: count }, (_, r) => Math.floor(r / 10)),
    position: Int32Array.from({ length: count }, (_, r) => r % 10),
    kernel: Float32Array.from({ length: dim * width }, () => gaussian(random)),
    bias: new Float32Array(width),
    available: count,
  };
}

describe('measurePolysemanticity', () => {
  it('measures each neuron as neuronPolysemanticity does, most active row first, and sums up the layer', async () => {
    const recorded = recording();
    const options = { threshold: 0.3, minMembers: 2 };
    const events: number[] = [];
    const layer = await measurePolysemanticity(recorded, { ...options, onProgress: (e) => events.push(e.done) });
    expect(events).toEqual([1, 2, 3, 4, 5]);
    expect(layer.neurons.map((n) => n.index)).toEqual([0, 1, 2, 3, 4]);
    for (const n of layer.neurons) {
      const one = neuronPolysemanticity(recorded, n.index, options);
      expect([n.maxActivation, n.examples, n.clusteredExamples, n.polysemanticity]).toEqual([one.maxActivation, one.examples.length, one.clustered.length, one.polysemanticity]);
      expect(n.clusters.map((c) => [...c].sort((a, b) => a - b))).toEqual(one.clusters);
      for (const cluster of n.clusters) {
        const values = Array.from(cluster, (row) => recorded.activations[row * recorded.width + n.index]);
        expect(values).toEqual([...values].sort((a, b) => b - a));
      }
    }
    expect(layer.neurons[4]).toMatchObject({ examples: 0, clusters: [], polysemanticity: 0 });
    expect(layer.neurons[4].maxActivation).toBeLessThan(0);
    expect(layer.deadNeurons).toBe(1);
    expect(layer.histogram.reduce((a, b) => a + b, 0)).toBe(5);
    layer.histogram.forEach((k, p) => expect(k).toBe(layer.neurons.filter((n) => n.polysemanticity === p).length));
    expect(layer.meanPolysemanticity).toBeCloseTo(layer.neurons.reduce((s, n) => s + n.polysemanticity, 0) / 5, 12);
    expect(layer.capped).toBe(0);
  });

  it('measures the neurons asked for, in that order, and counts those --max-examples capped', async () => {
    const recorded = recording(2);
    const layer = await measurePolysemanticity(recorded, { threshold: 0.3, minMembers: 2, neurons: [3, 1], maxExamples: 2 });
    expect(layer.neurons.map((n) => n.index)).toEqual([3, 1]);
    expect(layer.neurons.every((n) => n.clusteredExamples <= 2)).toBe(true);
    expect(layer.capped).toBe(layer.neurons.filter((n) => n.examples > 2).length);
    expect(layer.capped).toBeGreaterThan(0);
    await expect(measurePolysemanticity(recorded, { threshold: 0.3, minMembers: 2, neurons: [5] })).rejects.toThrow('toy has neurons 0-4; got 5.');
  });

  it('rejects with an AbortError when cancelled', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(measurePolysemanticity(recording(), { threshold: 0.5, minMembers: 3, signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('has a default threshold per modality', () => {
    expect(defaultThreshold('text')).toBe(TEXT_THRESHOLD);
    expect(defaultThreshold('image')).toBe(IMAGE_THRESHOLD);
    expect([TEXT_THRESHOLD, IMAGE_THRESHOLD]).toEqual([0.5, 0.7]);
  });
});
