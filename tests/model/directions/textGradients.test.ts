import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseBackend } from '../../../src/model/backend';
import { TextModel } from '../../../src/model/text/textModel';
import { ModelUseError } from '../../../src/model/recordTable';
import { nextTokenGradients } from '../../../src/model/directions/textGradients';
import { uninstallWasmGradientKernels } from '../../../src/model/wasmKernels';
import { randomTokens } from '../text/checkpoints';
import { tinyGpt2Files } from '../text/tinyGpt2';

let model: TextModel;
beforeAll(async () => {
  await chooseBackend({ node: true });
  model = await TextModel.fromFiles(tinyGpt2Files({ seed: 7 }), 'tiny');
});
afterAll(() => {
  model.dispose();
  uninstallWasmGradientKernels();
});

const TOKEN = 1234;

describe('Gpt2Model.splitAt', () => {
  it('gives the recorded activation, and the model\'s logits from it', () => {
    const windows = randomTokens(2, 6, 50257, 1);
    for (const layer of ['h.0.attn', 'h.0.mlp.act', 'h.0', 'h.1.mlp.act']) {
      const [a, recorded, split, full] = tf.tidy(() => {
        const { activation, logitsFrom } = model.gpt2.splitAt(windows, layer, [TOKEN, 7]);
        const logits = model.gpt2.logits(windows);
        return [activation.dataSync(), model.record(windows, layer).dataSync(), logitsFrom(activation).dataSync(), tf.gather(logits, [TOKEN, 7], 2).dataSync()];
      });
      a.forEach((v, j) => expect(v).toBeCloseTo(recorded[j], 4));
      split.forEach((v, j) => expect(v).toBeCloseTo(full[j], 3));
    }
  });
});

describe('nextTokenGradients', () => {
  it.each(['h.0.attn', 'h.0.mlp.act', 'h.0', 'h.1.attn'])('%s: matches a central difference of the logit at its own position', async (layer) => {
    const windows = randomTokens(3, 8, 50257, 2);
    const rows = [windows[0], windows[1], windows[1], windows[2]];
    const positions = [7, 2, 5, 0];
    const grads = await nextTokenGradients(model, layer, rows, positions, TOKEN);
    const dim = model.layer(layer).shape[1];
    expect(grads.length).toBe(rows.length * dim);
    const eps = 1e-2;
    rows.forEach((window, r) => {
      const row = grads.subarray(r * dim, (r + 1) * dim);
      const scale = Math.max(...Array.from(row, Math.abs));
      for (const k of [0, 3, dim - 1]) {
        const fd = tf.tidy(() => {
          const { activation, logitsFrom } = model.gpt2.splitAt([window], layer, [TOKEN]);
          const bump = tf.buffer(activation.shape as [number, number, number]);
          bump.set(eps, 0, positions[r], k);
          const at = (sign: number) => logitsFrom(tf.add(activation, tf.mul(bump.toTensor(), sign)) as tf.Tensor3D).dataSync()[positions[r]];
          return (at(1) - at(-1)) / (2 * eps);
        });
        expect(Math.abs(fd - row[k])).toBeLessThan(1e-2 * scale + 1e-4);
      }
    });
  });

  it.each(['h.0.mlp.act', 'h.0', 'h.1.attn'])('%s: rows sharing a window (one pass) equal each row alone in its own pass', async (layer) => {
    const [a, b] = randomTokens(2, 9, 50257, 4);
    // Every position of a, some twice, and two of b; a row alone has its own copy of the window, so nothing can mix.
    const rows = [a, a, a, a, a, a, a, a, a, b, a, b];
    const positions = [0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 4, 0];
    const shared = await nextTokenGradients(model, layer, rows, positions, TOKEN);
    const dim = model.layer(layer).shape[1];
    for (let r = 0; r < rows.length; r++) {
      const alone = await nextTokenGradients(model, layer, [rows[r].slice(0, positions[r] + 1)], [positions[r]], TOKEN);
      const row = shared.subarray(r * dim, (r + 1) * dim);
      const scale = Math.max(...Array.from(alone, Math.abs));
      expect(scale).toBeGreaterThan(0);
      alone.forEach((v, k) => expect(Math.abs(row[k] - v)).toBeLessThan(1e-5 * scale));
    }
  });

  it('leaks no tensors, restores the backend, and refuses bad rows', async () => {
    const windows = randomTokens(2, 5, 50257, 3);
    await nextTokenGradients(model, 'h.1', windows, [4, 1], TOKEN);
    const before = tf.memory().numTensors;
    await nextTokenGradients(model, 'h.1', windows, [4, 1], TOKEN, { batchSize: 1 });
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.getBackend()).toBe('wasm');
    await expect(nextTokenGradients(model, 'h.1', windows, [5, 0], TOKEN)).rejects.toThrow(ModelUseError);
    await expect(nextTokenGradients(model, 'h.1', windows, [0], TOKEN)).rejects.toThrow(/one position per window/);
    await expect(nextTokenGradients(model, 'h.1', windows, [0, 0], 60000)).rejects.toThrow(/outside the vocabulary/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
