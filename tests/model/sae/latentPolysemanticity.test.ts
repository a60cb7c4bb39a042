import { beforeAll, describe, expect, it } from 'vitest';
import { createRng, gaussian } from '../../../src/lib/rng';
import { chooseBackend } from '../../../src/model/backend';
import type { NeuronInputs } from '../../../src/model/directions/neuronInputs';
import { measurePolysemanticity } from '../../../src/model/directions/polysemanticity';
import { encodeSae } from '../../../src/model/sae/encode';
import { measureLatentPolysemanticity } from '../../../src/model/sae/latentPolysemanticity';
import { denseLatents, type Sae } from '../../../src/model/sae/sae';

beforeAll(async () => {
  await chooseBackend({ node: true });
});

function randomSae(dIn: number, dSae: number, k: number, seed: number): Sae {
  const random = createRng(seed);
  const normal = (n: number, scale: number) => Float32Array.from({ length: n }, () => scale * gaussian(random));
  return {
    config: { architecture: 'topk', dIn, dSae, k, applyBDecToInput: true, layer: null, modelName: null },
    weights: { W_enc: normal(dIn * dSae, 1), W_dec: normal(dSae * dIn, 1), b_enc: normal(dSae, 0.1), b_dec: normal(dIn, 0.5) },
  };
}

describe('measureLatentPolysemanticity', () => {
  it('equals the neurons measure with the encoder as the kernel and x - b_dec as the inputs', async () => {
    const [dIn, dSae, count] = [12, 40, 600];
    const sae = randomSae(dIn, dSae, 5, 3);
    const random = createRng(9);
    const rows = Float32Array.from({ length: count * dIn }, () => gaussian(random));
    const latents = await encodeSae(sae, rows);
    const options = { threshold: 0.8, minMembers: 2, maxExamples: 20 };
    const mine = await measureLatentPolysemanticity(sae, rows, latents, options);
    const inputs = rows.map((v, i) => v - sae.weights.b_dec[i % dIn]);
    const asNeurons: NeuronInputs = {
      layer: 'sae',
      count,
      width: dSae,
      dim: dIn,
      activations: denseLatents(latents),
      inputs,
      window: new Int32Array(count),
      position: new Int32Array(count),
      kernel: sae.weights.W_enc,
      bias: sae.weights.b_enc,
      available: count,
    };
    const reference = await measurePolysemanticity(asNeurons, options);
    expect(mine.histogram).toEqual(reference.histogram);
    expect(mine.capped).toBe(reference.capped);
    expect(mine.deadLatents).toBe(reference.deadNeurons);
    expect(mine.meanPolysemanticity).toBeCloseTo(reference.meanPolysemanticity, 12);
    mine.latents.forEach((latent, i) => {
      expect(latent.polysemanticity).toBe(reference.neurons[i].polysemanticity);
      expect(latent.clusters).toEqual(reference.neurons[i].clusters.map((c) => c.length));
      expect(latent.examples).toBe(reference.neurons[i].examples);
    });
    expect(mine.histogram.slice(2).some((n) => n > 0)).toBe(true);
  });

  it('a latent read by two orthogonal patterns has two clusters; one read by one pattern has one', async () => {
    // Latent 0 reads dimensions 0 and 1 (rows of type A or B), latent 1 dimension 2 (rows of type C).
    const dIn = 4;
    const sae: Sae = {
      config: { architecture: 'relu', dIn, dSae: 2, k: null, applyBDecToInput: false, layer: null, modelName: null },
      weights: { W_enc: Float32Array.from([1, 0, 1, 0, 0, 1, 0, 0]), W_dec: new Float32Array(8), b_enc: new Float32Array(2), b_dec: new Float32Array(dIn) },
    };
    const random = createRng(1);
    const rows: number[] = [];
    for (let r = 0; r < 30; r++) {
      const row = Array.from({ length: dIn }, () => 0.01 * gaussian(random));
      row[r % 3] += 2;
      rows.push(...row);
    }
    const activations = Float32Array.from(rows);
    const result = await measureLatentPolysemanticity(sae, activations, await encodeSae(sae, activations), { threshold: 0.5, minMembers: 3 });
    expect(result.latents.map((l) => l.polysemanticity)).toEqual([2, 1]);
    expect(result.latents[0].clusters).toEqual([10, 10]);
    expect(result.histogram).toEqual([0, 1, 1]);
  });
});
