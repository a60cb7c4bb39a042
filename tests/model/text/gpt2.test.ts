import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { chooseBackend } from '../../../src/model/backend';
import { Gpt2InputError, Gpt2Model, Gpt2WeightsError, gpt2Size, isGpt2MaskBuffer } from '../../../src/model/text/gpt2';
import { parseGpt2Config } from '../../../src/model/text/gpt2Config';
import { type HostTensor, readSafetensors, readShardedSafetensors } from '../../../src/model/text/safetensors';
import { checkpointTensors, randomCheckpoint, randomTokens, type StoredDtype, type TestCheckpoint, type TestConfigJson, writeSafetensors } from './checkpoints';
import { maxError, referenceDirectionLogits, referenceForward } from './reference';

beforeAll(async () => {
  await chooseBackend({ node: true });
});

interface Case {
  label: string;
  config: TestConfigJson;
  dtype: StoredDtype;
  prefix: boolean;
  untiedHead: boolean;
  maskBuffers?: 'F32' | 'BOOL';
  seed: number;
}

const SMALL: TestConfigJson = { model_type: 'gpt2', n_embd: 16, n_layer: 2, n_head: 4, n_positions: 12, vocab_size: 23 };

const CASES: Case[] = [
  { label: 'F32, transformer. names, own lm_head, F32 mask buffers', config: SMALL, dtype: 'F32', prefix: true, untiedHead: true, maskBuffers: 'F32', seed: 1 },
  {
    label: 'F16, bare names, tied lm_head, BOOL mask buffers, n_inner 40, eps 1e-3',
    config: { ...SMALL, n_inner: 40, layer_norm_epsilon: 1e-3, activation_function: 'gelu_new' },
    dtype: 'F16', prefix: false, untiedHead: false, maskBuffers: 'BOOL', seed: 2,
  },
  { label: 'BF16, transformer. names, tied lm_head, 3 layers of 2 heads', config: { ...SMALL, n_layer: 3, n_head: 2, n_embd: 24 }, dtype: 'BF16', prefix: true, untiedHead: false, seed: 3 },
];

/** Errors relative to the reference's largest magnitude; float32 arithmetic on these sizes stays far below this. */
const TOLERANCE = 1e-5;

/** The checkpoint as safetensors bytes, read back the way the app will read it. */
function loadThroughSafetensors(checkpoint: TestCheckpoint, c: Pick<Case, 'prefix' | 'maskBuffers'>): Gpt2Model {
  const bytes = writeSafetensors(checkpointTensors(checkpoint, { prefix: c.prefix, maskBuffers: c.maskBuffers }), { format: 'pt' });
  return Gpt2Model.fromTensors(parseGpt2Config(checkpoint.configJson), readSafetensors(bytes, { skip: isGpt2MaskBuffer }));
}

/** The checkpoint as host tensors, without going through a file. */
function hostTensors(checkpoint: TestCheckpoint, prefix = true): Map<string, HostTensor> {
  const tensors = new Map<string, HostTensor>();
  for (const [name, t] of checkpoint.weights) {
    tensors.set(prefix && name !== 'lm_head.weight' ? `transformer.${name}` : name, { shape: [...t.shape], data: Float32Array.from(t.data) });
  }
  return tensors;
}

function seededDirection(width: number, seed: number): Float32Array {
  return Float32Array.from(randomTokens(1, width, 2001, seed)[0], (v) => v / 1000 - 1);
}

describe('Gpt2Model against a float64 reference forward', () => {
  for (const c of CASES) {
    it(`matches at every layer, the logits and directionLogits: ${c.label}`, () => {
      const checkpoint = randomCheckpoint(c.config, { seed: c.seed, dtype: c.dtype, untiedHead: c.untiedHead });
      const model = loadThroughSafetensors(checkpoint, c);
      // Worst error per check over both batch shapes.
      const errors: Record<string, { abs: number; rel: number }> = {};
      const check = (what: string, actual: ArrayLike<number>, expected: ArrayLike<number>) => {
        const e = maxError(actual, expected);
        const seen = errors[what] ?? { abs: 0, rel: 0 };
        errors[what] = { abs: Math.max(seen.abs, e.abs), rel: Math.max(seen.rel, e.rel) };
      };

      // A batch of short sequences, and one sequence filling the whole context.
      for (const [count, length] of [[3, 9], [1, c.config.n_positions]]) {
        const tokens = randomTokens(count, length, c.config.vocab_size, c.seed + 100);
        const reference = referenceForward(c.config, checkpoint.weights, tokens);
        const recorded = model.recordLayers(tokens, model.layers.map((l) => l.name));
        model.layers.forEach(({ name, width }, i) => {
          expect(recorded[i].shape).toEqual([count, length, width]);
          check(name, recorded[i].dataSync(), reference.layers.get(name)!);
        });
        tf.dispose(recorded);
        for (const name of ['h.0.mlp.act', 'h.1', 'h.1.attn']) {
          const alone = model.record(tokens, name);
          check(`record ${name}`, alone.dataSync(), reference.layers.get(name)!);
          alone.dispose();
        }
        const logits = model.logits(tokens);
        expect(logits.shape).toEqual([count, length, c.config.vocab_size]);
        check('logits', logits.dataSync(), reference.logits);
        logits.dispose();
        // The differentiable path (TF.js's attention ops, which gradients go through) from block 0's attention on.
        const vocab = Array.from({ length: c.config.vocab_size }, (_, id) => id);
        const split = tf.tidy(() => {
          const { activation, logitsFrom } = model.splitAt(tokens, 'h.0.attn', vocab);
          return logitsFrom(activation);
        });
        check('splitAt logits', split.dataSync(), reference.logits);
        split.dispose();
      }
      for (const { name, width } of model.layers.filter((l) => /^h\.1(\.mlp\.act|\.attn)?$/.test(l.name))) {
        const direction = seededDirection(width, c.seed);
        check(`directionLogits ${name}`, model.directionLogits(name, direction), referenceDirectionLogits(c.config, checkpoint.weights, name, direction));
      }
      model.dispose();

      const worst = Math.max(...Object.values(errors).map((e) => e.rel));
      console.log(`${c.label}: worst relative error ${worst.toExponential(2)}\n` +
        Object.entries(errors).map(([what, e]) => `  ${what.padEnd(26)} abs ${e.abs.toExponential(2)}  rel ${e.rel.toExponential(2)}`).join('\n'));
      for (const [what, e] of Object.entries(errors)) expect(e.rel, what).toBeLessThan(TOLERANCE);
    });
  }

  it('lists its layers in block order with their widths', () => {
    const config = { ...SMALL, n_inner: 40 };
    const model = Gpt2Model.fromTensors(parseGpt2Config(config), hostTensors(randomCheckpoint(config, { seed: 5, dtype: 'F32', untiedHead: false })));
    expect(model.layers).toEqual([
      { name: 'h.0.attn', width: 16 }, { name: 'h.0.mlp.act', width: 40 }, { name: 'h.0', width: 16 },
      { name: 'h.1.attn', width: 16 }, { name: 'h.1.mlp.act', width: 40 }, { name: 'h.1', width: 16 },
    ]);
    model.dispose();
  });

  it('loads a sharded checkpoint through its index JSON to the same model', () => {
    const checkpoint = randomCheckpoint(SMALL, { seed: 1, dtype: 'F32', untiedHead: true });
    const tensors = checkpointTensors(checkpoint, { prefix: true, maskBuffers: 'F32' });
    const half = Math.ceil(tensors.length / 2);
    const shardNames = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
    const shards = new Map([[shardNames[0], writeSafetensors(tensors.slice(0, half))], [shardNames[1], writeSafetensors(tensors.slice(half))]]);
    const index = JSON.stringify({ metadata: {}, weight_map: Object.fromEntries(tensors.map((t, i) => [t.name, shardNames[i < half ? 0 : 1]])) });
    const sharded = Gpt2Model.fromTensors(parseGpt2Config(SMALL), readShardedSafetensors(index, shards, { skip: isGpt2MaskBuffer }));
    const single = loadThroughSafetensors(checkpoint, { prefix: true });
    const tokens = randomTokens(2, 7, SMALL.vocab_size, 9);
    const [a, b] = [sharded.logits(tokens), single.logits(tokens)];
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    tf.dispose([a, b]);
    sharded.dispose();
    single.dispose();
  });

  it('gpt2Size counts exactly the parameters a checkpoint holds', () => {
    for (const untiedHead of [false, true]) {
      const config = { ...SMALL, n_inner: 40 };
      const { weights } = randomCheckpoint(config, { seed: 6, dtype: 'F32', untiedHead });
      const held = [...weights.values()].reduce((n, t) => n + t.data.length, 0);
      expect(gpt2Size(parseGpt2Config(config), { tiedLmHead: !untiedHead })).toEqual({ parameters: held, bytes: 4 * held });
    }
  });
});

describe('Gpt2Model runs only as far as it must and owns its tensors', () => {
  const config = parseGpt2Config(SMALL);
  const checkpoint = randomCheckpoint(SMALL, { seed: 4, dtype: 'F32', untiedHead: false });
  const tokens = randomTokens(2, 5, SMALL.vocab_size, 11);

  it('record stops after the recorded block part (counted in GELU and matmul kernels)', async () => {
    const model = Gpt2Model.fromTensors(config, hostTensors(checkpoint));
    const kernelsOf = async (run: () => tf.Tensor) => {
      const info = await tf.profile(run);
      tf.dispose(info.result as tf.Tensor);
      const count = (name: string) => info.kernels.filter((k) => k.name === name).length;
      return { gelu: count('Sigmoid'), matMuls: count('BatchMatMul') + count('_FusedMatMul') };
    };
    // Per block: the q, k and v projections, attn c_proj (the heads run in the attention kernel, not in matMuls),
    // then c_fc and GELU's one sigmoid, mlp c_proj; the unembedding is one more.
    expect(await kernelsOf(() => model.record(tokens, 'h.0.attn'))).toEqual({ gelu: 0, matMuls: 4 });
    expect(await kernelsOf(() => model.record(tokens, 'h.0.mlp.act'))).toEqual({ gelu: 1, matMuls: 5 });
    expect(await kernelsOf(() => model.record(tokens, 'h.0'))).toEqual({ gelu: 1, matMuls: 6 });
    expect(await kernelsOf(() => model.record(tokens, 'h.1.attn'))).toEqual({ gelu: 1, matMuls: 10 });
    expect(await kernelsOf(() => model.logits(tokens))).toEqual({ gelu: 2, matMuls: 13 });
    model.dispose();
  });

  it('record, recordLayers, logits and directionLogits leave no tensor behind; dispose frees every weight', () => {
    const start = tf.memory().numTensors;
    const model = Gpt2Model.fromTensors(config, hostTensors(checkpoint));
    const loaded = tf.memory().numTensors;
    // wte, wpe, ln_f's two; per block 16: two LayerNorms, q, k, v, c_proj, c_fc and mlp c_proj with their biases.
    expect(loaded - start).toBe(4 + 16 * config.nLayer);
    for (const layer of model.layers) model.record(tokens, layer.name).dispose();
    tf.dispose(model.recordLayers(tokens, ['h.1', 'h.0.mlp.act']));
    model.logits(tokens).dispose();
    model.directionLogits('h.0.mlp.act', new Float32Array(config.nInner).fill(1));
    model.directionLogits('h.1', new Float32Array(config.nEmbd).fill(1));
    expect(tf.memory().numTensors).toBe(loaded);
    expect(() => model.record([Int32Array.of(1, 99)], 'h.0')).toThrow(Gpt2InputError);
    expect(tf.memory().numTensors).toBe(loaded);
    model.dispose();
    expect(tf.memory().numTensors).toBe(start);
    model.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('an untied lm_head is freed too, and a rejected checkpoint uploads nothing', () => {
    const start = tf.memory().numTensors;
    const untied = randomCheckpoint(SMALL, { seed: 4, dtype: 'F32', untiedHead: true });
    Gpt2Model.fromTensors(config, hostTensors(untied)).dispose();
    const broken = hostTensors(untied);
    broken.delete('transformer.ln_f.bias');
    expect(() => Gpt2Model.fromTensors(config, broken)).toThrow(Gpt2WeightsError);
    expect(tf.memory().numTensors).toBe(start);
  });
});

describe('Gpt2Model on checkpoints and inputs that do not fit', () => {
  const config = parseGpt2Config(SMALL);
  const checkpoint = randomCheckpoint(SMALL, { seed: 7, dtype: 'F32', untiedHead: false });
  const load = (edit: (tensors: Map<string, HostTensor>) => void, prefix = true) => () => {
    const tensors = hostTensors(checkpoint, prefix);
    edit(tensors);
    Gpt2Model.fromTensors(config, tensors).dispose();
  };

  it('names a missing tensor', () => {
    expect(load((t) => t.delete('transformer.h.1.mlp.c_fc.weight'))).toThrow(
      'The checkpoint has no tensor h.1.mlp.c_fc.weight (looked for "h.1.mlp.c_fc.weight" and "transformer.h.1.mlp.c_fc.weight").',
    );
  });

  it('names a tensor of the wrong shape with expected and got, and spots a transposed one', () => {
    const transpose = (t: Map<string, HostTensor>, name: string) => {
      const { shape } = t.get(name)!;
      t.set(name, { shape: [shape[1], shape[0]], data: new Float32Array(shape[0] * shape[1]) });
    };
    expect(load((t) => transpose(t, 'transformer.h.0.attn.c_attn.weight'))).toThrow(
      'Tensor h.0.attn.c_attn.weight has the wrong shape: expected [16, 48], got [48, 16] (transposed? GPT-2 stores Conv1D weights as [in, out], nn.Linear as [out, in]).',
    );
    expect(load((t) => t.set('transformer.ln_f.bias', { shape: [15], data: new Float32Array(15) }))).toThrow(
      'Tensor ln_f.bias has the wrong shape: expected [16], got [15].',
    );
    expect(load((t) => t.set('transformer.ln_f.bias', { shape: [16], data: new Float32Array(15) }))).toThrow(
      'Tensor ln_f.bias has 15 values but its shape [16] needs 16.',
    );
  });

  it('says when the vocabulary of wte (or lm_head) is not the config\'s', () => {
    expect(load((t) => t.set('transformer.wte.weight', { shape: [30, 16], data: new Float32Array(30 * 16) }))).toThrow(
      'The token embedding wte has a vocabulary of 30 tokens, but config.json says vocab_size 23.',
    );
    expect(load((t) => t.set('lm_head.weight', { shape: [30, 16], data: new Float32Array(30 * 16) }))).toThrow(
      'Tensor lm_head.weight has the wrong shape: expected [23, 16], got [30, 16].',
    );
  });

  it('refuses tensors that are not part of this GPT-2, e.g. a checkpoint with more layers than the config', () => {
    const deeper = randomCheckpoint({ ...SMALL, n_layer: 3 }, { seed: 8, dtype: 'F32', untiedHead: false });
    expect(() => Gpt2Model.fromTensors(config, hostTensors(deeper))).toThrow(
      /^The checkpoint has tensors that are not part of a 2-layer GPT-2: h\.2\.ln_1\.weight, h\.2\.ln_1\.bias, .*, and 7 more\.$/,
    );
    expect(load((t) => t.set('wpe.weight', t.get('transformer.wpe.weight')!))).toThrow('The checkpoint holds wpe.weight twice, with and without "transformer.".');
  });

  it('rejects bad calls with specific messages', () => {
    const model = Gpt2Model.fromTensors(config, hostTensors(checkpoint, false));
    const tooLong = randomTokens(1, SMALL.n_positions + 1, SMALL.vocab_size, 1);
    expect(() => model.record(tooLong, 'h.0')).toThrow('A sequence of 13 tokens is longer than this GPT-2\'s context of 12.');
    expect(() => model.logits([Int32Array.of(1, 2), Int32Array.of(3)])).toThrow(
      'Sequences in a batch must have equal lengths: sequence 1 has 1 tokens, sequence 0 has 2.',
    );
    expect(() => model.logits([Int32Array.of(1, 23)])).toThrow('Token id 23 (sequence 0, position 1) is outside the vocabulary of 23.');
    expect(() => model.logits([])).toThrow('The batch has no sequences.');
    expect(() => model.logits([new Int32Array(0)])).toThrow('The sequences are empty.');
    expect(() => model.record([Int32Array.of(1)], 'h.2')).toThrow('h.2 is not a layer of this GPT-2; layers are h.I.attn, h.I.mlp.act and h.I for I in 0..1.');
    expect(() => model.record([Int32Array.of(1)], 'h.0.mlp')).toThrow(Gpt2InputError);
    expect(() => model.record([Int32Array.of(1)], 'h.01')).toThrow(Gpt2InputError);
    expect(() => model.directionLogits('h.0.mlp.act', new Float32Array(16))).toThrow('A direction in h.0.mlp.act has 64 components; got 16.');
    model.dispose();
    expect(() => model.logits([Int32Array.of(1)])).toThrow('This GPT-2 has been disposed.');
  });
});

describe('Gpt2Model.wordsDirection', () => {
  /** The same direction in float64 from the checkpoint's own arrays: (mean word row − centre's mean row) · γ, centred over dimensions, unit. */
  function reference(checkpoint: TestCheckpoint, ids: number[], centre: number[]): Float64Array {
    const e = checkpoint.configJson.n_embd;
    const head = (checkpoint.weights.get('lm_head.weight') ?? checkpoint.weights.get('wte.weight')!).data;
    const gamma = checkpoint.weights.get('ln_f.weight')!.data;
    const v = new Float64Array(e);
    for (let d = 0; d < e; d++) {
      const words = ids.reduce((s, id) => s + head[id * e + d], 0) / ids.length;
      const usual = centre.reduce((s, id) => s + head[id * e + d], 0) / centre.length;
      v[d] = (words - usual) * gamma[d];
    }
    const mean = v.reduce((a, b) => a + b, 0) / e;
    const centred = v.map((x) => x - mean);
    const norm = Math.hypot(...centred);
    return centred.map((x) => x / norm);
  }

  it('is the words\' mean unembedding row less the centre text\'s, times ln_f\'s gain, centred and unit (float64 reference), tied or not', () => {
    for (const untiedHead of [false, true]) {
      const checkpoint = randomCheckpoint(SMALL, { seed: 31, dtype: 'F32', untiedHead });
      const model = Gpt2Model.fromTensors(parseGpt2Config(checkpoint.configJson), hostTensors(checkpoint));
      const before = tf.memory().numTensors;
      const ids = [3, 7, 7];
      // Two windows: the centre is their tokens together.
      const centre = [Int32Array.of(1, 2, 2, 3), Int32Array.of(5, 8, 13, 21, 2)];
      for (const layer of ['h.1', 'h.0.attn']) {
        const got = model.wordsDirection(layer, ids, centre);
        expect(maxError(got, reference(checkpoint, ids, centre.flatMap((w) => Array.from(w)))).abs).toBeLessThan(1e-6);
      }
      expect(tf.memory().numTensors).toBe(before);
      model.dispose();
    }
  });

  it("refuses an MLP layer, ids outside the vocabulary, no words, no text, and words that read as the text", () => {
    const model = Gpt2Model.fromTensors(parseGpt2Config(SMALL), hostTensors(randomCheckpoint(SMALL, { seed: 3, dtype: 'F32', untiedHead: false })));
    const centre = [Int32Array.of(1, 2)];
    expect(() => model.wordsDirection('h.0.mlp.act', [1], centre)).toThrow(/lives in the residual stream \(h\.I or h\.I\.attn, 16 wide\), not in h\.0\.mlp\.act/);
    expect(() => model.wordsDirection('h.1', [23], centre)).toThrow(/Token id 23 is outside the vocabulary \(0 to 22\)/);
    expect(() => model.wordsDirection('h.1', [], centre)).toThrow(/at least one word/);
    expect(() => model.wordsDirection('h.1', [1], [new Int32Array(0)])).toThrow(/needs text to centre on/);
    expect(() => model.wordsDirection('h.1', [4], [Int32Array.of(4, 4)])).toThrow(/direction is zero/);
    expect(() => model.wordsDirection('h.9', [1], centre)).toThrow();
    model.dispose();
  });
});
