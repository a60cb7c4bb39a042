/**
 * SAELens's files for an SAE: `cfg.json` and `sae_weights.safetensors` with W_enc [d_in, d_sae], W_dec [d_sae, d_in],
 * b_enc [d_sae] and b_dec [d_in]. Reads SAELens 6's layout (`metadata.hook_name`, `k` beside `architecture`) and
 * the older one (`hook_name` or `hook_point` at the top, TopK as `activation_fn_str: "topk"` with
 * `activation_fn_kwargs.k`); writes SAELens 6's (as its `SAE.save_model` does, read from SAELens 6.18's source).
 */
import type { Modality } from '../../compute/atlas';
import { readSafetensors, SafetensorsError, writeSafetensors } from '../text/safetensors';
import { hookNameOfLayer, layerOfHookName, UnmappedHookError } from './hookNames';
import { SAE_TENSORS, saeTensorShape, type Sae, type SaeConfig, type SaeTensorName, type SaeWeights } from './sae';

export const SAE_CFG_FILE = 'cfg.json';
export const SAE_WEIGHTS_FILE = 'sae_weights.safetensors';
/** The SAELens version whose layout the writer follows: SAELens reads a config without a version >= 6 as its old layout. */
const SAELENS_LAYOUT_VERSION = '6.18.0';

/** What is wrong with an SAE's files, or with the SAE for the layer it is opened on. */
export type SaeFileProblem = 'config' | 'architecture' | 'weights' | 'missing-tensor' | 'shape' | 'non-finite' | 'width' | 'hook';

/** An SAE that cannot be opened (or written): the message says why; whatever was on screen stays. */
export class SaeFileError extends Error {
  override name = 'SaeFileError';
  constructor(
    readonly problem: SaeFileProblem,
    message: string,
  ) {
    super(message);
  }
}

/** The two files' contents. */
export interface SaeLensFiles {
  cfg: string;
  weights: Uint8Array;
}

/** The layer an SAE is opened for: its name here and its width. */
export interface SaeTarget {
  layer: string;
  width: number;
}

export interface ReadSaeLensOptions {
  /** How hook_name maps to layers: TransformerLens hooks for text (GPT-2), the layer's own name otherwise. */
  modality: Modality;
  /** When given, the SAE must read this layer at this width. */
  target?: SaeTarget;
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);

interface ParsedConfig extends Omit<SaeConfig, 'layer'> {
  hookName: string | null;
  /** SAELens's rescale_acts_by_decoder_norm (TopK): the decoder's row norms are folded in on reading. */
  rescaleByDecoderNorm: boolean;
}

/** cfg.json's fields this tool uses, validated. */
function parseConfig(cfg: string | unknown): ParsedConfig {
  let json: unknown = cfg;
  if (typeof cfg === 'string') {
    try {
      json = JSON.parse(cfg);
    } catch (e) {
      throw new SaeFileError('config', `${SAE_CFG_FILE} is not JSON (${(e as Error).message}).`);
    }
  }
  if (!isObject(json)) throw new SaeFileError('config', `${SAE_CFG_FILE} is not a JSON object.`);
  const metadata = isObject(json.metadata) ? json.metadata : {};
  const size = (name: 'd_in' | 'd_sae'): number => {
    const value = json[name];
    if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return value;
    throw new SaeFileError('config', `${SAE_CFG_FILE}: ${name} must be a positive integer, not ${JSON.stringify(value) ?? 'missing'}.`);
  };
  const dIn = size('d_in');
  const dSae = size('d_sae');
  const activation = text(json.activation_fn) ?? text(json.activation_fn_str);
  const kwargs = isObject(json.activation_fn_kwargs) ? json.activation_fn_kwargs : {};
  let architecture = text(json.architecture) ?? 'standard';
  // SAELens before 6 wrote TopK SAEs as architecture "standard" with activation_fn_str "topk".
  if (architecture === 'standard' && activation === 'topk') architecture = 'topk';
  if (architecture !== 'topk' && architecture !== 'standard') {
    throw new SaeFileError('architecture', `${SAE_CFG_FILE}: architecture "${architecture}" is not supported; this tool opens topk and standard (ReLU) SAEs.`);
  }
  if (architecture === 'standard' && activation !== null && activation !== 'relu') {
    throw new SaeFileError('architecture', `${SAE_CFG_FILE}: activation "${activation}" is not supported for a standard SAE; this tool opens ReLU ones.`);
  }
  let k: number | null = null;
  if (architecture === 'topk') {
    const value = json.k ?? kwargs.k;
    if (!(typeof value === 'number' && Number.isSafeInteger(value) && value > 0 && value <= dSae)) {
      throw new SaeFileError('config', `${SAE_CFG_FILE}: a topk SAE needs k, an integer from 1 to d_sae (${dSae}), not ${JSON.stringify(value) ?? 'missing'}.`);
    }
    k = value;
  }
  const normalize = json.normalize_activations;
  if (!(normalize === undefined || normalize === null || normalize === 'none' || normalize === false)) {
    throw new SaeFileError(
      'config',
      `${SAE_CFG_FILE}: normalize_activations ${JSON.stringify(normalize)} is not supported: the SAE expects its input rescaled in a way this tool does not apply.`,
    );
  }
  if (json.finetuning_scaling_factor === true) {
    throw new SaeFileError('config', `${SAE_CFG_FILE}: finetuning_scaling_factor is not supported (its scaling_factor tensor changes the decoder).`);
  }
  const flag = (name: string, fallback: boolean): boolean => {
    const value = json[name];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'boolean') throw new SaeFileError('config', `${SAE_CFG_FILE}: ${name} must be true or false, not ${JSON.stringify(value)}.`);
    return value;
  };
  return {
    architecture: architecture === 'topk' ? 'topk' : 'relu',
    dIn,
    dSae,
    k,
    applyBDecToInput: flag('apply_b_dec_to_input', true),
    modelName: text(metadata.model_name) ?? text(json.model_name),
    hookName: text(metadata.hook_name) ?? text(json.hook_name) ?? text(json.hook_point),
    rescaleByDecoderNorm: architecture === 'topk' && flag('rescale_acts_by_decoder_norm', false),
  };
}

/** Throws a SaeFileError unless each tensor has its shape for `config` and only finite values. */
function checkWeights(config: Pick<SaeConfig, 'dIn' | 'dSae'>, weights: Map<string, { shape: number[]; data: Float32Array }>): void {
  const missing = SAE_TENSORS.filter((name) => !weights.has(name));
  if (missing.length) {
    throw new SaeFileError(
      'missing-tensor',
      `${SAE_WEIGHTS_FILE} has no ${missing.join(', ')}; an SAE needs W_enc [d_in, d_sae], W_dec [d_sae, d_in], b_enc [d_sae] and b_dec [d_in].`,
    );
  }
  for (const name of SAE_TENSORS) {
    const { shape, data } = weights.get(name)!;
    const expected = saeTensorShape(name, config);
    if (shape.length !== expected.length || shape.some((d, i) => d !== expected[i])) {
      throw new SaeFileError(
        'shape',
        `${SAE_WEIGHTS_FILE}: ${name} has shape [${shape.join(', ')}], but d_in ${config.dIn} and d_sae ${config.dSae} (${SAE_CFG_FILE}) need [${expected.join(', ')}].`,
      );
    }
    let bad = 0;
    let first = -1;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) {
        if (first < 0) first = i;
        bad++;
      }
    }
    if (bad) {
      const at = expected.length === 2 ? `[${Math.floor(first / expected[1])}, ${first % expected[1]}]` : `[${first}]`;
      throw new SaeFileError('non-finite', `${SAE_WEIGHTS_FILE}: ${name} holds ${bad} non-finite value${bad > 1 ? 's' : ''} (the first at ${at}: ${data[first]}).`);
    }
  }
}

/** In place: TopK latents rescaled by their decoder norms become plain latents of unit decoder rows (SAELens's fold). */
function foldDecoderNorms(weights: SaeWeights, dIn: number, dSae: number): void {
  for (let i = 0; i < dSae; i++) {
    let squares = 0;
    for (let j = 0; j < dIn; j++) squares += weights.W_dec[i * dIn + j] ** 2;
    const norm = Math.sqrt(squares);
    if (!(norm > 0)) continue;
    for (let j = 0; j < dIn; j++) {
      weights.W_dec[i * dIn + j] /= norm;
      weights.W_enc[j * dSae + i] *= norm;
    }
    weights.b_enc[i] *= norm;
  }
}

/**
 * Opens an SAE from SAELens's files; throws a SaeFileError saying what is wrong. F32 weights are views of
 * `files.weights` (no copy): the bytes must not change while the SAE is in use.
 */
export function readSaeLens(files: { cfg: string | unknown; weights: ArrayBuffer | Uint8Array }, options: ReadSaeLensOptions): Sae {
  const { hookName, rescaleByDecoderNorm, ...config } = parseConfig(files.cfg);
  let tensors: Map<string, { shape: number[]; data: Float32Array }>;
  try {
    tensors = readSafetensors(files.weights, { fileName: SAE_WEIGHTS_FILE, skip: (name) => !(SAE_TENSORS as readonly string[]).includes(name) });
  } catch (e) {
    if (e instanceof SafetensorsError) throw new SaeFileError('weights', e.message);
    throw e;
  }
  checkWeights(config, tensors);
  const weights = Object.fromEntries(SAE_TENSORS.map((name) => [name, tensors.get(name)!.data])) as SaeWeights;
  if (rescaleByDecoderNorm) {
    for (const name of SAE_TENSORS) weights[name] = weights[name].slice();
    foldDecoderNorms(weights, config.dIn, config.dSae);
  }
  let layer: string | null = null;
  if (hookName) {
    try {
      layer = layerOfHookName(hookName, options.modality);
    } catch (e) {
      if (e instanceof UnmappedHookError) throw new SaeFileError('hook', `${SAE_CFG_FILE}: hook_name ${e.message}`);
      throw e;
    }
  }
  const sae: Sae = { config: { ...config, layer }, weights };
  if (options.target) checkSaeForLayer(sae, options.target, hookName);
  return sae;
}

/** Throws a SaeFileError unless the SAE reads `target`'s layer at its width (an SAE of unknown layer is checked by width only). */
export function checkSaeForLayer(sae: Sae, target: SaeTarget, hookName: string | null = null): void {
  const { dIn, layer } = sae.config;
  if (layer !== null && layer !== target.layer) {
    const named = hookName && hookName !== layer ? `${layer} (hook_name ${hookName})` : layer;
    throw new SaeFileError('hook', `The SAE reads ${named}, not ${target.layer}, the layer it is opened on.`);
  }
  if (dIn !== target.width) {
    throw new SaeFileError('width', `The SAE reads ${dIn}-wide activations (d_in), but layer ${target.layer} is ${target.width} wide.`);
  }
}

/** SAELens's files for `sae`; its layer becomes hook_name (TransformerLens names for a text model's layers). */
export function writeSaeLens(sae: Sae, options: { modality: Modality }): SaeLensFiles {
  const { config, weights } = sae;
  checkWeights(config, new Map(SAE_TENSORS.map((name) => [name, { shape: shapeOf(name, weights[name], config), data: weights[name] }])));
  const hookName = config.layer === null ? null : hookNameOfLayer(config.layer, options.modality);
  const topk = config.architecture === 'topk';
  const cfg = {
    d_in: config.dIn,
    d_sae: config.dSae,
    dtype: 'float32',
    device: 'cpu',
    apply_b_dec_to_input: config.applyBDecToInput,
    normalize_activations: 'none',
    reshape_activations: 'none',
    metadata: {
      sae_lens_version: SAELENS_LAYOUT_VERSION,
      ...(hookName === null ? {} : { hook_name: hookName }),
      ...(config.modelName === null ? {} : { model_name: config.modelName }),
      written_by: 'activation-atlas-explorer',
    },
    architecture: topk ? 'topk' : 'standard',
    ...(topk ? { k: config.k, rescale_acts_by_decoder_norm: false } : {}),
  };
  return {
    cfg: JSON.stringify(cfg, null, 2),
    weights: writeSafetensors(SAE_TENSORS.map((name) => ({ name, shape: saeTensorShape(name, config), data: weights[name] }))),
  };
}

/** The shape a weight array's length allows for `name`: the expected one when the length fits, else a flat one. */
function shapeOf(name: SaeTensorName, data: Float32Array, config: SaeConfig): number[] {
  const expected = saeTensorShape(name, config);
  return data.length === expected.reduce((n, d) => n * d, 1) ? expected : [data.length];
}
