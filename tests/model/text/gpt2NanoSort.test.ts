import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { chooseBackend } from '../../../src/model/backend';
import { Gpt2Model } from '../../../src/model/text/gpt2';
import { parseGpt2Config } from '../../../src/model/text/gpt2Config';
import type { HostTensor } from '../../../src/model/text/safetensors';
import { FIXTURES } from '../../fixtures';
import { fixtureAvailable } from '../../missingFixture';
import { maxError } from './reference';

/** bbycroft/llm-viz's minGPT "gpt-nano" sorter with PyTorch's intermediates (see ../shared/fixtures/README.md). */
const NANO_SORT = join(FIXTURES, 'models/gpt-nano-sort');
const hasNanoSort = fixtureAvailable(NANO_SORT);

interface EncodedTensor {
  shape: number[];
  dtype: string;
  data: string;
}

type FixtureFile = Record<string, EncodedTensor> & { config: Record<string, unknown> };

const readFixture = (file: string): FixtureFile => JSON.parse(readFileSync(join(NANO_SORT, file), 'utf8'));

function decode({ shape, dtype, data }: EncodedTensor): HostTensor {
  expect(dtype).toBe('torch.float32');
  const bytes = Buffer.from(data, 'base64');
  return { shape, data: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)) };
}

function transpose({ shape: [rows, cols], data }: HostTensor): HostTensor {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return { shape: [cols, rows], data: out };
}

/**
 * The checkpoint in Hugging Face GPT-2 layout: minGPT's nn.Linear matrices [out, in] become Conv1D [in, out].
 * lm_head stays as stored: in Hugging Face's GPT-2 it is an nn.Linear too, [vocab, n_embd].
 */
function huggingFaceTensors(model: FixtureFile): Map<string, HostTensor> {
  const tensors = new Map<string, HostTensor>();
  for (const [name, encoded] of Object.entries(model)) {
    if (name === 'config') continue;
    const tensor = decode(encoded as EncodedTensor);
    tensors.set(name, /\.(c_attn|c_proj|c_fc)\.weight$/.test(name) ? transpose(tensor) : tensor);
  }
  return tensors;
}

beforeAll(async () => {
  await chooseBackend({ node: true });
});

describe.skipIf(!hasNanoSort)('gpt-nano-sort against PyTorch\'s intermediates', () => {
  it('refuses the minGPT config as it is, naming its model_type', () => {
    expect(() => parseGpt2Config(readFixture('gpt-nano-sort-model.json').config)).toThrow(
      'This is a "gpt-nano" model; only GPT-2 (model_type "gpt2") is supported.',
    );
  });

  it('reproduces the MLP neurons, attention output, residual stream after each block and the logits to 1e-5, leak-free', () => {
    const fixture = readFixture('gpt-nano-sort-model.json');
    const partials = readFixture('gpt-nano-sort-t0-partials.json');
    const { n_embd, n_layer, n_head, vocab_size, block_size } = fixture.config;
    const config = parseGpt2Config({ model_type: 'gpt2', n_embd, n_layer, n_head, vocab_size, n_positions: block_size });
    const start = tf.memory().numTensors;
    const model = Gpt2Model.fromTensors(config, huggingFaceTensors(fixture));
    const loaded = tf.memory().numTensors;

    const idx = decode(partials.idx);
    const [batch, tokens] = idx.shape;
    const sequences = Array.from({ length: batch }, (_, s) => Int32Array.from(idx.data.subarray(s * tokens, (s + 1) * tokens)));
    // gelu: layer 0's MLP after GELU (tanh and erf GELU differ by ~2e-4 there); yProj: layer 0's attention after c_proj.
    const pairs: [string, string][] = [['h.0.attn', 'yProj'], ['h.0.mlp.act', 'gelu'], ['h.0', 'block0'], ['h.1', 'block1'], ['h.2', 'block2']];
    const recorded = model.recordLayers(sequences, pairs.map(([layer]) => layer));
    const logits = model.logits(sequences);
    const probs = tf.softmax(logits);
    const errors: Record<string, number> = {};
    pairs.forEach(([layer, partial], i) => {
      errors[`${layer} vs ${partial}`] = maxError(recorded[i].dataSync(), decode(partials[partial]).data).abs;
    });
    errors['logits vs lm_head'] = maxError(logits.dataSync(), decode(partials.lm_head).data).abs;
    errors['softmax vs probs'] = maxError(probs.dataSync(), decode(partials.probs).data).abs;
    tf.dispose([...recorded, logits, probs]);

    console.log('gpt-nano-sort, max abs error against PyTorch:\n' +
      Object.entries(errors).map(([what, e]) => `  ${what.padEnd(22)} ${e.toExponential(2)}`).join('\n'));
    for (const [what, e] of Object.entries(errors)) expect(e, what).toBeLessThan(1e-5);
    expect(tf.memory().numTensors).toBe(loaded);
    model.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });
});
