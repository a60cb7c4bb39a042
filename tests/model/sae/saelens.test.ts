import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRng, gaussian } from '../../../src/lib/rng';
import { chooseBackend } from '../../../src/model/backend';
import { encodeSae } from '../../../src/model/sae/encode';
import { hookNameOfLayer, layerOfHookName } from '../../../src/model/sae/hookNames';
import { denseLatents, SAE_TENSORS, type Sae, type SaeTensorName } from '../../../src/model/sae/sae';
import { checkSaeForLayer, readSaeLens, SaeFileError, writeSaeLens, type SaeFileProblem } from '../../../src/model/sae/saelens';
import { readSafetensorsHeader } from '../../../src/model/text/safetensors';
import { trainSae } from '../../../src/model/sae/train';
import { toBfloat16, toHalf, writeSafetensors, type StoredDtype } from '../text/checkpoints';

beforeAll(async () => {
  await chooseBackend({ node: true });
});

const [D_IN, D_SAE] = [24, 96];

/** SAE weights in float64, already rounded to what `dtype` stores. */
type Reference = Record<SaeTensorName, Float64Array>;

/** Seeded weights of an SAE that, on gaussian rows, keeps its top k far from ties. */
function randomWeights(seed: number, dtype: StoredDtype, decoderNorms = false): Reference {
  const random = createRng(seed);
  const round = { F32: Math.fround, F16: toHalf, BF16: toBfloat16 }[dtype];
  const draw = (n: number, std: number) => Float64Array.from({ length: n }, () => round(std * gaussian(random)));
  const wDec = draw(D_SAE * D_IN, 1);
  // Unit rows as SAELens keeps them, unless the test wants norms folded in on reading.
  for (let i = 0; i < D_SAE; i++) {
    const row = wDec.subarray(i * D_IN, (i + 1) * D_IN);
    const norm = Math.sqrt(row.reduce((s, x) => s + x * x, 0)) / (decoderNorms ? 0.5 + random() : 1);
    row.forEach((x, j) => (row[j] = round(x / norm)));
  }
  return { W_enc: draw(D_IN * D_SAE, 0.3), W_dec: wDec, b_enc: draw(D_SAE, 0.2), b_dec: draw(D_IN, 0.5) };
}

function weightsFile(w: Reference, dtype: StoredDtype, change: (name: SaeTensorName, shape: number[]) => number[] = (_, s) => s): Uint8Array {
  const shapes: Record<SaeTensorName, number[]> = { W_enc: [D_IN, D_SAE], W_dec: [D_SAE, D_IN], b_enc: [D_SAE], b_dec: [D_IN] };
  return writeSafetensors(SAE_TENSORS.map((name) => ({ name, dtype, shape: change(name, shapes[name]), values: w[name] })));
}

/** cfg.json as SAELens 6's save_model writes it (SAEConfig.to_dict). */
function cfgV6(architecture: 'topk' | 'standard', extra: Record<string, unknown> = {}, hookName = 'blocks.1.hook_resid_post') {
  return {
    d_in: D_IN,
    d_sae: D_SAE,
    dtype: 'float32',
    device: 'cpu',
    apply_b_dec_to_input: true,
    normalize_activations: 'none',
    reshape_activations: 'none',
    metadata: { sae_lens_version: '6.18.0', sae_lens_training_version: '6.18.0', model_name: 'gpt2', hook_name: hookName, prepend_bos: true, context_size: 128 },
    architecture,
    ...(architecture === 'topk' ? { k: 8, rescale_acts_by_decoder_norm: false } : {}),
    ...extra,
  };
}

/** The latents in float64, as SAELens computes them (rescale: hidden_pre times the decoder row norms). */
function referenceLatents(w: Reference, rows: Float64Array, options: { k: number | null; applyBDec: boolean; rescale?: boolean }): Float64Array {
  const count = rows.length / D_IN;
  const out = new Float64Array(count * D_SAE);
  const norms = Float64Array.from({ length: D_SAE }, (_, i) => (options.rescale ? Math.sqrt(w.W_dec.subarray(i * D_IN, (i + 1) * D_IN).reduce((s, x) => s + x * x, 0)) : 1));
  for (let r = 0; r < count; r++) {
    const pre = Float64Array.from({ length: D_SAE }, (_, j) => {
      let sum = w.b_enc[j];
      for (let i = 0; i < D_IN; i++) sum += (rows[r * D_IN + i] - (options.applyBDec ? w.b_dec[i] : 0)) * w.W_enc[i * D_SAE + j];
      return sum * norms[j];
    });
    const kept = options.k === null ? pre.map(() => 1) : topMask(pre, options.k);
    pre.forEach((v, j) => (out[r * D_SAE + j] = kept[j] ? Math.max(v, 0) : 0));
  }
  return out;
}

function topMask(values: Float64Array, k: number): Uint8Array {
  const order = Array.from(values.keys()).sort((a, b) => values[b] - values[a]);
  const mask = new Uint8Array(values.length);
  for (const j of order.slice(0, k)) mask[j] = 1;
  return mask;
}

const gaussianRows = (count: number, seed: number) => {
  const random = createRng(seed);
  return Float64Array.from({ length: count * D_IN }, () => gaussian(random));
};

/** Largest |a - b| over the largest |b|. */
function maxRelativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let [error, scale] = [0, 0];
  for (let i = 0; i < b.length; i++) {
    error = Math.max(error, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return error / scale;
}

describe('readSaeLens: an SAE written in SAELens layout by the test gives the latents of a float64 computation', () => {
  const cases: { label: string; dtype: StoredDtype; cfg: Record<string, unknown>; layer: string; k: number | null; applyBDec: boolean; rescale?: boolean }[] = [
    { label: 'SAELens 6 topk, F32', dtype: 'F32', cfg: cfgV6('topk'), layer: 'h.1', k: 8, applyBDec: true },
    {
      label: 'SAELens 6 topk with rescale_acts_by_decoder_norm, F32',
      dtype: 'F32',
      cfg: cfgV6('topk', { rescale_acts_by_decoder_norm: true }),
      layer: 'h.1',
      k: 8,
      applyBDec: true,
      rescale: true,
    },
    {
      label: 'before SAELens 6: standard (ReLU), hook_point, no b_dec on the input, F16',
      dtype: 'F16',
      cfg: { model_name: 'gpt2-small', hook_point: 'blocks.2.hook_resid_pre', hook_point_layer: 2, d_in: D_IN, d_sae: D_SAE, dtype: 'torch.float32', apply_b_dec_to_input: false },
      layer: 'h.1',
      k: null,
      applyBDec: false,
    },
    {
      label: 'before SAELens 6: topk as activation_fn_str with activation_fn_kwargs.k, BF16',
      dtype: 'BF16',
      cfg: { architecture: 'standard', activation_fn_str: 'topk', activation_fn_kwargs: { k: 5 }, hook_name: 'blocks.0.mlp.hook_post', d_in: D_IN, d_sae: D_SAE },
      layer: 'h.0.mlp.act',
      k: 5,
      applyBDec: true,
    },
  ];

  for (const c of cases) {
    it(c.label, async () => {
      const w = randomWeights(11, c.dtype, c.rescale);
      const sae = readSaeLens({ cfg: JSON.stringify(c.cfg), weights: weightsFile(w, c.dtype) }, { modality: 'text', target: { layer: c.layer, width: D_IN } });
      expect(sae.config).toMatchObject({ layer: c.layer, dIn: D_IN, dSae: D_SAE, k: c.k, architecture: c.k === null ? 'relu' : 'topk', applyBDecToInput: c.applyBDec });
      const rows = gaussianRows(64, 12);
      const latents = denseLatents(await encodeSae(sae, Float32Array.from(rows), { batchSize: 20 }));
      const reference = referenceLatents(w, rows, { k: c.k, applyBDec: c.applyBDec, rescale: c.rescale });
      const error = maxRelativeError(latents, reference);
      console.log(`${c.label}: max error ${error.toExponential(2)} of the largest latent`);
      expect(error).toBeLessThanOrEqual(1e-5);
      expect(latents.map((v) => (v > 0 ? 1 : 0))).toEqual(Float32Array.from(reference, (v) => (v > 0 ? 1 : 0)));
    });
  }
});

const sameBits = (a: Float32Array, b: Float32Array) => expect(new Uint32Array(a.buffer, a.byteOffset, a.length)).toEqual(new Uint32Array(b.buffer, b.byteOffset, b.length));

describe('writeSaeLens', () => {
  it('writes a trained SAE in SAELens 6 layout, and it reopens equal, bit for bit', async () => {
    const random = createRng(3);
    const rows = Float32Array.from({ length: 512 * 16 }, () => gaussian(random));
    const { sae } = await trainSae(rows, 16, { latents: 48, k: 4, epochs: 1, batchSize: 128, layer: 'h.2.mlp.act', modelName: 'gpt2' });
    const files = writeSaeLens(sae, { modality: 'text' });
    expect(JSON.parse(files.cfg)).toEqual({
      d_in: 16,
      d_sae: 48,
      dtype: 'float32',
      device: 'cpu',
      apply_b_dec_to_input: true,
      normalize_activations: 'none',
      reshape_activations: 'none',
      metadata: { sae_lens_version: '6.18.0', hook_name: 'blocks.2.mlp.hook_post', model_name: 'gpt2', written_by: 'activation-atlas-explorer' },
      architecture: 'topk',
      k: 4,
      rescale_acts_by_decoder_norm: false,
    });
    expect(readSafetensorsHeader(files.weights).entries.map((e) => [e.name, e.dtype, e.shape])).toEqual([
      ['W_enc', 'F32', [16, 48]],
      ['W_dec', 'F32', [48, 16]],
      ['b_enc', 'F32', [48]],
      ['b_dec', 'F32', [16]],
    ]);
    const reopened = readSaeLens(files, { modality: 'text', target: { layer: 'h.2.mlp.act', width: 16 } });
    expect(reopened.config).toEqual(sae.config);
    for (const name of SAE_TENSORS) sameBits(reopened.weights[name], sae.weights[name]);
  });

  it('writes a ReLU SAE as standard, an image layer under its own name, and one of unknown layer without hook_name', () => {
    const w = randomWeights(4, 'F32');
    const weights = Object.fromEntries(SAE_TENSORS.map((name) => [name, Float32Array.from(w[name])])) as Sae['weights'];
    const relu: Sae = { config: { architecture: 'relu', dIn: D_IN, dSae: D_SAE, k: null, applyBDecToInput: true, layer: 'conv_b', modelName: null }, weights };
    const files = writeSaeLens(relu, { modality: 'image' });
    const cfg = JSON.parse(files.cfg);
    expect([cfg.architecture, cfg.k, cfg.metadata.hook_name]).toEqual(['standard', undefined, 'conv_b']);
    const reopened = readSaeLens(files, { modality: 'image' });
    expect(reopened.config).toEqual(relu.config);
    for (const name of SAE_TENSORS) sameBits(reopened.weights[name], relu.weights[name]);
    const unknown = writeSaeLens({ ...relu, config: { ...relu.config, layer: null } }, { modality: 'text' });
    expect(JSON.parse(unknown.cfg).metadata.hook_name).toBeUndefined();
    expect(readSaeLens(unknown, { modality: 'text', target: { layer: 'h.0', width: D_IN } }).config.layer).toBeNull();
  });

  it('refuses to write an SAE whose arrays do not fit its config, or hold non-finite values', () => {
    const w = randomWeights(4, 'F32');
    const weights = Object.fromEntries(SAE_TENSORS.map((name) => [name, Float32Array.from(w[name])])) as Sae['weights'];
    const sae: Sae = { config: { architecture: 'topk', dIn: D_IN, dSae: D_SAE, k: 8, applyBDecToInput: true, layer: 'h.0', modelName: null }, weights };
    expect(() => writeSaeLens({ ...sae, weights: { ...weights, b_enc: new Float32Array(3) } }, { modality: 'text' })).toThrow(
      'sae_weights.safetensors: b_enc has shape [3], but d_in 24 and d_sae 96 (cfg.json) need [96].',
    );
    const bad = Float32Array.from(weights.b_dec);
    bad[2] = NaN;
    expect(() => writeSaeLens({ ...sae, weights: { ...weights, b_dec: bad } }, { modality: 'text' })).toThrow(SaeFileError);
  });
});

describe('hook names', () => {
  it('maps SAELens hooks on GPT-2 to this tool layers and back', () => {
    const pairs: [string, string][] = [
      ['blocks.3.hook_resid_post', 'h.3'],
      ['blocks.3.hook_attn_out', 'h.3.attn'],
      ['blocks.3.mlp.hook_post', 'h.3.mlp.act'],
      ['blocks.11.hook_resid_post', 'h.11'],
    ];
    for (const [hook, layer] of pairs) {
      expect(layerOfHookName(hook, 'text')).toBe(layer);
      expect(hookNameOfLayer(layer, 'text')).toBe(hook);
    }
    expect(layerOfHookName('blocks.4.hook_resid_pre', 'text')).toBe('h.3');
    expect(layerOfHookName('mixed4d', 'image')).toBe('mixed4d');
    expect(hookNameOfLayer('h.3', 'image')).toBe('h.3');
    expect(layerOfHookName('blocks.1.hook_resid_post', 'image')).toBe('blocks.1.hook_resid_post');
  });
});

describe('readSaeLens on bad files: each problem gets its message', () => {
  const w = randomWeights(5, 'F32');
  const good = { cfg: JSON.stringify(cfgV6('topk')), weights: weightsFile(w, 'F32') };
  const target = { layer: 'h.1', width: D_IN };
  const problem = (files: { cfg: string; weights: Uint8Array }, t: typeof target | undefined = target): { problem: SaeFileProblem; message: string } => {
    try {
      readSaeLens(files, { modality: 'text', target: t });
    } catch (e) {
      expect(e).toBeInstanceOf(SaeFileError);
      return { problem: (e as SaeFileError).problem, message: (e as Error).message };
    }
    throw new Error('no error');
  };
  const withCfg = (cfg: unknown) => ({ ...good, cfg: typeof cfg === 'string' ? cfg : JSON.stringify(cfg) });

  it('the files as given open', () => {
    expect(readSaeLens(good, { modality: 'text', target }).config.layer).toBe('h.1');
  });

  it('cfg.json: not JSON, sizes missing, an architecture or normalisation this tool does not run, k missing', () => {
    expect(problem(withCfg('{"d_in": 24,'))).toMatchObject({ problem: 'config', message: expect.stringMatching(/^cfg\.json is not JSON \(/) });
    expect(problem(withCfg('[1]'))).toEqual({ problem: 'config', message: 'cfg.json is not a JSON object.' });
    const { d_in: _, ...noDIn } = cfgV6('topk');
    expect(problem(withCfg(noDIn))).toEqual({ problem: 'config', message: 'cfg.json: d_in must be a positive integer, not missing.' });
    expect(problem(withCfg({ ...cfgV6('topk'), d_sae: 1.5 }))).toEqual({ problem: 'config', message: 'cfg.json: d_sae must be a positive integer, not 1.5.' });
    expect(problem(withCfg(cfgV6('jumprelu' as 'topk')))).toEqual({
      problem: 'architecture',
      message: 'cfg.json: architecture "jumprelu" is not supported; this tool opens topk and standard (ReLU) SAEs.',
    });
    expect(problem(withCfg({ ...cfgV6('standard'), activation_fn_str: 'tanh-relu' }))).toEqual({
      problem: 'architecture',
      message: 'cfg.json: activation "tanh-relu" is not supported for a standard SAE; this tool opens ReLU ones.',
    });
    expect(problem(withCfg({ ...cfgV6('topk'), k: undefined }))).toEqual({
      problem: 'config',
      message: 'cfg.json: a topk SAE needs k, an integer from 1 to d_sae (96), not missing.',
    });
    expect(problem(withCfg({ ...cfgV6('topk'), normalize_activations: 'layer_norm' }))).toEqual({
      problem: 'config',
      message: 'cfg.json: normalize_activations "layer_norm" is not supported: the SAE expects its input rescaled in a way this tool does not apply.',
    });
  });

  it('sae_weights.safetensors: not safetensors, a tensor missing, a wrong shape, non-finite values', () => {
    expect(problem({ ...good, weights: good.weights.subarray(0, 100) })).toMatchObject({
      problem: 'weights',
      message: expect.stringMatching(/^sae_weights\.safetensors is truncated/),
    });
    const noBEnc = writeSafetensors(SAE_TENSORS.filter((n) => n !== 'b_enc').map((name) => ({ name, dtype: 'F32', shape: name === 'W_enc' ? [D_IN, D_SAE] : name === 'W_dec' ? [D_SAE, D_IN] : [D_IN], values: w[name] })));
    expect(problem({ ...good, weights: noBEnc })).toEqual({
      problem: 'missing-tensor',
      message: 'sae_weights.safetensors has no b_enc; an SAE needs W_enc [d_in, d_sae], W_dec [d_sae, d_in], b_enc [d_sae] and b_dec [d_in].',
    });
    const transposed = weightsFile(w, 'F32', (name, shape) => (name === 'W_dec' ? [D_IN, D_SAE] : shape));
    expect(problem({ ...good, weights: transposed })).toEqual({
      problem: 'shape',
      message: 'sae_weights.safetensors: W_dec has shape [24, 96], but d_in 24 and d_sae 96 (cfg.json) need [96, 24].',
    });
    const nan = { ...w, W_enc: Float64Array.from(w.W_enc) };
    nan.W_enc[2 * D_SAE + 7] = NaN;
    nan.W_enc[5] = Infinity;
    expect(problem({ ...good, weights: weightsFile(nan, 'F32') })).toEqual({
      problem: 'non-finite',
      message: 'sae_weights.safetensors: W_enc holds 2 non-finite values (the first at [0, 5]: Infinity).',
    });
  });

  it('the layer: a width or hook other than the layer it is opened on, a hook no layer here records', () => {
    expect(problem(good, { layer: 'h.1', width: 32 })).toEqual({ problem: 'width', message: 'The SAE reads 24-wide activations (d_in), but layer h.1 is 32 wide.' });
    expect(problem(good, { layer: 'h.2.mlp.act', width: D_IN })).toEqual({
      problem: 'hook',
      message: 'The SAE reads h.1 (hook_name blocks.1.hook_resid_post), not h.2.mlp.act, the layer it is opened on.',
    });
    expect(problem(withCfg(cfgV6('topk', {}, 'blocks.0.hook_resid_pre')))).toEqual({
      problem: 'hook',
      message:
        'cfg.json: hook_name blocks.0.hook_resid_pre is the embeddings (token plus position), which are not a recordable layer here; the residual stream is recorded after each block (h.L, SAELens\'s blocks.L.hook_resid_post).',
    });
    expect(problem(withCfg(cfgV6('topk', {}, 'blocks.3.hook_mlp_out')))).toEqual({
      problem: 'hook',
      message: 'cfg.json: hook_name blocks.3.hook_mlp_out is the MLP\'s output after c_proj, which is not a recordable layer here; the MLP neurons before it are h.3.mlp.act (blocks.3.mlp.hook_post).',
    });
    expect(problem(withCfg(cfgV6('topk', {}, 'blocks.3.attn.hook_z')))).toMatchObject({ problem: 'hook', message: expect.stringMatching(/^cfg\.json: hook_name blocks\.3\.attn\.hook_z has no recordable layer here/) });
    const sae = readSaeLens(good, { modality: 'text' });
    expect(() => checkSaeForLayer(sae, { layer: 'h.1', width: 16 })).toThrow('The SAE reads 24-wide activations (d_in), but layer h.1 is 16 wide.');
  });

  it('frees the tensors it used (none: reading is host-only)', () => {
    const before = tf.memory().numTensors;
    readSaeLens(good, { modality: 'text', target });
    expect(tf.memory().numTensors).toBe(before);
  });
});
