import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTextRecordPool, split, type TextRecordPool } from '../../src/cli/textRecordPool';
import { createRng } from '../../src/lib/rng';
import { chooseBackend } from '../../src/model/backend';
import { modelForward } from '../../src/model/text/recordText';
import { TextModel, type ModelFile } from '../../src/model/text/textModel';
import { tinyGpt2Files } from '../model/text/tinyGpt2';

/** Wide enough that XNNPACK's products run several tiles per row: 64 wide, 4 heads, 3 blocks. */
const CONFIG = { n_embd: 64, n_layer: 3, n_head: 4, n_positions: 32 };

function windows(count: number, length: number, seed: number): Int32Array[] {
  const random = createRng(seed);
  return Array.from({ length: count }, () => Int32Array.from({ length }, () => Math.floor(random() * 50257)));
}

describe('split', () => {
  it('cuts items into at most n consecutive runs, as even as they go, longer first, none empty', () => {
    expect(split([1, 2, 3, 4, 5], 2)).toEqual([[1, 2, 3], [4, 5]]);
    expect(split([1, 2, 3, 4, 5, 6, 7], 3)).toEqual([[1, 2, 3], [4, 5], [6, 7]]);
    expect(split([1, 2], 4)).toEqual([[1], [2]]);
    expect(split([1], 1)).toEqual([[1]]);
  });
});

describe('The text recording pool (a copy of the model per thread)', () => {
  let files: ModelFile[];
  let model: TextModel;
  let pool: TextRecordPool;
  beforeAll(async () => {
    expect((await chooseBackend({ node: true })).name).toBe('wasm');
    files = tinyGpt2Files({ seed: 21, config: CONFIG });
    model = await TextModel.fromFiles(files, 'pool test');
    pool = await openTextRecordPool(model, files, 3, 'wasm');
  });
  afterAll(async () => {
    await pool?.close();
    model?.dispose();
  });

  it('records on 3 threads exactly what one thread records, per token and pooled, for any batch size', async () => {
    expect(pool.threads).toBe(3);
    const one = modelForward(model);
    const tensors = tf.memory().numTensors;
    for (const [count, layer] of [[7, 'h.2.mlp.act'], [2, 'h.1'], [1, 'h.0.attn']] as const) {
      const batch = windows(count, 20, count);
      for (const pooled of [false, true]) {
        const [expected, got] = [await one.values(batch, layer, pooled), await pool.values(batch, layer, pooled)];
        expect(got.length).toBe(count * (pooled ? 1 : 20) * model.layer(layer).shape[1]);
        expect(got).toEqual(expected);
      }
    }
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it('says why when a thread cannot load the model', async () => {
    const truncated = files.map((f) => (f.name === 'model.safetensors' ? { ...f, bytes: (f.bytes as Uint8Array).subarray(0, 1000) } : f));
    await expect(openTextRecordPool(model, truncated, 2, 'wasm')).rejects.toThrow(/^The recording threads could not load the model: model\.safetensors is truncated or not safetensors: .+/);
  });
});
