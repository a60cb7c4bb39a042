import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomDirections } from '../../../src/compute/directions/vectors';
import { createRng, gaussian } from '../../../src/lib/rng';
import { chooseBackend } from '../../../src/model/backend';
import { ablatedLosses, ablationTest, unitMeans } from '../../../src/model/text/ablation';
import { Gpt2Model, isGpt2MaskBuffer, type Intervention } from '../../../src/model/text/gpt2';
import { parseGpt2Config } from '../../../src/model/text/gpt2Config';
import { readSafetensors } from '../../../src/model/text/safetensors';
import { projectionScale, projectionScales, steeringTest, watchedProbability, watchedTokens } from '../../../src/model/text/steering';
import { encode } from '../../../src/model/text/tokenizer';
import { tinyGpt2Files } from './tinyGpt2';
import { readTidy } from '../../../src/model/readTensors';

const CONFIG = { n_embd: 32, n_layer: 3, n_head: 4, n_positions: 24 };
let model: Gpt2Model;

function windows(count: number, length: number, seed: number): Int32Array[] {
  const random = createRng(seed);
  return Array.from({ length: count }, () => Int32Array.from({ length }, (_, t) => (t === 0 ? 50256 : Math.floor(random() * 50257))));
}

/** The mean next-token cross-entropy from the whole forward with `intervention` (the model's own path), log-softmax in float64 on the host; with `only`, over the predictions of those tokens. */
function hostLoss(ids: Int32Array[], intervention: Intervention | null, only?: Set<number>): number {
  const vocab = model.config.vocabSize;
  let sum = 0;
  let count = 0;
  for (const w of ids) {
    const logits = readTidy(() => model.logits([w], intervention));
    for (let t = 0; t + 1 < w.length; t++) {
      if (only && !only.has(w[t + 1])) continue;
      const row = logits.subarray(t * vocab, (t + 1) * vocab);
      let max = -Infinity;
      for (const x of row) max = Math.max(max, x);
      let z = 0;
      for (const x of row) z += Math.exp(x - max);
      sum += max + Math.log(z) - row[w[t + 1]];
      count++;
    }
  }
  return sum / count;
}

/** Every position's row of `layer` over `ids`, on the host. */
function rows(ids: Int32Array[], layer: string): Float32Array[] {
  return ids.flatMap((w) => {
    const values = readTidy(() => model.record([w], layer));
    const width = values.length / w.length;
    return Array.from({ length: w.length }, (_, t) => values.slice(t * width, (t + 1) * width));
  });
}

beforeAll(async () => {
  await chooseBackend({ node: true });
  const [config, weights] = tinyGpt2Files({ seed: 9, config: CONFIG });
  model = Gpt2Model.fromTensors(parseGpt2Config(new TextDecoder().decode(config.bytes)), readSafetensors(weights.bytes, { skip: isGpt2MaskBuffer }));
});
afterAll(() => model?.dispose());

describe('Ablation in a GPT-2 layer', () => {
  it('gives the loss of the whole forward with the same intervention, clean and projected out', async () => {
    const ids = [...windows(2, 9, 1), ...windows(1, 6, 2)];
    const v = randomDirections(32, 1, 5);
    const project: Intervention = { kind: 'project-out', layer: 'h.1', direction: v };
    const losses = await ablatedLosses(model, ids, [project], { batchSize: 2 });
    expect(losses).toMatchObject({ windows: 3, predictions: 2 * 8 + 5 });
    expect(losses.clean).toBeCloseTo(hostLoss(ids, null), 4);
    expect(losses.ablated[0]).toBeCloseTo(hostLoss(ids, project), 4);
    expect(losses.ablated[0]).not.toBeCloseTo(losses.clean, 4);
  });

  it('scores only the predictions of the watched tokens, skipping batches that predict none, as the whole forward does', async () => {
    const ids = [...windows(2, 9, 1), ...windows(1, 6, 2)];
    // Targets of the first two windows only: the third window (its own batch) predicts none of them.
    const only = [ids[0][3], ids[0][5], ids[1][8]];
    const project: Intervention = { kind: 'project-out', layer: 'h.1', direction: randomDirections(32, 1, 5) };
    const progress: number[] = [];
    const losses = await ablatedLosses(model, ids, [project], { batchSize: 2, only, onProgress: (done) => progress.push(done) });
    expect(losses).toMatchObject({ windows: 3, predictions: 3 });
    expect(progress).toHaveLength(2); // the batch that predicts none reports its progress too
    expect(progress.at(-1)).toBe(3);
    expect(losses.clean).toBeCloseTo(hostLoss(ids, null, new Set(only)), 4);
    expect(losses.ablated[0]).toBeCloseTo(hostLoss(ids, project, new Set(only)), 4);
    expect(losses.clean).not.toBeCloseTo(hostLoss(ids, null), 2);
    await expect(ablatedLosses(model, ids.slice(2), [project], { only })).rejects.toThrow('No window predicts any of the watched tokens');
  });

  it('changes nothing when the direction is orthogonal to every activation it meets', async () => {
    const ids = windows(2, 8, 3);
    // 16 rows in a 32-wide layer leave a null space: a random vector with the rows' span removed (Gram–Schmidt).
    const basis: Float64Array[] = [];
    for (const row of rows(ids, 'h.2')) {
      const b = Float64Array.from(row);
      for (const q of basis) {
        const dot = b.reduce((s, x, k) => s + x * q[k], 0);
        for (let k = 0; k < b.length; k++) b[k] -= dot * q[k];
      }
      const norm = Math.hypot(...b);
      if (norm > 1e-6) basis.push(b.map((x) => x / norm));
    }
    const random = createRng(7);
    const v = Float64Array.from({ length: 32 }, () => gaussian(random));
    for (const q of basis) {
      const dot = v.reduce((s, x, k) => s + x * q[k], 0);
      for (let k = 0; k < v.length; k++) v[k] -= dot * q[k];
    }
    const norm = Math.hypot(...v);
    const orthogonal = Float32Array.from(v, (x) => x / norm);
    const {
      clean,
      ablated: [unrelated, related],
    } = await ablatedLosses(model, ids, [
      { kind: 'project-out', layer: 'h.2', direction: orthogonal },
      { kind: 'project-out', layer: 'h.2', direction: randomDirections(32, 1, 8) },
    ]);
    expect(Math.abs(unrelated - clean)).toBeLessThan(1e-5);
    expect(Math.abs(related - clean)).toBeGreaterThan(1e-4);
  });

  it('zero-ablates a unit as projecting out its axis does, and mean-ablates it to its mean over every position but the first', async () => {
    const ids = windows(2, 10, 4);
    const layer = 'h.1.mlp.act';
    const zero = await ablationTest(model, layer, ids, { kind: 'unit', unit: 7 }, 'zero', { random: 3, seed: 1 });
    const axis = new Float32Array(128);
    axis[7] = 1;
    expect(zero.ablated).toBeCloseTo(hostLoss(ids, { kind: 'project-out', layer, direction: axis }), 4);
    expect(zero.controls).toBe('random units');
    expect(zero.controlUnits).toHaveLength(3);
    expect(new Set([...zero.controlUnits!, 7]).size).toBe(4);
    zero.controlUnits!.forEach((unit, k) => {
      const a = new Float32Array(128);
      a[unit] = 1;
      expect(zero.increase.randomValues[k] + zero.clean).toBeCloseTo(hostLoss(ids, { kind: 'project-out', layer, direction: a }), 4);
    });

    const all = rows(ids, layer);
    const kept = all.filter((_, r) => r % 10 !== 0);
    const means = unitMeans(model, layer, ids);
    for (const u of [0, 7, 127]) expect(means[u]).toBeCloseTo(kept.reduce((s, row) => s + row[u], 0) / kept.length, 5);
    const mean = await ablationTest(model, layer, ids, { kind: 'unit', unit: 7 }, 'mean', { random: 2, seed: 1 });
    expect(mean.ablated).toBeCloseTo(hostLoss(ids, { kind: 'set-units', layer, units: [7], values: [means[7]] }), 4);
  });

  it('mean-ablates a direction: its component set to its mean over the given means, and each random direction\'s to its own', async () => {
    const ids = windows(2, 9, 8);
    const reference = windows(3, 7, 9);
    const layer = 'h.2';
    const means = unitMeans(model, layer, reference);
    const direction = randomDirections(32, 1, 12);
    const test = await ablationTest(model, layer, ids, { kind: 'direction', direction }, 'mean', { random: 3, seed: 4, means });
    expect(test.controls).toBe('random directions');
    // The mean of x·v over every position but the first of the reference windows, on the host in float64.
    const meanAlong = (v: Float32Array) => {
      const kept = rows(reference, layer).filter((_, r) => r % 7 !== 0);
      return kept.reduce((s, row) => s + row.reduce((d, x, i) => d + x * v[i], 0), 0) / kept.length;
    };
    expect(test.ablated).toBeCloseTo(hostLoss(ids, { kind: 'project-out', layer, direction, value: meanAlong(direction) }), 4);
    const controls = randomDirections(32, 3, 4);
    for (let k = 0; k < 3; k++) {
      const r = controls.slice(k * 32, (k + 1) * 32);
      expect(test.increase.randomValues[k] + test.clean).toBeCloseTo(hostLoss(ids, { kind: 'project-out', layer, direction: r, value: meanAlong(r) }), 4);
    }
    // Set to its mean is not projected out: the layer's component along v is far from 0 on average.
    const projected = await ablationTest(model, layer, ids, { kind: 'direction', direction }, 'project', { random: 2 });
    expect(Math.abs(meanAlong(direction))).toBeGreaterThan(0.05);
    expect(test.ablated).not.toBeCloseTo(projected.ablated, 4);
    // A unit's axis set to its mean is the unit's mean-ablation.
    const axis = new Float32Array(32);
    axis[5] = 1;
    const byAxis = await ablationTest(model, layer, ids, { kind: 'direction', direction: axis }, 'mean', { random: 2, means });
    const byUnit = await ablationTest(model, layer, ids, { kind: 'unit', unit: 5 }, 'mean', { random: 2, means });
    expect(byAxis.ablated).toBeCloseTo(byUnit.ablated, 5);
    await expect(ablationTest(model, layer, ids, { kind: 'unit', unit: 5 }, 'mean', { random: 2, means: new Float32Array(8) })).rejects.toThrow('h.2 has 32 units; got 8 means.');
  });

  it('tests the direction against each seeded random direction\'s own ablation, and ranks it among them', async () => {
    const ids = windows(2, 8, 5);
    const direction = randomDirections(32, 1, 11);
    const test = await ablationTest(model, 'h.0', ids, { kind: 'direction', direction }, 'project', { random: 4, seed: 2 });
    const controls = randomDirections(32, 4, 2);
    const brute = await ablatedLosses(model, ids, Array.from({ length: 4 }, (_, k) => ({ kind: 'project-out', layer: 'h.0', direction: controls.slice(k * 32, (k + 1) * 32) }) as Intervention));
    expect(test.controls).toBe('random directions');
    test.increase.randomValues.forEach((value, k) => expect(value).toBeCloseTo(brute.ablated[k] - brute.clean, 6));
    const atLeast = test.increase.randomValues.filter((value) => value >= test.increase.value).length;
    expect(test.increase.pRank).toBe((1 + atLeast) / 5);
    expect(test.increase.value).toBeCloseTo(test.ablated - test.clean, 12);
  });

  it('says what is wrong with an ablation', async () => {
    const ids = windows(1, 6, 6);
    await expect(ablationTest(model, 'h.1', ids, { kind: 'direction', direction: new Float32Array(32).fill(0.1) }, 'zero')).rejects.toThrow('Zero-ablation sets one unit');
    await expect(ablationTest(model, 'h.1', ids, { kind: 'unit', unit: 32 }, 'zero')).rejects.toThrow('h.1 has units 0..31; got 32.');
    await expect(ablationTest(model, 'h.1', ids, { kind: 'unit', unit: 3 }, 'zero', { random: 40 })).rejects.toThrow('h.1 has 31 other units');
    await expect(ablationTest(model, 'h.1', ids, { kind: 'unit', unit: 3 }, 'zero', { random: 1 })).rejects.toThrow('at least 2 random ablations');
    await expect(ablationTest(model, 'h.9', ids, { kind: 'unit', unit: 3 }, 'zero')).rejects.toThrow('h.9 is not a layer of this GPT-2');
    await expect(ablatedLosses(model, windows(2, 1, 6), [{ kind: 'project-out', layer: 'h.1', direction: new Float32Array(32) }])).rejects.toThrow('No window holds two tokens');
  });

  it('leaves no tensor behind', async () => {
    const ids = windows(2, 6, 7);
    await ablationTest(model, 'h.1', ids, { kind: 'unit', unit: 2 }, 'mean', { random: 2 }); // warm-up: kernels and caches
    const before = tf.memory().numTensors;
    await ablationTest(model, 'h.1', ids, { kind: 'unit', unit: 2 }, 'mean', { random: 2 });
    await ablationTest(model, 'h.1', ids, { kind: 'direction', direction: randomDirections(32, 1, 1) }, 'project', { random: 2 });
    await ablationTest(model, 'h.1', ids, { kind: 'direction', direction: randomDirections(32, 1, 1) }, 'mean', { random: 2 });
    await steeringTest(model, 'h.1', ids, randomDirections(32, 1, 1), 3, [11, 262], { random: 2, scaleWindows: ids });
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('Steering against random directions', () => {
  it('measures the watched tokens\' probability as the whole forward with the vector added does', async () => {
    const ids = windows(2, 7, 8);
    const watched = [11, 262, 1000];
    const vector = randomDirections(32, 1, 3).map((x) => 5 * x);
    const { clean, steered, positions } = await watchedProbability(model, 'h.1', ids, [new Float32Array(32), vector], watched);
    const host = (intervention: Intervention | null) => {
      let sum = 0;
      for (const w of ids) {
        const p = readTidy(() => tf.softmax(model.logits([w], intervention)));
        for (let t = 0; t < w.length; t++) for (const id of watched) sum += p[t * model.config.vocabSize + id];
      }
      return sum / (ids.length * 7);
    };
    expect(positions).toBe(14);
    expect(steered[0]).toBe(clean);
    expect(clean).toBeCloseTo(host(null), 7);
    expect(steered[1]).toBeCloseTo(host({ kind: 'add', layer: 'h.1', vector }), 7);
    expect(steered[1]).not.toBeCloseTo(clean, 7);
  });

  it('sizes the random vectors by the same α in their own unit, or by the same norm, and with α = 0 finds no rise anywhere', async () => {
    const ids = windows(2, 6, 9);
    const direction = randomDirections(32, 1, 4);
    const none = await steeringTest(model, 'h.2', ids, direction, 0, [11], { random: 3, scaleWindows: ids });
    expect(none.steered).toBe(none.clean);
    expect(none.rise.randomValues).toEqual([0, 0, 0]);
    expect(none.rise.pT).toBe(1);

    const controls = randomDirections(32, 3, 1);
    const control = (k: number) => controls.slice(k * 32, (k + 1) * 32);
    const scale = projectionScale(model, 'h.2', direction, ids);
    const sameNorm = await steeringTest(model, 'h.2', ids, direction, -4, [11], { random: 3, seed: 1, controls: 'norm', scaleWindows: ids });
    expect(sameNorm.norm).toBeCloseTo(4 * scale, 5);
    sameNorm.randomNorms.forEach((n) => expect(n).toBeCloseTo(4 * scale, 4));
    const brute = await watchedProbability(model, 'h.2', ids, [0, 1, 2].map((k) => control(k).map((x) => -4 * scale * x)), [11]);
    sameNorm.rise.randomValues.forEach((rise, k) => expect(rise).toBeCloseTo(brute.steered[k] - brute.clean, 9));

    const sameAlpha = await steeringTest(model, 'h.2', ids, direction, -4, [11], { random: 3, seed: 1, scaleWindows: ids });
    expect(sameAlpha.controls).toBe('alpha');
    sameAlpha.randomNorms.forEach((n, k) => expect(n).toBeCloseTo(4 * projectionScale(model, 'h.2', control(k), ids), 4));
    expect(sameAlpha.rise.value).toBeCloseTo(sameNorm.rise.value, 12);
  });

  it("measures every direction's scale in one pass as the root mean square of x·v over every token but the first", () => {
    const ids = windows(3, 7, 11);
    const directions = [randomDirections(32, 1, 5), randomDirections(32, 1, 6)];
    const brute = directions.map((v) => {
      let sum = 0;
      for (const w of ids) {
        const rows = readTidy(() => model.record([w], 'h.2'));
        for (let t = 1; t < w.length; t++) {
          let dot = 0;
          for (let i = 0; i < 32; i++) dot += rows[t * 32 + i] * v[i];
          sum += dot * dot;
        }
      }
      return Math.sqrt(sum / (ids.length * 6));
    });
    const scales = projectionScales(model, 'h.2', directions, ids);
    scales.forEach((s, k) => expect(s).toBeCloseTo(brute[k], 5));
    expect(projectionScale(model, 'h.2', directions[1], ids)).toBeCloseTo(scales[1], 6);
  });

  it('reports progress per window, stops when cancelled, and reads watched words as one token each', async () => {
    const ids = windows(5, 6, 10);
    const done: string[] = [];
    await steeringTest(model, 'h.1', ids, randomDirections(32, 1, 2), 2, [11], { random: 2, scaleWindows: ids, onProgress: (d, total) => done.push(`${d}/${total}`) });
    // Batches of 4 windows: 4 of 5, then all.
    expect(done).toEqual(['4/5', '5/5']);
    // A cancel after the first batch stops it there, and what it made is freed.
    const stop = new AbortController();
    const seen: number[] = [];
    const before = tf.memory().numTensors;
    const cancelled = steeringTest(model, 'h.1', ids, randomDirections(32, 1, 2), 2, [11], {
      random: 2,
      scaleWindows: ids,
      signal: stop.signal,
      onProgress: (d) => {
        seen.push(d);
        stop.abort();
      },
    });
    await expect(cancelled).rejects.toThrow(/cancelled/i);
    expect(seen).toEqual([4]);
    expect(tf.memory().numTensors).toBe(before);
    expect(watchedTokens([' sea', 'ship ', ''])).toEqual([Array.from(encode(' sea'))[0], Array.from(encode(' ship'))[0]]);
    expect(() => watchedTokens(['  '])).toThrow('No words to watch');
    expect(() => watchedTokens(['Ishmaelite'])).toThrow(/^"Ishmaelite" is \d GPT-2 tokens \(as " Ishmaelite" inside a sentence\): watch comma-separated words of one token each\.$/);
  });
});
