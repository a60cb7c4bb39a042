import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { chooseBackend } from '../../../src/model/backend';
import { ModelUseError } from '../../../src/model/recordTable';
import { Gpt2Model, isGpt2MaskBuffer } from '../../../src/model/text/gpt2';
import { parseGpt2Config } from '../../../src/model/text/gpt2Config';
import { readSafetensors } from '../../../src/model/text/safetensors';
import { checkSize, DEFAULT_MAX_MODEL_BYTES, TextModel, vocabularyMatches, type ModelFile } from '../../../src/model/text/textModel';
import { encode, EOT } from '../../../src/model/text/tokenizer';
import { checkpointTensors, randomCheckpoint, writeSafetensors } from './checkpoints';
import { TINY_GPT2, tinyGpt2Files } from './tinyGpt2';

let files: ModelFile[];
beforeAll(async () => {
  await chooseBackend({ node: true });
  files = tinyGpt2Files();
});

const sequence = Int32Array.from([EOT, ...encode('Call me Ishmael. Some years ago')]);
const bytesOf = (name: string) => files.find((f) => f.name === name)!.bytes as Uint8Array;
const withFile = (name: string, bytes: Uint8Array): ModelFile[] => [...files.filter((f) => f.name !== name), { name, bytes }];
const configWith = (changes: Record<string, unknown>) => new TextEncoder().encode(JSON.stringify({ ...TINY_GPT2, ...changes }));

async function loadError(model: ModelFile[], options?: { maxBytes?: number }): Promise<ModelUseError> {
  const error = await TextModel.fromFiles(model, 'broken', options).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ModelUseError);
  return error as ModelUseError;
}

describe('TextModel', () => {
  it('describes the model, its layers with token positions, and the middle block as the default', async () => {
    const model = await TextModel.fromFiles(files, 'tiny');
    expect(model.info).toEqual({ name: 'tiny', kind: 'gpt2', nLayer: 2, nEmbd: 16, contextLength: 24, vocabSize: 50257, classNames: null });
    expect(model.layers.map((l) => [l.name, l.shape, l.positionShape])).toEqual([
      ['h.0.attn', [24, 16], [24]],
      ['h.0.mlp.act', [24, 64], [24]],
      ['h.0', [24, 16], [24]],
      ['h.1.attn', [24, 16], [24]],
      ['h.1.mlp.act', [24, 64], [24]],
      ['h.1', [24, 16], [24]],
    ]);
    expect(model.defaultLayer).toBe('h.1.mlp.act');
    expect(model.contextLength).toBe(24);
    expect(() => model.layer('h.2.mlp.act')).toThrow(/Layer "h.2.mlp.act" cannot be recorded in model "tiny"; its layers are h.I.attn, h.I.mlp.act and h.I for I in 0..1/);
    model.dispose();
  });

  it('records what the GPT-2 forward records from the same checkpoint', async () => {
    const model = await TextModel.fromFiles(files, 'tiny');
    const direct = Gpt2Model.fromTensors(parseGpt2Config(new TextDecoder().decode(bytesOf('config.json'))), readSafetensors(bytesOf('model.safetensors'), { skip: isGpt2MaskBuffer }));
    const [ours, theirs] = [model.record([sequence], 'h.0.mlp.act'), direct.record([sequence], 'h.0.mlp.act')];
    expect(ours.shape).toEqual([1, sequence.length, 64]);
    expect(Array.from(ours.dataSync())).toEqual(Array.from(theirs.dataSync()));
    tf.dispose([ours, theirs]);
    direct.dispose();
    model.dispose();
  });

  it('loads a sharded checkpoint (index + shards, given with folder paths) to the same activations', async () => {
    const checkpoint = randomCheckpoint(TINY_GPT2, { seed: 7, dtype: 'F32', untiedHead: false });
    const tensors = checkpointTensors(checkpoint, { prefix: true });
    const half = Math.floor(tensors.length / 2);
    const shards = [tensors.slice(0, half), tensors.slice(half)];
    const shardNames = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
    const weightMap = Object.fromEntries(shards.flatMap((shard, s) => shard.map((t) => [t.name, shardNames[s]])));
    const sharded: ModelFile[] = [
      { name: 'gpt2/config.json', bytes: bytesOf('config.json') },
      { name: 'gpt2/model.safetensors.index.json', bytes: new TextEncoder().encode(JSON.stringify({ metadata: {}, weight_map: weightMap })) },
      ...shards.map((shard, s) => ({ name: `gpt2/${shardNames[s]}`, bytes: writeSafetensors(shard) })),
    ];
    const [a, b] = [await TextModel.fromFiles(sharded, 'sharded'), await TextModel.fromFiles(files, 'single')];
    const [x, y] = [a.record([sequence], 'h.1'), b.record([sequence], 'h.1')];
    expect(Array.from(x.dataSync())).toEqual(Array.from(y.dataSync()));
    tf.dispose([x, y]);
    a.dispose();
    b.dispose();
    const missingShard = await loadError(sharded.slice(0, 3));
    expect(missingShard.message).toMatch(/^model.safetensors.index.json: Shard "model-00002-of-00002.safetensors" named in the index's weight_map .* was not provided/);
  });

  it('says which file is missing', async () => {
    expect((await loadError(files.filter((f) => f.name !== 'config.json'))).message).toMatch(/^No config.json: a GPT-2 checkpoint is config.json with model.safetensors/);
    expect((await loadError(files.filter((f) => f.name === 'config.json'))).message).toMatch(/^No weights: config.json needs model.safetensors, or model.safetensors.index.json/);
  });

  it('refuses a config of another architecture, or one that is not JSON, naming config.json', async () => {
    expect((await loadError(withFile('config.json', configWith({ model_type: 'llama' })))).message).toBe(
      'config.json: This is a "llama" model; only GPT-2 (model_type "gpt2") is supported.',
    );
    expect((await loadError(withFile('config.json', new TextEncoder().encode('{"n_embd": ')))).message).toMatch(/^config.json is not JSON/);
  });

  it("refuses a vocabulary that is not the GPT-2 tokenizer's", async () => {
    const error = await loadError(withFile('config.json', configWith({ vocab_size: 50304 })));
    expect(error.message).toBe("config.json: the model's vocabulary (50304) does not match the GPT-2 tokenizer (50257).");
    expect(vocabularyMatches({ vocabSize: 50257 })).toBe(true);
    expect(vocabularyMatches({ vocabSize: 23 })).toBe(false);
  });

  it('refuses a truncated safetensors file and a missing tensor, naming model.safetensors', async () => {
    const weights = bytesOf('model.safetensors');
    expect((await loadError(withFile('model.safetensors', weights.slice(0, weights.length - 100)))).message).toMatch(/^model.safetensors is truncated/);
    const checkpoint = randomCheckpoint(TINY_GPT2, { seed: 7, dtype: 'F32', untiedHead: false });
    const without = checkpointTensors(checkpoint, { prefix: true }).filter((t) => t.name !== 'transformer.h.1.mlp.c_fc.weight');
    expect((await loadError(withFile('model.safetensors', writeSafetensors(without)))).message).toMatch(/^model.safetensors: The checkpoint has no tensor h.1.mlp.c_fc.weight/);
  });

  it('refuses a model larger than the backend can hold before decoding it, saying how large and what fits', async () => {
    const error = await loadError(files, { maxBytes: 1_000_000 });
    expect(error.message).toMatch(/^This GPT-2 is too large: 0.8 M parameters take 3.1 MiB as float32, more than the 1.0 MiB \(1,000,000 bytes\) this backend can hold\. Models of up to 0.3 M parameters fit\.$/);
    expect(DEFAULT_MAX_MODEL_BYTES).toBe(2_147_483_648);
    const gpt2Large = parseGpt2Config({ n_embd: 1280, n_layer: 36, n_head: 20, n_positions: 1024, vocab_size: 50257 });
    expect(() => checkSize(gpt2Large, false, DEFAULT_MAX_MODEL_BYTES)).toThrow(
      'This GPT-2 is too large: 774 M parameters take 2.88 GiB as float32, more than the 2.00 GiB (2,147,483,648 bytes) this backend can hold. ' +
        'Models of up to 537 M parameters fit (GPT-2 small and medium fit).',
    );
    expect(() => checkSize({ ...gpt2Large, nEmbd: 1024, nLayer: 24 }, false, DEFAULT_MAX_MODEL_BYTES)).not.toThrow();
  });

  it('leaks no tensors: loading, recording, disposing, and a load that fails', async () => {
    const before = tf.memory().numTensors;
    const model = await TextModel.fromFiles(files, 'tiny');
    const loaded = tf.memory().numTensors;
    model.record([sequence, sequence], 'h.1.mlp.act').dispose();
    expect(tf.memory().numTensors).toBe(loaded);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const checkpoint = randomCheckpoint(TINY_GPT2, { seed: 7, dtype: 'F32', untiedHead: false });
    const wrongShape = checkpointTensors(checkpoint, { prefix: true }).map((t) =>
      t.name === 'transformer.ln_f.bias' && 'values' in t ? { ...t, shape: [8, 2] } : t,
    );
    expect((await loadError(withFile('model.safetensors', writeSafetensors(wrongShape)))).message).toMatch(/^model.safetensors: Tensor ln_f.bias has the wrong shape/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
