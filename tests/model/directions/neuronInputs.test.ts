import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { neuronEmbeddings } from '../../../src/compute/directions/neuronClusters';
import { chooseBackend } from '../../../src/model/backend';
import { neuronColumn, neuronWeights, recordNeuronInputs } from '../../../src/model/directions/neuronInputs';
import { neuronPolysemanticity } from '../../../src/model/directions/polysemanticity';
import { ModelUseError } from '../../../src/model/recordTable';
import { Gpt2InputError } from '../../../src/model/text/gpt2';
import { TextModel } from '../../../src/model/text/textModel';
import { EOT } from '../../../src/model/text/tokenizer';
import { createRng } from '../../../src/lib/rng';
import { tinyGpt2Files } from '../text/tinyGpt2';

let model: TextModel;
/** Windows of three lengths (two batches of equal length), each starting with <|endoftext|>. */
let windows: Int32Array[];

beforeAll(async () => {
  await chooseBackend({ node: true });
  model = await TextModel.fromFiles(tinyGpt2Files({ seed: 11 }), 'tiny');
  const random = createRng(5);
  windows = [24, 10, 24, 5].map((length) => Int32Array.from({ length }, (_, t) => (t === 0 ? EOT : Math.floor(random() * 50000))));
});
afterAll(() => model.dispose());

/** GPT-2's gelu_new in float64. */
const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

describe('recordNeuronInputs', () => {
  it.each(['h.0.mlp.act', 'h.1.mlp.act'])('%s: each embedding sums to the pre-activation less the bias, and GELU of it is the recorded neuron', async (layer) => {
    const recorded = await recordNeuronInputs(model, windows, layer, { batchSize: 1 });
    const { count, width, dim, inputs, bias } = recorded;
    expect(count).toBe(23 + 9 + 23 + 4);
    expect([width, dim]).toEqual([64, 16]);
    const direct = windows.map((ids) => {
      const t = model.gpt2.record([ids], layer);
      const values = t.dataSync() as Float32Array;
      t.dispose();
      return values;
    });
    let worst = 0;
    for (let neuron = 0; neuron < width; neuron++) {
      const embeddings = neuronEmbeddings(inputs, count, dim, neuronWeights(recorded, neuron));
      for (let r = 0; r < count; r++) {
        let sum = 0;
        let pre = bias[neuron];
        for (let j = 0; j < dim; j++) {
          sum += embeddings[r * dim + j];
          pre += inputs[r * dim + j] * recorded.kernel[j * width + neuron];
        }
        expect(sum + bias[neuron]).toBeCloseTo(pre, 4);
        const own = direct[recorded.window[r]][recorded.position[r] * width + neuron];
        worst = Math.max(worst, Math.abs(gelu(pre) - own) / (1 + Math.abs(own)));
        expect(recorded.activations[r * width + neuron]).toBeCloseTo(own, 4);
      }
    }
    expect(worst).toBeLessThan(1e-4);
  });

  it('keeps window order and skips token 0; --max-tokens takes the first tokens', async () => {
    const all = await recordNeuronInputs(model, windows, 'h.1.mlp.act');
    expect(Array.from(all.window.subarray(0, 25))).toEqual([...Array(23).fill(0), 1, 1]);
    expect(all.position[0]).toBe(1);
    expect(all.position[22]).toBe(23);
    expect(all.available).toBe(59);
    const capped = await recordNeuronInputs(model, windows, 'h.1.mlp.act', { maxTokens: 30 });
    expect([capped.count, capped.available]).toEqual([30, 59]);
    expect(Array.from(capped.window.subarray(23))).toEqual(Array(7).fill(1));
    expect(capped.activations).toEqual(all.activations.subarray(0, 30 * 64));
    expect(capped.inputs).toEqual(all.inputs.subarray(0, 30 * 16));
  });

  it('refuses layers that are not MLP neurons', async () => {
    await expect(recordNeuronInputs(model, windows, 'h.1.attn')).rejects.toThrow(ModelUseError);
    await expect(recordNeuronInputs(model, windows, 'h.7.mlp.act')).rejects.toThrow(ModelUseError);
    expect(() => model.gpt2.mlpInputs(windows.slice(0, 1), 'h.0')).toThrow(Gpt2InputError);
    expect(() => model.gpt2.mlpInputWeights('h.0.attn')).toThrow(Gpt2InputError);
  });

  it('leaves no tensor behind', async () => {
    await recordNeuronInputs(model, windows, 'h.0.mlp.act');
    const start = tf.memory().numTensors;
    await recordNeuronInputs(model, windows, 'h.1.mlp.act', { batchSize: 2 });
    await recordNeuronInputs(model, windows, 'h.0.mlp.act', { maxTokens: 7 });
    tf.dispose(Object.values(model.gpt2.mlpInputs(windows.slice(0, 1), 'h.1.mlp.act')));
    model.gpt2.mlpInputWeights('h.1.mlp.act');
    expect(() => model.gpt2.mlpInputs([Int32Array.of(EOT, 60000)], 'h.1.mlp.act')).toThrow(Gpt2InputError);
    expect(tf.memory().numTensors).toBe(start);
  });
});

describe('neuronPolysemanticity', () => {
  it('examples reach 0.75 of the maximum; clusters partition the clustered examples; polysemanticity counts the large ones', async () => {
    const recorded = await recordNeuronInputs(model, windows, 'h.1.mlp.act');
    for (let neuron = 0; neuron < recorded.width; neuron++) {
      const column = neuronColumn(recorded, neuron);
      const result = neuronPolysemanticity(recorded, neuron, { threshold: 0.5, minMembers: 2 });
      expect(result.maxActivation).toBe(Math.max(...column));
      expect(Array.from(result.examples)).toEqual(Array.from(column.keys()).filter((r) => result.maxActivation > 0 && column[r] >= 0.75 * result.maxActivation));
      expect(result.clustered).toEqual(result.examples);
      expect(result.clusters.flat().sort((a, b) => a - b)).toEqual(Array.from(result.examples));
      expect(result.clusters.map((c) => c.length)).toEqual(result.clusters.map((c) => c.length).sort((a, b) => b - a));
      expect(result.polysemanticity).toBe(result.clusters.filter((c) => c.length >= 2).length);
      const loose = neuronPolysemanticity(recorded, neuron, { threshold: -1, minMembers: 1 });
      expect(loose.clusters.length).toBe(result.examples.length > 0 ? 1 : 0);
    }
  });

  it('with --max-examples clusters only the most active examples', async () => {
    const recorded = await recordNeuronInputs(model, windows, 'h.1.mlp.act');
    const neuron = Array.from({ length: recorded.width }, (_, n) => n).find((n) => neuronPolysemanticity(recorded, n, { threshold: 0.5, minMembers: 2 }).examples.length >= 4)!;
    expect(neuron).toBeDefined();
    const column = neuronColumn(recorded, neuron);
    const result = neuronPolysemanticity(recorded, neuron, { threshold: 0.5, minMembers: 2, maxExamples: 2 });
    expect(result.clustered.length).toBe(2);
    const top = Array.from(result.examples).sort((a, b) => column[b] - column[a]).slice(0, 2).sort((a, b) => a - b);
    expect(Array.from(result.clustered)).toEqual(top);
    expect(result.clusters.flat().length).toBe(2);
  });
});
