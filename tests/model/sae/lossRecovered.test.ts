import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { chooseBackend } from '../../../src/model/backend';
import { saeLossRecovered } from '../../../src/model/sae/lossRecovered';
import { SaeInputError, type Sae } from '../../../src/model/sae/sae';
import { windows as windowsOf } from '../../../src/model/text/documents';
import { TextModel } from '../../../src/model/text/textModel';
import { encode } from '../../../src/model/text/tokenizer';
import { tinyGpt2Files } from '../text/tinyGpt2';

let model: TextModel;
let windows: Int32Array[];
beforeAll(async () => {
  await chooseBackend({ node: true });
  model = await TextModel.fromFiles(tinyGpt2Files({ seed: 5 }), 'tiny');
  const text = 'Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse, I thought I would sail about.';
  windows = [...windowsOf(encode(text), 24), ...windowsOf(encode('It is a way I have of driving off the spleen.'), 24)];
});

/** A ReLU "SAE" whose reconstruction is its input: latents relu(x) and relu(-x), decoded as relu(x) - relu(-x). */
function identitySae(width: number): Sae {
  const dSae = 2 * width;
  const wEnc = new Float32Array(width * dSae);
  const wDec = new Float32Array(dSae * width);
  for (let i = 0; i < width; i++) {
    wEnc[i * dSae + i] = 1;
    wEnc[i * dSae + width + i] = -1;
    wDec[i * width + i] = 1;
    wDec[(width + i) * width + i] = -1;
  }
  return {
    config: { architecture: 'relu', dIn: width, dSae, k: null, applyBDecToInput: false, layer: null, modelName: null },
    weights: { W_enc: wEnc, W_dec: wDec, b_enc: new Float32Array(dSae), b_dec: new Float32Array(width) },
  };
}

/** A TopK SAE with all weights zero: its reconstruction is zero, as zero-ablation's. */
function zeroSae(width: number, dSae: number): Sae {
  return {
    config: { architecture: 'topk', dIn: width, dSae, k: 4, applyBDecToInput: true, layer: null, modelName: null },
    weights: { W_enc: new Float32Array(width * dSae), W_dec: new Float32Array(dSae * width), b_enc: new Float32Array(dSae), b_dec: new Float32Array(width) },
  };
}

const relative = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

/** Mean next-token cross-entropy from the model's own logits, in float64 on the host. */
async function directLoss(): Promise<number> {
  let sum = 0;
  let count = 0;
  for (const ids of windows) {
    const logits = model.gpt2.logits([ids]);
    const values = await logits.data();
    logits.dispose();
    const vocab = model.info.vocabSize;
    for (let t = 0; t + 1 < ids.length; t++) {
      const row = values.subarray(t * vocab, (t + 1) * vocab);
      let max = -Infinity;
      for (const v of row) max = Math.max(max, v);
      let total = 0;
      for (const v of row) total += Math.exp(v - max);
      sum += max + Math.log(total) - row[ids[t + 1]];
      count++;
    }
  }
  return sum / count;
}

describe('saeLossRecovered', () => {
  it.each(['h.0.mlp.act', 'h.1', 'h.0.attn'])('a reconstruction equal to its input recovers all the loss at %s; the clean loss equals the model logits', async (layer) => {
    const width = model.gpt2.layers.find((l) => l.name === layer)!.width;
    const before = tf.memory().numTensors;
    const result = await saeLossRecovered(model.gpt2, identitySae(width), layer, windows, { batchSize: 2 });
    expect(tf.memory().numTensors).toBe(before);
    expect(result.windows).toBe(windows.length);
    expect(result.predictions).toBe(windows.reduce((n, w) => n + w.length - 1, 0));
    // float32 sums of ~16-nat losses: relative 1e-5.
    expect(relative(result.clean, await directLoss())).toBeLessThan(1e-5);
    expect(relative(result.spliced, result.clean)).toBeLessThan(1e-5);
    expect(relative(result.splicedExceptFirst, result.clean)).toBeLessThan(1e-5);
    // A random model's last residual zeroed gives near-uniform logits, a lower loss than its own: the ratio still holds.
    expect(Math.abs(result.zero - result.clean)).toBeGreaterThan(0.1);
    expect(result.lossRecovered).toBeCloseTo(1, 2);
    expect(result.lossRecoveredExceptFirst).toBeCloseTo(1, 2);
  });

  it('a reconstruction of zero is zero-ablation: loss recovered 0', async () => {
    const before = tf.memory().numTensors;
    const result = await saeLossRecovered(model.gpt2, zeroSae(64, 32), 'h.1.mlp.act', windows);
    expect(tf.memory().numTensors).toBe(before);
    expect(result.spliced).toBeCloseTo(result.zero, 5);
    expect(result.lossRecovered).toBeCloseTo(0, 4);
    // Token 0 kept clean: between the two.
    expect(result.splicedExceptFirst).toBeLessThanOrEqual(result.zero + 1e-6);
  });

  it("with another SAE's measure over the same windows as baseline, gives what a full measure gives; over other windows it refuses", async () => {
    const layer = 'h.1.mlp.act';
    const baseline = await saeLossRecovered(model.gpt2, zeroSae(64, 32), layer, windows);
    const full = await saeLossRecovered(model.gpt2, identitySae(64), layer, windows);
    const before = tf.memory().numTensors;
    const reused = await saeLossRecovered(model.gpt2, identitySae(64), layer, windows, { baseline });
    expect(tf.memory().numTensors).toBe(before);
    expect(reused).toEqual({ ...full, clean: baseline.clean, zero: baseline.zero, lossRecovered: reused.lossRecovered, lossRecoveredExceptFirst: reused.lossRecoveredExceptFirst });
    expect(reused.clean).toBeCloseTo(full.clean, 5);
    expect(reused.zero).toBeCloseTo(full.zero, 5);
    expect(reused.lossRecovered).toBeCloseTo(full.lossRecovered, 4);
    // The baseline's figures are the ones used, not measured again.
    const shifted = await saeLossRecovered(model.gpt2, identitySae(64), layer, windows, { baseline: { ...baseline, zero: baseline.zero + 1 } });
    expect(shifted.zero).toBe(baseline.zero + 1);
    expect(shifted.spliced).toBe(reused.spliced);
    await expect(saeLossRecovered(model.gpt2, identitySae(64), layer, windows.slice(1), { baseline })).rejects.toThrow(/The baseline was measured over \d+ windows/);
  });

  it('rejects an SAE of the wrong width or an unknown layer, leaking nothing', async () => {
    const before = tf.memory().numTensors;
    await expect(saeLossRecovered(model.gpt2, identitySae(16), 'h.0.mlp.act', windows)).rejects.toThrow(SaeInputError);
    await expect(saeLossRecovered(model.gpt2, identitySae(16), 'h.9', windows)).rejects.toThrow(/not a layer/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
