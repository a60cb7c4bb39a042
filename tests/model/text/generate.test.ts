import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseBackend } from '../../../src/model/backend';
import { generate, pickToken } from '../../../src/model/text/generate';
import { Gpt2Model, isGpt2MaskBuffer } from '../../../src/model/text/gpt2';
import { parseGpt2Config } from '../../../src/model/text/gpt2Config';
import { readSafetensors } from '../../../src/model/text/safetensors';
import { encode } from '../../../src/model/text/tokenizer';
import { createRng } from '../../../src/lib/rng';
import { maxError } from './reference';
import { tinyGpt2Files } from './tinyGpt2';
import { readTidy } from '../../../src/model/readTensors';

const MODEL_DIR = join(resolve(dirname(fileURLToPath(import.meta.url)), '../../..'), 'models/text-gpt2');
/** A seeded random GPT-2 wide enough for several heads and blocks, with the real vocabulary. */
const RANDOM = { n_embd: 48, n_layer: 3, n_head: 4, n_positions: 40 };

function builtInModel(): Gpt2Model {
  const config = parseGpt2Config(readFileSync(join(MODEL_DIR, 'config.json'), 'utf8'));
  return Gpt2Model.fromTensors(config, readSafetensors(readFileSync(join(MODEL_DIR, 'model.safetensors')), { skip: isGpt2MaskBuffer, fileName: 'model.safetensors' }));
}

function randomModel(): Gpt2Model {
  const [config, weights] = tinyGpt2Files({ seed: 5, config: RANDOM });
  return Gpt2Model.fromTensors(parseGpt2Config(new TextDecoder().decode(config.bytes)), readSafetensors(weights.bytes, { skip: isGpt2MaskBuffer }));
}

/** The next-token logits after `ids`, from the whole window's forward (no cache). */
function lastLogits(model: Gpt2Model, ids: number[]): Float32Array {
  return readTidy(() => model.logits([Int32Array.from(ids)]).slice([0, ids.length - 1, 0], [1, 1, -1]));
}

beforeAll(async () => {
  await chooseBackend({ node: true });
});

describe.each([
  ['the built-in GPT-2', builtInModel, 'Call me Ishmael. Some years ago, never mind how long'],
  ['a seeded random GPT-2', randomModel, 'The sea was calm and the ship'],
])('Generation with the key/value cache, %s', (_, load, prompt) => {
  let model: Gpt2Model;
  let baseline = 0;
  beforeAll(() => {
    baseline = tf.memory().numTensors;
    model = load();
  });
  afterAll(() => {
    model?.dispose();
    // Every weight and the table generation made are freed.
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it('gives the tokens and logits of recomputing the whole window at every step (greedy)', async () => {
    const promptIds = Int32Array.from(encode(prompt));
    const steps: Float32Array[] = [];
    const tensors = tf.memory().numTensors;
    const { ids, stop } = await generate(model, promptIds, { maxTokens: 24, stopAtEndOfText: false, onToken: (_, logits) => steps.push(logits) });
    // The model keeps one tensor for generation (its unembedding's columns, freed by dispose); the cache is freed.
    expect(tf.memory().numTensors).toBe(tensors + 1);
    await generate(model, promptIds, { maxTokens: 3 });
    expect(tf.memory().numTensors).toBe(tensors + 1);
    expect(stop).toBe('length');
    expect(ids).toHaveLength(24);
    let worst = 0;
    ids.forEach((id, t) => {
      const expected = lastLogits(model, [...promptIds, ...ids.slice(0, t)]);
      worst = Math.max(worst, maxError(steps[t], expected).rel);
      expect(id).toBe(pickToken(expected, 0, 0, Math.random));
    });
    console.log(`cached against recomputed logits over 24 steps: largest error ${worst.toExponential(1)} of the largest logit`);
    expect(worst).toBeLessThan(1e-5);
  });

  it('samples the same tokens from the same seed, and stops where the context is full', async () => {
    const promptIds = Int32Array.from(encode(prompt));
    const options = { maxTokens: 12, temperature: 1, topK: 40, seed: 3, stopAtEndOfText: false };
    const [a, b, c] = [await generate(model, promptIds, options), await generate(model, promptIds, options), await generate(model, promptIds, { ...options, seed: 4 })];
    expect(a.ids).toEqual(b.ids);
    expect(c.ids).not.toEqual(a.ids);
    const room = model.config.nPositions - promptIds.length;
    const full = await generate(model, promptIds, { maxTokens: room + 10, stopAtEndOfText: false });
    expect(full).toMatchObject({ stop: 'context' });
    expect(full.ids).toHaveLength(room + 1);
  });
});

describe('pickToken', () => {
  it('takes the most likely token greedily, and samples only among the top k in proportion to exp(logit / T)', () => {
    const logits = Float32Array.from([0, 3, 1, 3, 2]);
    expect(pickToken(logits, 0, 0, Math.random)).toBe(1);
    const random = createRng(1);
    const counts = new Map<number, number>();
    for (let n = 0; n < 20_000; n++) {
      const id = pickToken(logits, 1, 3, random);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    // The top 3 are ids 1, 3 (logit 3) and 4 (logit 2): shares e^3 : e^3 : e^2 of their sum.
    expect([...counts.keys()].sort()).toEqual([1, 3, 4]);
    const total = 2 * Math.exp(3) + Math.exp(2);
    expect(counts.get(4)! / 20_000).toBeCloseTo(Math.exp(2) / total, 1);
    expect(counts.get(1)! / 20_000).toBeCloseTo(Math.exp(3) / total, 1);
  });
});
