/** The hyperparameters of a GPT-2, read from a Hugging Face `config.json`. */
export interface Gpt2Config {
  /** Width of the residual stream. */
  nEmbd: number;
  nLayer: number;
  nHead: number;
  /** Context length: the number of learned positions. */
  nPositions: number;
  vocabSize: number;
  /** Width of each MLP's hidden layer (4 * nEmbd unless the config sets n_inner). */
  nInner: number;
  layerNormEpsilon: number;
}

/** The config is not one of a GPT-2 this code can run. */
export class Gpt2ConfigError extends Error {
  override name = 'Gpt2ConfigError';
}

/** Both names of the tanh-approximated GELU that GPT-2 uses. */
const TANH_GELU = ['gelu_new', 'gelu_pytorch_tanh'];

/** Parses a Hugging Face GPT-2 `config.json` (its text or parsed value), rejecting other architectures. */
export function parseGpt2Config(json: string | unknown): Gpt2Config {
  const raw = asObject(json);
  if (raw.model_type !== undefined && raw.model_type !== 'gpt2') {
    throw new Gpt2ConfigError(`This is a "${String(raw.model_type)}" model; only GPT-2 (model_type "gpt2") is supported.`);
  }
  const activation = raw.activation_function;
  if (activation !== undefined && !TANH_GELU.includes(activation as string)) {
    throw new Gpt2ConfigError(`activation_function is "${String(activation)}"; GPT-2 uses "gelu_new" (the tanh approximation of GELU).`);
  }
  // These options change GPT-2's attention; a checkpoint that needs them would run silently wrong.
  if (raw.scale_attn_weights === false) throw new Gpt2ConfigError('scale_attn_weights is false; only the standard 1/sqrt(head_dim) attention scale is supported.');
  if (raw.scale_attn_by_inverse_layer_idx === true) throw new Gpt2ConfigError('scale_attn_by_inverse_layer_idx is true; it is not supported.');

  const nEmbd = positiveInteger(raw, 'n_embd');
  const nHead = positiveInteger(raw, 'n_head');
  if (nEmbd % nHead !== 0) throw new Gpt2ConfigError(`n_embd (${nEmbd}) is not divisible by n_head (${nHead}).`);
  return {
    nEmbd,
    nLayer: positiveInteger(raw, 'n_layer'),
    nHead,
    nPositions: raw.n_positions !== undefined ? positiveInteger(raw, 'n_positions') : positiveInteger(raw, 'n_ctx', 'n_positions (or n_ctx)'),
    vocabSize: positiveInteger(raw, 'vocab_size'),
    nInner: raw.n_inner === undefined || raw.n_inner === null ? 4 * nEmbd : positiveInteger(raw, 'n_inner'),
    layerNormEpsilon: raw.layer_norm_epsilon === undefined ? 1e-5 : positiveNumber(raw, 'layer_norm_epsilon'),
  };
}

function asObject(json: string | unknown): Record<string, unknown> {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (e) {
      throw new Gpt2ConfigError(`config.json is not JSON (${(e as Error).message}).`);
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Gpt2ConfigError('config.json is not a JSON object.');
  return value as Record<string, unknown>;
}

function positiveInteger(raw: Record<string, unknown>, field: string, label = field): number {
  const value = raw[field];
  if (value === undefined) throw new Gpt2ConfigError(`config.json has no ${label}.`);
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new Gpt2ConfigError(`config.json: ${field} must be a positive integer, got ${JSON.stringify(value)}.`);
  }
  return value;
}

function positiveNumber(raw: Record<string, unknown>, field: string): number {
  const value = raw[field];
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new Gpt2ConfigError(`config.json: ${field} must be a positive number, got ${JSON.stringify(value)}.`);
  }
  return value;
}
