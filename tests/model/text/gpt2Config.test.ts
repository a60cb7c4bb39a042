import { describe, expect, it } from 'vitest';
import { gpt2Size } from '../../../src/model/text/gpt2';
import { Gpt2ConfigError, parseGpt2Config } from '../../../src/model/text/gpt2Config';

/** openai-community/gpt2's config.json. */
const GPT2_SMALL = `{
  "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
  "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02,
  "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 1024, "n_embd": 768, "n_head": 12,
  "n_layer": 12, "n_positions": 1024, "resid_pdrop": 0.1, "summary_activation": null,
  "summary_first_dropout": 0.1, "summary_proj_to_labels": true, "summary_type": "cls_index",
  "summary_use_proj": true, "task_specific_params": {"text-generation": {"do_sample": true, "max_length": 50}},
  "vocab_size": 50257
}`;

const minimal = { n_embd: 64, n_layer: 2, n_head: 4, n_positions: 32, vocab_size: 100 };

describe('parseGpt2Config', () => {
  it('reads GPT-2 small, whose size is the well-known 124,439,808 parameters (tied lm_head)', () => {
    const config = parseGpt2Config(GPT2_SMALL);
    expect(config).toEqual({ nEmbd: 768, nLayer: 12, nHead: 12, nPositions: 1024, vocabSize: 50257, nInner: 3072, layerNormEpsilon: 1e-5 });
    expect(gpt2Size(config)).toEqual({ parameters: 124_439_808, bytes: 4 * 124_439_808 });
    expect(gpt2Size(config, { tiedLmHead: false }).parameters).toBe(124_439_808 + 50257 * 768);
  });

  it('defaults n_inner to 4 * n_embd and the epsilon to 1e-5, falls back to n_ctx, and honours n_inner', () => {
    expect(parseGpt2Config({ ...minimal, n_inner: null })).toMatchObject({ nInner: 256, layerNormEpsilon: 1e-5 });
    const { n_positions: _, ...withoutPositions } = minimal;
    expect(parseGpt2Config({ ...withoutPositions, n_ctx: 16 }).nPositions).toBe(16);
    expect(parseGpt2Config({ ...minimal, n_inner: 100, layer_norm_epsilon: 1e-6, model_type: 'gpt2' })).toMatchObject({ nInner: 100, layerNormEpsilon: 1e-6 });
    expect(parseGpt2Config({ ...minimal, activation_function: 'gelu_pytorch_tanh' }).nEmbd).toBe(64);
  });

  it('says which architecture it got and that only GPT-2 is supported', () => {
    expect(() => parseGpt2Config({ ...minimal, model_type: 'llama' })).toThrow('This is a "llama" model; only GPT-2 (model_type "gpt2") is supported.');
    expect(() => parseGpt2Config({ ...minimal, model_type: 'gpt_neox' })).toThrow(Gpt2ConfigError);
  });

  it('names a missing or invalid field', () => {
    const { n_head: _, ...withoutHeads } = minimal;
    expect(() => parseGpt2Config(withoutHeads)).toThrow('config.json has no n_head.');
    const { n_positions: __, ...withoutPositions } = minimal;
    expect(() => parseGpt2Config(withoutPositions)).toThrow('config.json has no n_positions (or n_ctx).');
    expect(() => parseGpt2Config({ ...minimal, vocab_size: '100' })).toThrow('config.json: vocab_size must be a positive integer, got "100".');
    expect(() => parseGpt2Config({ ...minimal, n_layer: 1.5 })).toThrow('config.json: n_layer must be a positive integer, got 1.5.');
    expect(() => parseGpt2Config({ ...minimal, layer_norm_epsilon: -1 })).toThrow('config.json: layer_norm_epsilon must be a positive number, got -1.');
    expect(() => parseGpt2Config({ ...minimal, n_head: 5 })).toThrow('n_embd (64) is not divisible by n_head (5).');
  });

  it('rejects options that would change the forward, and text that is not a JSON object', () => {
    expect(() => parseGpt2Config({ ...minimal, activation_function: 'relu' })).toThrow('activation_function is "relu"; GPT-2 uses "gelu_new"');
    expect(() => parseGpt2Config({ ...minimal, scale_attn_weights: false })).toThrow(/scale_attn_weights is false/);
    expect(() => parseGpt2Config({ ...minimal, scale_attn_by_inverse_layer_idx: true })).toThrow(/scale_attn_by_inverse_layer_idx/);
    // Values that are neither true nor false are refused too, not read as the default.
    expect(() => parseGpt2Config({ ...minimal, scale_attn_weights: 'no' })).toThrow('scale_attn_weights is "no"; only the standard 1/sqrt(head_dim) attention scale is supported.');
    expect(() => parseGpt2Config({ ...minimal, scale_attn_by_inverse_layer_idx: 1 })).toThrow('scale_attn_by_inverse_layer_idx is 1; it is not supported.');
    expect(() => parseGpt2Config('{"n_embd": ')).toThrow(/^config\.json is not JSON/);
    expect(() => parseGpt2Config('[1]')).toThrow('config.json is not a JSON object.');
  });
});
