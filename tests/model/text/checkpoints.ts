import { createRng, gaussian } from '../../../src/lib/rng';
import { writeSafetensors as writeSafetensorsFile } from '../../../src/model/text/safetensors';

/** A float64 tensor in Hugging Face GPT-2 layout (Conv1D weights [in, out]). */
export interface RefTensor {
  shape: number[];
  data: Float64Array;
}

export type StoredDtype = 'F32' | 'F16' | 'BF16';

/** A tensor to write: float values encoded as `dtype`, or raw bytes for any other dtype. */
export type TensorToWrite =
  | { name: string; dtype: StoredDtype; shape: number[]; values: ArrayLike<number> }
  | { name: string; dtype: string; shape: number[]; bytes: Uint8Array };

/**
 * Safetensors bytes through the app's writer (src/model/text/safetensors.ts), with F16 and BF16 values
 * rounded and encoded here, independently of the reader under test.
 */
export function writeSafetensors(tensors: TensorToWrite[], metadata?: Record<string, string>): Uint8Array {
  return writeSafetensorsFile(
    tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, bytes: 'bytes' in t ? t.bytes : encode(t.values, t.dtype) })),
    metadata,
  );
}

function encode(values: ArrayLike<number>, dtype: StoredDtype): Uint8Array {
  const size = dtype === 'F32' ? 4 : 2;
  const bytes = new Uint8Array(values.length * size);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) {
    if (dtype === 'F32') view.setFloat32(i * 4, values[i], true);
    else view.setUint16(i * 2, dtype === 'F16' ? halfBits(values[i]) : bfloat16Bits(values[i]), true);
  }
  return bytes;
}

/** Binary exponent of a finite non-zero double, read from its bits. */
function exponentOf(x: number): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  return ((view.getUint32(0) >>> 20) & 0x7ff) - 1023;
}

function roundHalfEven(v: number): number {
  return Math.abs(v % 1) === 0.5 ? 2 * Math.round(v / 2) : Math.round(v);
}

/** The nearest float16 value (ties to even), subnormals included; no overflow handling (test values are small). */
export function toHalf(x: number): number {
  if (x === 0) return 0;
  const quantum = 2 ** (Math.max(exponentOf(x), -14) - 10);
  return roundHalfEven(x / quantum) * quantum;
}

function halfBits(x: number): number {
  const h = toHalf(x);
  const sign = h < 0 || Object.is(h, -0) ? 0x8000 : 0;
  const a = Math.abs(h);
  if (a === Infinity) return sign | 0x7c00;
  if (Number.isNaN(a)) return 0x7e00;
  if (a < 2 ** -14) return sign | (a / 2 ** -24);
  const e = exponentOf(a);
  return sign | ((e + 15) << 10) | ((a / 2 ** e - 1) * 1024);
}

/** The nearest bfloat16 value (ties to even) of float32(x). */
export function toBfloat16(x: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, bfloat16Bits(x) << 16);
  return view.getFloat32(0);
}

function bfloat16Bits(x: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, x);
  const bits = view.getUint32(0);
  if (Number.isNaN(x)) return 0x7fc0;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

const QUANTISE: Record<StoredDtype, (x: number) => number> = { F32: Math.fround, F16: toHalf, BF16: toBfloat16 };

export interface TestConfigJson {
  model_type: 'gpt2';
  n_embd: number;
  n_layer: number;
  n_head: number;
  n_positions: number;
  vocab_size: number;
  n_inner?: number | null;
  layer_norm_epsilon?: number;
  activation_function?: string;
}

export interface TestCheckpoint {
  configJson: TestConfigJson;
  /** Weights as stored (already rounded to the checkpoint dtype), by name without `transformer.`; lm_head only when untied. */
  weights: Map<string, RefTensor>;
  dtype: StoredDtype;
}

/**
 * A random GPT-2 checkpoint with weights scaled so that attention is far from uniform and GELU sees
 * both its curved and its linear parts; values are rounded to `dtype` so that they are stored exactly.
 */
export function randomCheckpoint(configJson: TestConfigJson, options: { seed: number; dtype: StoredDtype; untiedHead: boolean }): TestCheckpoint {
  const random = createRng(options.seed);
  const round = QUANTISE[options.dtype];
  const e = configJson.n_embd;
  const inner = configJson.n_inner ?? 4 * e;
  const weights = new Map<string, RefTensor>();
  const add = (name: string, shape: number[], mean: number, std: number) => {
    const data = Float64Array.from({ length: shape.reduce((n, d) => n * d, 1) }, () => round(mean + std * gaussian(random)));
    weights.set(name, { shape, data });
  };
  add('wte.weight', [configJson.vocab_size, e], 0, 0.8);
  add('wpe.weight', [configJson.n_positions, e], 0, 0.3);
  for (let i = 0; i < configJson.n_layer; i++) {
    const h = `h.${i}`;
    add(`${h}.ln_1.weight`, [e], 1, 0.2);
    add(`${h}.ln_1.bias`, [e], 0, 0.1);
    add(`${h}.attn.c_attn.weight`, [e, 3 * e], 0, 0.5);
    add(`${h}.attn.c_attn.bias`, [3 * e], 0, 0.2);
    add(`${h}.attn.c_proj.weight`, [e, e], 0, 0.3);
    add(`${h}.attn.c_proj.bias`, [e], 0, 0.1);
    add(`${h}.ln_2.weight`, [e], 1, 0.2);
    add(`${h}.ln_2.bias`, [e], 0, 0.1);
    add(`${h}.mlp.c_fc.weight`, [e, inner], 0, 0.4);
    add(`${h}.mlp.c_fc.bias`, [inner], 0, 0.3);
    add(`${h}.mlp.c_proj.weight`, [inner, e], 0, 0.2);
    add(`${h}.mlp.c_proj.bias`, [e], 0, 0.1);
  }
  add('ln_f.weight', [e], 1, 0.2);
  add('ln_f.bias', [e], 0, 0.1);
  if (options.untiedHead) add('lm_head.weight', [configJson.vocab_size, e], 0, 0.8);
  return { configJson, weights, dtype: options.dtype };
}

/** The tensors of a checkpoint as a Hugging Face GPT2LMHeadModel would save them, mask buffers included if asked. */
export function checkpointTensors(
  checkpoint: TestCheckpoint,
  options: { prefix: boolean; maskBuffers?: 'F32' | 'BOOL' } = { prefix: true },
): TensorToWrite[] {
  const tensors: TensorToWrite[] = [];
  const name = (bare: string) => (options.prefix && bare !== 'lm_head.weight' ? `transformer.${bare}` : bare);
  for (const [bare, t] of checkpoint.weights) {
    tensors.push({ name: name(bare), dtype: checkpoint.dtype, shape: t.shape, values: t.data });
    const block = /^h\.\d+\.ln_1\.weight$/.exec(bare) ? bare.slice(0, bare.indexOf('.ln_1')) : null;
    if (block && options.maskBuffers) tensors.push(...maskBuffers(name(block), checkpoint.configJson.n_positions, options.maskBuffers));
  }
  return tensors;
}

function maskBuffers(block: string, positions: number, dtype: 'F32' | 'BOOL'): TensorToWrite[] {
  const lower = Array.from({ length: positions * positions }, (_, i) => (i % positions <= Math.floor(i / positions) ? 1 : 0));
  const shape = [1, 1, positions, positions];
  const bias: TensorToWrite = dtype === 'F32'
    ? { name: `${block}.attn.bias`, dtype: 'F32', shape, values: lower }
    : { name: `${block}.attn.bias`, dtype: 'BOOL', shape, bytes: Uint8Array.from(lower) };
  return [bias, { name: `${block}.attn.masked_bias`, dtype: 'F32', shape: [], values: [-1e4] }];
}

/** Seeded token sequences of equal length. */
export function randomTokens(count: number, length: number, vocabSize: number, seed: number): Int32Array[] {
  const random = createRng(seed);
  return Array.from({ length: count }, () => Int32Array.from({ length }, () => Math.floor(random() * vocabSize)));
}
