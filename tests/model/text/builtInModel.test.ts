import * as tf from '@tensorflow/tfjs';
import { readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encode } from 'gpt-tokenizer/encoding/gpt2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseBackend } from '../../../src/model/backend';
import { Gpt2Model, gpt2Size, isGpt2MaskBuffer } from '../../../src/model/text/gpt2';
import { parseGpt2Config } from '../../../src/model/text/gpt2Config';
import { readSafetensors } from '../../../src/model/text/safetensors';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const SAMPLE_FILE = join(repoRoot, 'public/text-sample/moby-dick-sample.jsonl');
const END_OF_TEXT = 50256;

/** The two built-in GPT-2s: the shape each was trained with and a bound on its file. */
const MODELS = [
  { folder: 'models/text-gpt2', shape: { nEmbd: 64, nInner: 256 }, maxBytes: 8e6 },
  { folder: 'models/text-gpt2-wide', shape: { nEmbd: 128, nInner: 512 }, maxBytes: 16e6 },
];

/** What scripts/train_text_model.py measured in PyTorch, on the weights as stored (float16). */
interface Scored {
  targets: number;
  loss: number;
  perplexity: number;
  unigram_perplexity: number;
}
interface Metrics {
  validation: Scored;
  sample_check: Scored & { documents: number };
  uniform_perplexity: number;
  training: { parameters: number };
}

beforeAll(() => chooseBackend({ node: true }));

it('tokenizes with GPT-2 ids', () => {
  expect(encode('Hello world')).toEqual([15496, 995]);
  expect(encode('<|endoftext|>', { allowedSpecial: new Set(['<|endoftext|>']) })).toEqual([END_OF_TEXT]);
});

/** The training script's scoring of a paragraph: <|endoftext|> then its GPT-2 tokens, cut to the context. */
function paragraphTokens(text: string, context: number): Int32Array {
  return Int32Array.from([END_OF_TEXT, ...encode(text)].slice(0, context));
}

/** Summed next-token cross-entropy (nats) of one sequence and its number of targets. */
function sequenceLoss(model: Gpt2Model, tokens: Int32Array): { nats: number; targets: number } {
  const { config } = model;
  const targets = tokens.subarray(1);
  const nats = tf.tidy(() => {
    const logits = model.logits([tokens.subarray(0, -1)]).squeeze([0]) as tf.Tensor2D;
    const flatIndex = Int32Array.from(targets, (id, position) => position * config.vocabSize + id);
    const picked = tf.gather(tf.logSoftmax(logits).flatten(), tf.tensor1d(flatIndex, 'int32'));
    return -tf.sum(picked).dataSync()[0];
  });
  return { nats, targets: targets.length };
}

describe.each(MODELS)('built-in text model ($folder)', ({ folder, shape, maxBytes }) => {
  const dir = join(repoRoot, folder);
  const metrics = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')) as Metrics;
  const config = parseGpt2Config(readFileSync(join(dir, 'config.json'), 'utf8'));
  let model: Gpt2Model;

  beforeAll(() => {
    const tensors = readSafetensors(readFileSync(join(dir, 'model.safetensors')), { skip: isGpt2MaskBuffer, fileName: 'model.safetensors' });
    model = Gpt2Model.fromTensors(config, tensors);
  });

  afterAll(() => model?.dispose());

  it(`is a small GPT-2 with the GPT-2 vocabulary, its recordable layers and a file under ${maxBytes / 1e6} MB`, () => {
    expect(config).toMatchObject({ vocabSize: 50257, nLayer: 4, nHead: 4, nPositions: 256, ...shape });
    expect(model.layers.map((l) => l.name)).toEqual([0, 1, 2, 3].flatMap((i) => [`h.${i}.attn`, `h.${i}.mlp.act`, `h.${i}`]));
    expect(model.layers.map((l) => l.width)).toEqual([0, 1, 2, 3].flatMap(() => [shape.nEmbd, shape.nInner, shape.nEmbd]));
    expect(gpt2Size(config).parameters).toBe(metrics.training.parameters);
    // F16 storage: two bytes a parameter plus the header.
    const bytes = statSync(join(dir, 'model.safetensors')).size;
    expect(bytes).toBeGreaterThan(2 * metrics.training.parameters);
    expect(bytes).toBeLessThan(maxBytes);
  });

  it('scores held-out paragraphs as PyTorch did, far better than the unigram and uniform baselines', () => {
    const paragraphs = readFileSync(SAMPLE_FILE, 'utf8').trim().split('\n').slice(0, metrics.sample_check.documents);
    const before = tf.memory().numTensors;
    let nats = 0;
    let targets = 0;
    for (const line of paragraphs) {
      const scored = sequenceLoss(model, paragraphTokens((JSON.parse(line) as { text: string }).text, config.nPositions));
      nats += scored.nats;
      targets += scored.targets;
    }
    expect(tf.memory().numTensors).toBe(before);

    const loss = nats / targets;
    // Same tokens as the training script saw (its ids came from the same tokenizer).
    expect(targets).toBe(metrics.sample_check.targets);
    // The TF.js forward reproduces the trained PyTorch model: float32 arithmetic on the same F16 weights.
    expect(Math.abs(loss - metrics.sample_check.loss)).toBeLessThan(5e-4);
    const perplexity = Math.exp(loss);
    expect(perplexity).toBeLessThan(metrics.sample_check.unigram_perplexity / 3);
    expect(perplexity).toBeLessThan(metrics.uniform_perplexity / 100);
  });
});
