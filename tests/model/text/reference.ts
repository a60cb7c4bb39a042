import type { RefTensor, TestConfigJson } from './checkpoints';

/**
 * GPT-2's forward in float64 with plain loops, one sequence at a time, written from the GPT-2 paper
 * and Hugging Face's modeling_gpt2.py; it shares no code with the TF.js model it checks.
 */
export interface ReferenceRun {
  /** Every recordable layer's activations, [batch * tokens * width] row-major. */
  layers: Map<string, Float64Array>;
  logits: Float64Array;
}

type Rows = Float64Array[];

export function referenceForward(config: TestConfigJson, weights: Map<string, RefTensor>, batch: Int32Array[]): ReferenceRun {
  const perSequence = batch.map((tokens) => forwardOne(config, weights, tokens));
  const layers = new Map<string, Float64Array>();
  for (const name of perSequence[0].layers.keys()) layers.set(name, concat(perSequence.flatMap((run) => run.layers.get(name)!)));
  return { layers, logits: concat(perSequence.flatMap((run) => run.logits)) };
}

function forwardOne(config: TestConfigJson, weights: Map<string, RefTensor>, tokens: Int32Array): { layers: Map<string, Rows>; logits: Rows } {
  const w = (name: string) => weights.get(name)!.data;
  const e = config.n_embd;
  const eps = config.layer_norm_epsilon ?? 1e-5;
  const layers = new Map<string, Rows>();
  let x: Rows = Array.from(tokens, (id, t) => {
    const row = new Float64Array(e);
    for (let i = 0; i < e; i++) row[i] = w('wte.weight')[id * e + i] + w('wpe.weight')[t * e + i];
    return row;
  });
  for (let b = 0; b < config.n_layer; b++) {
    const h = `h.${b}`;
    const qkv = linear(layerNorm(x, w(`${h}.ln_1.weight`), w(`${h}.ln_1.bias`), eps), w(`${h}.attn.c_attn.weight`), w(`${h}.attn.c_attn.bias`));
    const attention = linear(attend(qkv, e, config.n_head), w(`${h}.attn.c_proj.weight`), w(`${h}.attn.c_proj.bias`));
    layers.set(`${h}.attn`, attention);
    x = add(x, attention);
    const fc = linear(layerNorm(x, w(`${h}.ln_2.weight`), w(`${h}.ln_2.bias`), eps), w(`${h}.mlp.c_fc.weight`), w(`${h}.mlp.c_fc.bias`));
    const neurons = fc.map((row) => row.map(geluTanh));
    layers.set(`${h}.mlp.act`, neurons);
    x = add(x, linear(neurons, w(`${h}.mlp.c_proj.weight`), w(`${h}.mlp.c_proj.bias`)));
    layers.set(h, x);
  }
  const head = weights.get('lm_head.weight') ?? weights.get('wte.weight')!;
  const final = layerNorm(x, w('ln_f.weight'), w('ln_f.bias'), eps);
  return { layers, logits: final.map((row) => matVecRows(head.data, head.shape[0], row)) };
}

/** Causal softmax(q·kᵀ/sqrt(d))·v per head, from the fused [tokens, 3 * width] projection. */
function attend(qkv: Rows, width: number, heads: number): Rows {
  const d = width / heads;
  const out = qkv.map(() => new Float64Array(width));
  for (let h = 0; h < heads; h++) {
    for (let t = 0; t < qkv.length; t++) {
      const scores = new Float64Array(t + 1);
      for (let s = 0; s <= t; s++) {
        let dot = 0;
        for (let i = 0; i < d; i++) dot += qkv[t][h * d + i] * qkv[s][width + h * d + i];
        scores[s] = dot / Math.sqrt(d);
      }
      const max = Math.max(...scores);
      let sum = 0;
      for (let s = 0; s <= t; s++) sum += (scores[s] = Math.exp(scores[s] - max));
      for (let s = 0; s <= t; s++) {
        for (let i = 0; i < d; i++) out[t][h * d + i] += (scores[s] / sum) * qkv[s][2 * width + h * d + i];
      }
    }
  }
  return out;
}

function layerNorm(x: Rows, gamma: Float64Array, beta: Float64Array, eps: number): Rows {
  return x.map((row) => {
    const mean = row.reduce((a, v) => a + v, 0) / row.length;
    const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / row.length;
    return row.map((v, i) => ((v - mean) / Math.sqrt(variance + eps)) * gamma[i] + beta[i]);
  });
}

/** x·W + b with W [in, out] row-major (Conv1D layout). */
function linear(x: Rows, weight: Float64Array, bias: Float64Array): Rows {
  const outWidth = bias.length;
  return x.map((row) => {
    const out = Float64Array.from(bias);
    for (let i = 0; i < row.length; i++) {
      for (let o = 0; o < outWidth; o++) out[o] += row[i] * weight[i * outWidth + o];
    }
    return out;
  });
}

export function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
}

function add(a: Rows, b: Rows): Rows {
  return a.map((row, t) => row.map((v, i) => v + b[t][i]));
}

/** M·v for M [rows, v.length] row-major. */
function matVecRows(matrix: Float64Array, rows: number, v: Float64Array): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < v.length; i++) out[r] += matrix[r * v.length + i] * v[i];
  }
  return out;
}

/** The logits a direction writes, by the convention under test: (mlp c_proj), ln_f scale, unembedding. */
export function referenceDirectionLogits(
  config: TestConfigJson,
  weights: Map<string, RefTensor>,
  layer: string,
  direction: Float32Array,
): Float64Array {
  const e = config.n_embd;
  let residual = Float64Array.from(direction);
  const mlp = /^h\.(\d+)\.mlp\.act$/.exec(layer);
  if (mlp) {
    const proj = weights.get(`h.${mlp[1]}.mlp.c_proj.weight`)!.data;
    const projected = new Float64Array(e);
    for (let n = 0; n < direction.length; n++) {
      for (let i = 0; i < e; i++) projected[i] += direction[n] * proj[n * e + i];
    }
    residual = projected;
  }
  const gamma = weights.get('ln_f.weight')!.data;
  const head = weights.get('lm_head.weight') ?? weights.get('wte.weight')!;
  return matVecRows(head.data, head.shape[0], residual.map((v, i) => v * gamma[i]));
}

function concat(rows: Rows): Float64Array {
  const out = new Float64Array(rows.reduce((n, r) => n + r.length, 0));
  let at = 0;
  for (const r of rows) {
    out.set(r, at);
    at += r.length;
  }
  return out;
}

/** Largest absolute difference, and that relative to the reference's largest magnitude. */
export function maxError(actual: ArrayLike<number>, expected: ArrayLike<number>): { abs: number; rel: number } {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} vs ${expected.length}`);
  let abs = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    abs = Math.max(abs, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return { abs, rel: abs / scale };
}
