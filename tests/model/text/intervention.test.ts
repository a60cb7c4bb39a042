import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseBackend } from '../../../src/model/backend';
import { generate } from '../../../src/model/text/generate';
import { disposeCache, Gpt2InputError, Gpt2Model, isGpt2MaskBuffer, type Intervention } from '../../../src/model/text/gpt2';
import { parseGpt2Config } from '../../../src/model/text/gpt2Config';
import { readSafetensors } from '../../../src/model/text/safetensors';
import { createRng, gaussian } from '../../../src/lib/rng';
import { maxError } from './reference';
import { tinyGpt2Files } from './tinyGpt2';
import { readTidy } from '../../../src/model/readTensors';

const CONFIG = { n_embd: 32, n_layer: 3, n_head: 4, n_positions: 24 };
const VOCAB = [0, 11, 262, 1000, 50256];
let model: Gpt2Model;

function unit(width: number, seed: number): Float32Array {
  const random = createRng(seed);
  const v = Float32Array.from({ length: width }, () => gaussian(random));
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

function tokens(count: number, seed: number): Int32Array[] {
  const random = createRng(seed);
  return [Int32Array.from({ length: count }, () => Math.floor(random() * 50257))];
}

/** The logits of VOCAB with `intervention`, from the forward's own path. */
function intervened(ids: Int32Array[], intervention: Intervention | null): Float32Array {
  return readTidy(() => tf.gather(model.logits(ids, intervention), VOCAB, 2));
}

/** The same from the independent split forward: the layer's activation changed by `change` on the host, then the rest of the model. */
function oracle(ids: Int32Array[], layer: string, change: (row: Float32Array) => Float32Array): Float32Array {
  return tf.tidy(() => {
    const { activation, logitsFrom } = model.splitAt(ids, layer, VOCAB);
    const [batch, count, width] = activation.shape;
    const values = activation.dataSync() as Float32Array;
    const changed = new Float32Array(values.length);
    for (let r = 0; r < batch * count; r++) changed.set(change(values.subarray(r * width, (r + 1) * width)), r * width);
    return logitsFrom(tf.tensor3d(changed, [batch, count, width])).dataSync() as Float32Array;
  });
}

beforeAll(async () => {
  await chooseBackend({ node: true });
  const [config, weights] = tinyGpt2Files({ seed: 9, config: CONFIG });
  model = Gpt2Model.fromTensors(parseGpt2Config(new TextDecoder().decode(config.bytes)), readSafetensors(weights.bytes, { skip: isGpt2MaskBuffer }));
});
afterAll(() => model?.dispose());

describe('Interventions in the GPT-2 forward', () => {
  it('change nothing with α = 0: the same logits, bit for bit, from the window and from generation', async () => {
    const ids = tokens(12, 1);
    const zero: Intervention = { kind: 'add', layer: 'h.1.mlp.act', vector: new Float32Array(model.config.nInner) };
    expect(intervened(ids, zero)).toEqual(intervened(ids, null));
    const plain: Float32Array[] = [];
    const steered: Float32Array[] = [];
    const a = await generate(model, ids[0], { maxTokens: 6, stopAtEndOfText: false, onToken: (_, l) => plain.push(l) });
    const b = await generate(model, ids[0], { maxTokens: 6, stopAtEndOfText: false, intervention: zero, onToken: (_, l) => steered.push(l) });
    expect(b.ids).toEqual(a.ids);
    expect(steered).toEqual(plain);
  });

  it.each([
    ['h.0.attn', 'add'],
    ['h.1.mlp.act', 'add'],
    ['h.2', 'add'],
    ['h.1', 'project-out'],
    ['h.0.mlp.act', 'project-out'],
    ['h.2', 'set-along'],
    ['h.1.mlp.act', 'set-units'],
  ] as const)('%s, %s: the logits of the split forward with the activation changed on the host', (layer, kind) => {
    const ids = tokens(10, 2);
    const width = layer.endsWith('mlp.act') ? model.config.nInner : model.config.nEmbd;
    const v = unit(width, 3);
    let intervention: Intervention;
    let change: (row: Float32Array) => Float32Array;
    if (kind === 'add') {
      const vector = v.map((x) => 4 * x);
      intervention = { kind, layer, vector };
      change = (row) => row.map((x, i) => x + vector[i]);
    } else if (kind === 'project-out') {
      intervention = { kind, layer, direction: v };
      change = (row) => {
        const along = row.reduce((sum, x, i) => sum + x * v[i], 0);
        return row.map((x, i) => x - along * v[i]);
      };
    } else if (kind === 'set-along') {
      // Mean-ablation of a direction: its component set to a value (x − (x·v − m)v).
      intervention = { kind: 'project-out', layer, direction: v, value: 0.75 };
      change = (row) => {
        const along = row.reduce((sum, x, i) => sum + x * v[i], 0);
        return row.map((x, i) => x - (along - 0.75) * v[i]);
      };
    } else {
      intervention = { kind, layer, units: [3, 17], values: [0, 0.5] };
      change = (row) => row.map((x, i) => (i === 3 ? 0 : i === 17 ? 0.5 : x));
    }
    const got = intervened(ids, intervention);
    const expected = oracle(ids, layer, change);
    expect(maxError(got, expected).rel).toBeLessThan(1e-5);
    // The change matters: the logits move.
    expect(maxError(got, intervened(ids, null)).rel).toBeGreaterThan(1e-3);
  });

  it('steers generation with the cache as the whole window does, and refuses a direction of the wrong width', () => {
    const ids = tokens(9, 4)[0];
    const intervention: Intervention = { kind: 'add', layer: 'h.1', vector: unit(model.config.nEmbd, 5).map((x) => 3 * x) };
    const tensors = tf.memory().numTensors;
    let step = model.extend(null, ids.subarray(0, 6), intervention);
    for (let t = 6; t < 9; t++) step = model.extend(step.cache, ids.subarray(t, t + 1), intervention);
    const window = readTidy(() => model.logits([ids], intervention).slice([0, 8, 0], [1, 1, -1]));
    expect(maxError(step.logits, window).rel).toBeLessThan(1e-5);
    disposeCache(step.cache);
    // The first test's generation already made the model's one table for logits: nothing else stays.
    expect(tf.memory().numTensors).toBe(tensors);
    expect(() => model.logits([ids], { kind: 'add', layer: 'h.1', vector: new Float32Array(5) })).toThrow(Gpt2InputError);
    expect(() => model.logits([ids], { kind: 'set-units', layer: 'h.1', units: [999], values: [0] })).toThrow(/units 0\.\.31; got 999/);
  });
});
