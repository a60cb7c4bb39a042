import * as v from 'valibot';
import { issuePath } from '../../lib/validate';

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
const TANH_GELU = ['gelu_new', 'gelu_pytorch_tanh'] as const;

const positiveInteger = (field: string) => {
  const message = (issue: v.BaseIssue<unknown>) => `config.json: ${field} must be a positive integer, got ${JSON.stringify(issue.input)}.`;
  return v.pipe(v.number(message), v.safeInteger(message), v.minValue(1, message));
};

const positiveNumber = (field: string) => {
  const message = (issue: v.BaseIssue<unknown>) => `config.json: ${field} must be a positive number, got ${JSON.stringify(issue.input)}.`;
  return v.pipe(v.number(message), v.finite(message), v.gtValue(0, message));
};

const notOneOf = (field: string, wanted: string) => (issue: v.BaseIssue<unknown>) =>
  `${field} is ${JSON.stringify(issue.input)}; ${wanted}`;

/**
 * The fields of a Hugging Face GPT-2 `config.json` this code reads or must refuse; the others (dropout,
 * generation settings...) do not change the forward and are ignored. Each message names its field.
 */
const configSchema = v.looseObject(
  {
    model_type: v.optional(v.literal('gpt2', (issue) => `This is a ${JSON.stringify(String(issue.input))} model; only GPT-2 (model_type "gpt2") is supported.`)),
    activation_function: v.optional(v.picklist(TANH_GELU, notOneOf('activation_function', 'GPT-2 uses "gelu_new" (the tanh approximation of GELU).'))),
    // These options change GPT-2's attention; a checkpoint that needs them would run silently wrong.
    scale_attn_weights: v.optional(v.literal(true, notOneOf('scale_attn_weights', 'only the standard 1/sqrt(head_dim) attention scale is supported.'))),
    scale_attn_by_inverse_layer_idx: v.optional(v.literal(false, notOneOf('scale_attn_by_inverse_layer_idx', 'it is not supported.'))),
    n_embd: positiveInteger('n_embd'),
    n_layer: positiveInteger('n_layer'),
    n_head: positiveInteger('n_head'),
    n_positions: v.optional(positiveInteger('n_positions')),
    n_ctx: v.optional(positiveInteger('n_ctx')),
    vocab_size: positiveInteger('vocab_size'),
    n_inner: v.nullish(positiveInteger('n_inner')),
    layer_norm_epsilon: v.optional(positiveNumber('layer_norm_epsilon')),
  },
  (issue) => `config.json has no ${issuePath(issue)}.`,
);

/** Parses a Hugging Face GPT-2 `config.json` (its text or parsed value), rejecting other architectures. */
export function parseGpt2Config(json: string | unknown): Gpt2Config {
  const result = v.safeParse(configSchema, parse(json), { abortEarly: true });
  if (!result.success) throw new Gpt2ConfigError(result.issues[0].message);
  const raw = result.output;
  const nPositions = raw.n_positions ?? raw.n_ctx;
  if (nPositions === undefined) throw new Gpt2ConfigError('config.json has no n_positions (or n_ctx).');
  if (raw.n_embd % raw.n_head !== 0) throw new Gpt2ConfigError(`n_embd (${raw.n_embd}) is not divisible by n_head (${raw.n_head}).`);
  return {
    nEmbd: raw.n_embd,
    nLayer: raw.n_layer,
    nHead: raw.n_head,
    nPositions,
    vocabSize: raw.vocab_size,
    nInner: raw.n_inner ?? 4 * raw.n_embd,
    layerNormEpsilon: raw.layer_norm_epsilon ?? 1e-5,
  };
}

/** The config as a plain object (valibot takes an array for an object). */
function parse(json: string | unknown): object {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (e) {
      throw new Gpt2ConfigError(`config.json is not JSON (${(e as Error).message}).`);
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Gpt2ConfigError('config.json is not a JSON object.');
  return value;
}
