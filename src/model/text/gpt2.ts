import * as tf from '@tensorflow/tfjs';
import { causalAttention, causalAttentionRuns } from '../../compute/attention';
import { unitVector } from '../../compute/directions/vectors';
import { intervene, type Intervention } from '../intervention';
import { readTidy } from '../readTensors';
import type { Gpt2Config } from './gpt2Config';
import type { HostTensor } from './safetensors';

/** A recordable layer: `h.I.attn` (attention output after c_proj), `h.I.mlp.act` (MLP neurons after GELU), `h.I` (residual stream after block I). */
export interface Gpt2Layer {
  name: string;
  width: number;
}

export type { Intervention } from '../intervention';
export { intervene } from '../intervention';

/** Each block's keys and values [heads, tokens, head width] of the tokens a sequence has run so far (Gpt2Model.extend). */
export interface KvCache {
  keys: tf.Tensor3D[];
  values: tf.Tensor3D[];
  /** Tokens cached. */
  length: number;
}

/** Frees a cache's tensors. */
export function disposeCache(cache: KvCache): void {
  tf.dispose([...cache.keys, ...cache.values]);
}

/** The checkpoint does not fit the config: a tensor missing, of the wrong shape, or not part of this GPT-2. */
export class Gpt2WeightsError extends Error {
  override name = 'Gpt2WeightsError';
}

/** The model was called with something it cannot run: an unknown layer, a too-long context, a token outside the vocabulary... */
export class Gpt2InputError extends Error {
  override name = 'Gpt2InputError';
}

type BlockPart = 'attn' | 'mlp.act' | 'resid';

interface LayerRef {
  block: number;
  part: BlockPart;
}

interface LayerNormWeights {
  gamma: tf.Tensor1D;
  beta: tf.Tensor1D;
}

/** A Conv1D: y = x·kernel + bias, kernel [in, out]. */
interface LinearWeights {
  kernel: tf.Tensor2D;
  bias: tf.Tensor1D;
}

interface BlockWeights {
  ln1: LayerNormWeights;
  /** c_attn cut by output column into its query, key and value parts: three products instead of one product and a split. */
  query: LinearWeights;
  key: LinearWeights;
  value: LinearWeights;
  attnProj: LinearWeights;
  ln2: LayerNormWeights;
  fc: LinearWeights;
  mlpProj: LinearWeights;
}

interface Gpt2Weights {
  wte: tf.Tensor2D;
  wpe: tf.Tensor2D;
  blocks: BlockWeights[];
  lnF: LayerNormWeights;
  /** [vocab, n_embd]; wte when the checkpoint ties the unembedding to the embedding. */
  unembedding: tf.Tensor2D;
}

const PREFIX = 'transformer.';
const LM_HEAD = 'lm_head.weight';
/** Added to attention scores of future positions; exp() of it underflows to exactly 0 in float32. */
const MASKED_SCORE = -1e9;

/** GPT-2's causal-mask buffers (`attn.bias`, `attn.masked_bias`): constants, not weights. */
export function isGpt2MaskBuffer(name: string): boolean {
  return /(^|\.)attn\.(bias|masked_bias)$/.test(name);
}

/** The shape of every GPT-2 weight by its name without the `transformer.` prefix (lm_head excluded). */
export function gpt2WeightShapes(config: Gpt2Config): Map<string, number[]> {
  const { nEmbd: e, nInner: inner, vocabSize, nPositions } = config;
  const shapes = new Map<string, number[]>([
    ['wte.weight', [vocabSize, e]],
    ['wpe.weight', [nPositions, e]],
  ]);
  for (let i = 0; i < config.nLayer; i++) {
    const block: [string, number[]][] = [
      ['ln_1.weight', [e]], ['ln_1.bias', [e]],
      ['attn.c_attn.weight', [e, 3 * e]], ['attn.c_attn.bias', [3 * e]],
      ['attn.c_proj.weight', [e, e]], ['attn.c_proj.bias', [e]],
      ['ln_2.weight', [e]], ['ln_2.bias', [e]],
      ['mlp.c_fc.weight', [e, inner]], ['mlp.c_fc.bias', [inner]],
      ['mlp.c_proj.weight', [inner, e]], ['mlp.c_proj.bias', [e]],
    ];
    for (const [name, shape] of block) shapes.set(`h.${i}.${name}`, shape);
  }
  shapes.set('ln_f.weight', [e]);
  shapes.set('ln_f.bias', [e]);
  return shapes;
}

export interface Gpt2Size {
  parameters: number;
  /** Bytes the weights take on a TF.js backend, which holds them as float32 whatever the checkpoint's dtype. */
  bytes: number;
}

/** Parameter count and float32 bytes of a GPT-2; an untied lm_head adds vocab * n_embd. */
export function gpt2Size(config: Gpt2Config, options: { tiedLmHead?: boolean } = {}): Gpt2Size {
  let parameters = options.tiedLmHead === false ? config.vocabSize * config.nEmbd : 0;
  for (const shape of gpt2WeightShapes(config).values()) parameters += product(shape);
  return { parameters, bytes: 4 * parameters };
}

/** A GPT-2 (Hugging Face layout) in TF.js that records its MLP neurons, attention outputs and residual stream. */
export class Gpt2Model {
  /** Recordable layers in the order the forward computes them. */
  readonly layers: Gpt2Layer[];
  private weights: Gpt2Weights | null;
  /**
   * The unembedding transposed, [nEmbd, vocab], made by the first generation step (extend) and kept: TF.js wasm
   * transposes a product's operand on every call, 3.7 against 0.5 ms a token for the built-in model (vocab x 64).
   * It costs vocab x nEmbd floats more (154 MB for GPT-2 small) once a model generates; dispose frees it.
   */
  private unembeddingColumns: tf.Tensor2D | null = null;

  private constructor(readonly config: Gpt2Config, weights: Gpt2Weights) {
    this.weights = weights;
    this.layers = [];
    for (let i = 0; i < config.nLayer; i++) {
      this.layers.push({ name: `h.${i}.attn`, width: config.nEmbd });
      this.layers.push({ name: `h.${i}.mlp.act`, width: config.nInner });
      this.layers.push({ name: `h.${i}`, width: config.nEmbd });
    }
  }

  /**
   * Builds the model from a checkpoint's tensors, named with or without `transformer.`;
   * mask buffers are ignored and a missing lm_head is tied to wte.
   */
  static fromTensors(config: Gpt2Config, tensors: ReadonlyMap<string, HostTensor>): Gpt2Model {
    const named = withoutPrefix(tensors);
    checkCheckpoint(config, named);
    return new Gpt2Model(config, uploadWeights(config, named));
  }

  /** Activations of one layer for a batch of equal-length token sequences: [batch, tokens, width]. Runs only as far as that layer. */
  record(tokenIds: Int32Array[], layer: string): tf.Tensor3D {
    return this.recordLayers(tokenIds, [layer])[0];
  }

  /** Activations of several layers in one pass, in the order asked. */
  recordLayers(tokenIds: Int32Array[], layers: string[]): tf.Tensor3D[] {
    const weights = this.live();
    const refs = layers.map((name) => this.layerRef(name));
    if (refs.length === 0) return [];
    return tf.tidy(() => {
      const ids = tokenBatch(tokenIds, this.config);
      const found = this.runBlocks(weights, ids, refs);
      return refs.map((ref) => found.get(layerName(ref))!);
    });
  }

  /** Next-token logits for a batch of equal-length token sequences: [batch, tokens, vocab]; with `intervention`, of the changed forward. */
  logits(tokenIds: Int32Array[], intervention: Intervention | null = null): tf.Tensor3D {
    const weights = this.live();
    const edit = this.editor(intervention);
    return tf.tidy(() => {
      const ids = tokenBatch(tokenIds, this.config);
      const residual = this.runBlocks(weights, ids, [], edit).get('final')!;
      return unembed(layerNorm(residual, weights.lnF, this.config.layerNormEpsilon), tf.transpose(weights.unembedding));
    });
  }

  /**
   * Next-token logits after `tokenIds` appended to the sequence `cache` holds (null: a new sequence), and the cache
   * grown by them: each block's keys and values of every token so far, so that each generated token costs one
   * token's forward instead of the whole window's. The old cache's tensors are freed; the caller frees the last one
   * (disposeCache). Logits equal the whole window's forward (tests/model/text/generate.test.ts).
   */
  extend(cache: KvCache | null, tokenIds: Int32Array, intervention: Intervention | null = null): { logits: Float32Array; cache: KvCache } {
    const weights = this.live();
    const edit = this.editor(intervention);
    const { nEmbd, nHead, layerNormEpsilon: eps, nPositions } = this.config;
    const past = cache?.length ?? 0;
    const count = tokenIds.length;
    if (past + count > nPositions) {
      throw new Gpt2InputError(`${past + count} tokens are more than this GPT-2's context of ${nPositions}.`);
    }
    const grown = tf.tidy(() => {
      const ids = tokenBatch([tokenIds], this.config);
      let x = tf.add(tf.gather(weights.wte, ids), weights.wpe.slice([past, 0], [count, nEmbd])) as tf.Tensor3D;
      const keys: tf.Tensor3D[] = [];
      const values: tf.Tensor3D[] = [];
      weights.blocks.forEach((w, b) => {
        const h = layerNorm(x, w.ln1, eps);
        const headDim = nEmbd / nHead;
        const toHeads = (t: tf.Tensor3D) => t.reshape([count, nHead, headDim]).transpose([1, 0, 2]) as tf.Tensor3D;
        const q = toHeads(linear(h, w.query));
        const k = cache ? tf.concat([cache.keys[b], toHeads(linear(h, w.key))], 1) : toHeads(linear(h, w.key));
        const v = cache ? tf.concat([cache.values[b], toHeads(linear(h, w.value))], 1) : toHeads(linear(h, w.value));
        keys.push(k);
        values.push(v);
        let scores = tf.matMul(q, k, false, true).div(Math.sqrt(headDim));
        if (count > 1) scores = scores.add(causalMask(count, past));
        const mixed = tf.matMul(tf.softmax(scores), v).transpose([1, 0, 2]).reshape([1, count, nEmbd]) as tf.Tensor3D;
        const mid = x.add(edit(b, 'attn', linear(mixed, w.attnProj))) as tf.Tensor3D;
        const neurons = edit(b, 'mlp.act', geluNew(linear(layerNorm(mid, w.ln2, eps), w.fc)));
        x = edit(b, 'resid', mid.add(linear(neurons, w.mlpProj)) as tf.Tensor3D);
      });
      const last = x.slice([0, count - 1, 0], [1, 1, nEmbd]) as tf.Tensor3D;
      return { logits: unembed(layerNorm(last, weights.lnF, eps), this.columns(weights)), keys, values };
    });
    if (cache) disposeCache(cache);
    try {
      return { logits: grown.logits.dataSync() as Float32Array, cache: { keys: grown.keys, values: grown.values, length: past + count } };
    } finally {
      grown.logits.dispose();
    }
  }

  /**
   * What a unit of `direction` in `layer` writes to the logits: MLP neurons through the block's c_proj
   * (no bias), then ln_f as its scale alone (no centring, normalisation or bias), then the unembedding.
   */
  directionLogits(layer: string, direction: Float32Array): Float32Array {
    const weights = this.live();
    const ref = this.layerRef(layer);
    const width = ref.part === 'mlp.act' ? this.config.nInner : this.config.nEmbd;
    if (direction.length !== width) {
      throw new Gpt2InputError(`A direction in ${layer} has ${width} components; got ${direction.length}.`);
    }
    return readTidy(() => {
      let residual: tf.Tensor2D = tf.tensor2d(direction, [1, width]);
      if (ref.part === 'mlp.act') residual = tf.matMul(residual, weights.blocks[ref.block].mlpProj.kernel);
      return tf.matMul(residual.mul(weights.lnF.gamma), weights.unembedding, false, true);
    });
  }

  /**
   * The direction of a residual-width layer (h.I or h.I.attn) that the logits read as the tokens `ids`: their mean
   * unembedding row less the mean row of the tokens of the `centre` windows (text the model runs on, each token as often
   * as it occurs there: what the model mostly predicts, and what the words compete with), times ln_f's gain, less its mean
   * over dimensions (ln_f removes that), unit length. Added to the residual, it raises those tokens' logits against
   * the usual ones; on the built-in GPT-2 at h.3 it is the sea test's control b (P(sea words) x14).
   */
  wordsDirection(layer: string, ids: readonly number[], centre: readonly Int32Array[]): Float32Array {
    const weights = this.live();
    const { part } = this.layerRef(layer);
    if (part === 'mlp.act') throw new Gpt2InputError(`A words direction lives in the residual stream (h.I or h.I.attn, ${this.config.nEmbd} wide), not in ${layer}'s neurons.`);
    const { vocabSize } = this.config;
    const outside = (id: number) => !Number.isInteger(id) || id < 0 || id >= vocabSize;
    const refuse = (id: number) => {
      throw new Gpt2InputError(`Token id ${id} is outside the vocabulary (0 to ${vocabSize - 1}).`);
    };
    ids.forEach((id) => outside(id) && refuse(id));
    if (ids.length === 0) throw new Gpt2InputError('A words direction needs at least one word.');
    // How often each token occurs in the centre windows (exact counts), then each one's share of them: one product
    // with the unembedding, no [tokens, width] gather and no copy of the windows.
    const share = new Float32Array(vocabSize);
    let tokens = 0;
    for (const window of centre) {
      for (const id of window) {
        if (outside(id)) refuse(id);
        share[id]++;
      }
      tokens += window.length;
    }
    if (tokens === 0) throw new Gpt2InputError('A words direction needs text to centre on.');
    for (let t = 0; t < vocabSize; t++) share[t] /= tokens;
    const v = readTidy(() => {
      const words = tf.gather(weights.unembedding, Array.from(ids)).mean(0);
      const usual = tf.matMul(tf.tensor2d(share, [1, vocabSize]), weights.unembedding).reshape([-1]);
      const read = words.sub(usual).mul(weights.lnF.gamma);
      return read.sub(read.mean());
    });
    const unit = unitVector(v);
    if (!unit.some((x) => x !== 0)) throw new Gpt2InputError('The words read the same as the text they are centred on: the direction is zero.');
    return unit;
  }

  /**
   * The forward split at `layer`, for gradients with respect to it: the layer's activation [batch, tokens, width],
   * and the next-token logits of the `vocab` ids [batch, tokens, vocab.length] (every id when absent: the unembedding
   * transposed, without gathering a copy of it first) as a differentiable function of a replacement for that activation (the rest of its block,
   * the later blocks, ln_f, the unembedding). With `ownPositions`, the later blocks' attention passes gradient to a
   * position's own key and value only (see ownPositionAttention): the gradient of the logits summed over positions is
   * then, at each position, that position's own logit's gradient, with nothing from later positions' logits. Call inside tf.tidy.
   */
  splitAt(
    tokenIds: Int32Array[],
    layer: string,
    vocab?: number[],
    ownPositions = false,
  ): { activation: tf.Tensor3D; logitsFrom: (activation: tf.Tensor3D) => tf.Tensor3D } {
    const weights = this.live();
    const { block, part } = this.layerRef(layer);
    const { nHead, layerNormEpsilon: eps } = this.config;
    const outside = vocab?.find((id) => !Number.isInteger(id) || id < 0 || id >= this.config.vocabSize);
    if (outside !== undefined) throw new Gpt2InputError(`Token id ${outside} is outside the vocabulary of ${this.config.vocabSize}.`);
    const x = this.residualBefore(weights, tokenBatch(tokenIds, this.config), block);
    const w = weights.blocks[block];
    const attention = selfAttention(layerNorm(x, w.ln1, eps), w, nHead);
    const mid = x.add(attention) as tf.Tensor3D;
    const neurons = geluNew(linear(layerNorm(mid, w.ln2, eps), w.fc));
    const activation = part === 'attn' ? attention : part === 'mlp.act' ? neurons : (mid.add(linear(neurons, w.mlpProj)) as tf.Tensor3D);
    const rows = vocab ? tf.gather(weights.unembedding, tf.tensor1d(vocab, 'int32')) : weights.unembedding;
    const columns = tf.transpose(rows) as tf.Tensor2D;
    const logitsFrom = (value: tf.Tensor3D): tf.Tensor3D => {
      let residual = value;
      if (part !== 'resid') {
        const m = part === 'attn' ? (x.add(value) as tf.Tensor3D) : mid;
        const n = part === 'attn' ? geluNew(linear(layerNorm(m, w.ln2, eps), w.fc)) : value;
        residual = m.add(linear(n, w.mlpProj)) as tf.Tensor3D;
      }
      for (let b = block + 1; b < weights.blocks.length; b++) residual = blockForward(residual, weights.blocks[b], nHead, eps, ownPositions);
      return unembed(layerNorm(residual, weights.lnF, eps), columns);
    };
    return { activation, logitsFrom };
  }

  /**
   * What the MLP neurons of `h.I.mlp.act` read: block I's ln_2 output [batch, tokens, nEmbd] and, from the same
   * pass, the neurons after GELU [batch, tokens, nInner]; the caller disposes both.
   */
  mlpInputs(tokenIds: Int32Array[], layer: string): { inputs: tf.Tensor3D; activation: tf.Tensor3D } {
    const weights = this.live();
    const { block, part } = this.layerRef(layer);
    if (part !== 'mlp.act') throw new Gpt2InputError(`${layer} is not an MLP layer: neuron inputs are read at h.I.mlp.act.`);
    const { nHead, layerNormEpsilon: eps } = this.config;
    return tf.tidy(() => {
      const x = this.residualBefore(weights, tokenBatch(tokenIds, this.config), block);
      const w = weights.blocks[block];
      const mid = x.add(selfAttention(layerNorm(x, w.ln1, eps), w, nHead, true)) as tf.Tensor3D;
      const inputs = layerNorm(mid, w.ln2, eps);
      return { inputs, activation: geluNew(linear(inputs, w.fc)) };
    });
  }

  /** Block I's c_fc for `h.I.mlp.act` on the host: kernel [nEmbd, nInner] row-major and bias [nInner]. */
  mlpInputWeights(layer: string): { kernel: Float32Array; bias: Float32Array } {
    const weights = this.live();
    const { block, part } = this.layerRef(layer);
    if (part !== 'mlp.act') throw new Gpt2InputError(`${layer} is not an MLP layer: neuron inputs are read at h.I.mlp.act.`);
    const { kernel, bias } = weights.blocks[block].fc;
    return { kernel: Float32Array.from(kernel.dataSync()), bias: Float32Array.from(bias.dataSync()) };
  }

  /** Frees every weight; the model cannot be used afterwards. */
  dispose(): void {
    if (!this.weights) return;
    const { wte, wpe, blocks, lnF, unembedding } = this.weights;
    tf.dispose([wte, wpe, lnF.gamma, lnF.beta]);
    if (unembedding !== wte) unembedding.dispose();
    this.unembeddingColumns?.dispose();
    this.unembeddingColumns = null;
    for (const block of blocks) {
      for (const part of Object.values(block) as (LayerNormWeights | LinearWeights)[]) tf.dispose(Object.values(part));
    }
    this.weights = null;
  }

  /** What the forward applies to each layer's value: `intervention` at its layer, checked against its width; nothing elsewhere. */
  private editor(intervention: Intervention | null): Editor {
    if (!intervention) return unchanged;
    const { block, part } = this.layerRef(intervention.layer);
    const width = part === 'mlp.act' ? this.config.nInner : this.config.nEmbd;
    const given = intervention.kind === 'add' ? intervention.vector.length : intervention.kind === 'project-out' ? intervention.direction.length : width;
    if (given !== width) throw new Gpt2InputError(`A direction in ${intervention.layer} has ${width} components; got ${given}.`);
    if (intervention.kind === 'set-units') {
      const { units, values } = intervention;
      const bad = units.find((u) => !Number.isInteger(u) || u < 0 || u >= width);
      if (bad !== undefined) throw new Gpt2InputError(`${intervention.layer} has units 0..${width - 1}; got ${bad}.`);
      if (values.length !== units.length) throw new Gpt2InputError(`set-units needs one value per unit: ${units.length} units, ${values.length} values.`);
    }
    return (b, p, value) => (b === block && p === part ? intervene(value, intervention) : value);
  }

  private columns(weights: Gpt2Weights): tf.Tensor2D {
    this.unembeddingColumns ??= tf.keep(tf.transpose(weights.unembedding));
    return this.unembeddingColumns;
  }

  private live(): Gpt2Weights {
    if (!this.weights) throw new Gpt2InputError('This GPT-2 has been disposed.');
    return this.weights;
  }

  private layerRef(name: string): LayerRef {
    const match = /^h\.(0|[1-9]\d*)(\.attn|\.mlp\.act)?$/.exec(name);
    const block = match ? Number(match[1]) : -1;
    if (!match || block >= this.config.nLayer) {
      throw new Gpt2InputError(`${name} is not a layer of this GPT-2; layers are h.I.attn, h.I.mlp.act and h.I for I in 0..${this.config.nLayer - 1}.`);
    }
    const part: BlockPart = match[2] === '.attn' ? 'attn' : match[2] === '.mlp.act' ? 'mlp.act' : 'resid';
    return { block, part };
  }

  /** The residual stream entering block `block`: the embeddings for block 0, else the output of block - 1. */
  private residualBefore(weights: Gpt2Weights, ids: tf.Tensor2D, block: number): tf.Tensor3D {
    if (block === 0) return embed(weights, ids, this.config.nEmbd);
    return this.runBlocks(weights, ids, [{ block: block - 1, part: 'resid' }]).get(`h.${block - 1}`)!;
  }

  /**
   * Runs the blocks, keeping the outputs of `targets` by layer name and stopping as soon as the last is
   * computed; with no targets it runs every block and returns the residual stream as 'final'.
   * Call inside tf.tidy.
   */
  private runBlocks(weights: Gpt2Weights, ids: tf.Tensor2D, targets: LayerRef[], edit: Editor = unchanged): Map<string, tf.Tensor3D> {
    const { nEmbd, nHead, layerNormEpsilon: eps } = this.config;
    const found = new Map<string, tf.Tensor3D>();
    const wanted = new Set(targets.map(layerName));
    let x = embed(weights, ids, nEmbd);
    for (let block = 0; block < weights.blocks.length; block++) {
      const w = weights.blocks[block];
      // One tidy per block: its intermediates are freed as soon as the block is done, so memory stays at
      // one block's worth whatever the depth; what is returned (recorded parts, the residual) survives.
      const step = tf.tidy((): Record<string, tf.Tensor3D> => {
        const out: Record<string, tf.Tensor3D> = {};
        const keep = (part: LayerRef['part'], value: tf.Tensor3D): boolean => {
          const name = layerName({ block, part });
          if (wanted.has(name)) out[name] = value;
          return wanted.size > 0 && found.size + Object.keys(out).length === wanted.size;
        };
        const attention = edit(block, 'attn', selfAttention(layerNorm(x, w.ln1, eps), w, nHead, true));
        if (keep('attn', attention)) return out;
        const mid = x.add(attention) as tf.Tensor3D;
        const neurons = edit(block, 'mlp.act', geluNew(linear(layerNorm(mid, w.ln2, eps), w.fc)));
        if (keep('mlp.act', neurons)) return out;
        const next = edit(block, 'resid', mid.add(linear(neurons, w.mlpProj)) as tf.Tensor3D);
        keep('resid', next);
        out[RESIDUAL] = next;
        return out;
      });
      const { [RESIDUAL]: next, ...recorded } = step;
      for (const [name, value] of Object.entries(recorded)) found.set(name, value);
      if (!next) return found;
      x = next;
      if (wanted.size > 0 && found.size === wanted.size) return found;
    }
    found.set('final', x);
    return found;
  }
}

/** What a forward applies to the value of layer (block, part); the identity where nothing changes. */
type Editor = (block: number, part: BlockPart, value: tf.Tensor3D) => tf.Tensor3D;

const unchanged: Editor = (_block, _part, value) => value;

/** The key a block's step returns its residual stream under (never a layer name). */
const RESIDUAL = '#residual';

function layerName({ block, part }: LayerRef): string {
  return part === 'resid' ? `h.${block}` : `h.${block}.${part}`;
}

function layerNorm(x: tf.Tensor3D, { gamma, beta }: LayerNormWeights, eps: number): tf.Tensor3D {
  const { mean, variance } = tf.moments(x, -1, true);
  return x.sub(mean).mul(tf.rsqrt(variance.add(eps))).mul(gamma).add(beta);
}

/** Token plus position embeddings of a [batch, tokens] id batch. */
function embed(weights: Gpt2Weights, ids: tf.Tensor2D, nEmbd: number): tf.Tensor3D {
  return tf.add(tf.gather(weights.wte, ids), weights.wpe.slice([0, 0], [ids.shape[1], nEmbd])) as tf.Tensor3D;
}

/** One whole block on the residual stream (what runBlocks computes step by step, with nothing recorded). */
function blockForward(x: tf.Tensor3D, w: BlockWeights, nHead: number, eps: number, ownPositions = false): tf.Tensor3D {
  const attend = ownPositions ? ownPositionAttention : selfAttention;
  const mid = x.add(attend(layerNorm(x, w.ln1, eps), w, nHead)) as tf.Tensor3D;
  return mid.add(linear(geluNew(linear(layerNorm(mid, w.ln2, eps), w.fc)), w.mlpProj)) as tf.Tensor3D;
}

/** x·kernel + bias over the last axis of [batch, tokens, in]. */
function linear(x: tf.Tensor3D, { kernel, bias }: LinearWeights): tf.Tensor3D {
  const [batch, tokens, width] = x.shape;
  // One kernel for the product and the bias: on wasm, XNNPACK adds the bias in the product's own pass.
  const y = tf.fused.matMul({ a: x.reshape([batch * tokens, width]), b: kernel, bias });
  return y.reshape([batch, tokens, kernel.shape[1]]);
}

/**
 * GPT-2's GELU, the tanh approximation 0.5x(1 + tanh(z)) with z = sqrt(2/pi)(x + 0.044715x^3), computed as the
 * equal x·sigmoid(2z): TF.js wasm's sigmoid is XNNPACK's vectorised one, its tanh a scalar loop (75 against 10 ms
 * over 8 x 128 x 3072 values), and the form takes two elementwise passes fewer.
 */
function geluNew(x: tf.Tensor3D): tf.Tensor3D {
  return x.mul(tf.sigmoid(x.add(x.mul(x).mul(x).mul(0.044715)).mul(2 * Math.sqrt(2 / Math.PI))));
}

/** Backends whose tensors live in host memory, where reading q, k and v for the attention kernel copies and does not wait on a GPU. */
const HOST_BACKENDS = new Set(['wasm', 'cpu']);

/**
 * Causal multi-head self-attention: q, k, v projections, masked softmax(q·kᵀ/sqrt(d)), c_proj. With `onHost` (no
 * gradient wanted, a host backend), the heads run in the WebAssembly kernel of compute/attention.ts, which computes
 * the causal half alone and needs no transposes: 30 against ~215 ms of TF.js wasm's batched matMuls a block of
 * GPT-2 small's heads, 8 x 128 tokens.
 */
function selfAttention(x: tf.Tensor3D, w: BlockWeights, nHead: number, onHost = false): tf.Tensor3D {
  const [batch, tokens, width] = x.shape;
  const headDim = width / nHead;
  if (onHost && HOST_BACKENDS.has(tf.getBackend()) && causalAttentionRuns(headDim)) {
    const [q, k, v] = [w.query, w.key, w.value].map((part) => linear(x, part).dataSync() as Float32Array);
    const mixed = causalAttention(q, k, v, { batch, tokens, heads: nHead, dim: headDim });
    return linear(tf.tensor3d(mixed, [batch, tokens, width]), w.attnProj);
  }
  const { q, k, v, project } = attentionHeads(x, w, nHead);
  const scores = tf.matMul(q, k, false, true).div(Math.sqrt(headDim)).add(causalMask(tokens));
  return project(tf.matMul(tf.softmax(scores), v));
}

/** x's queries, keys and values per head [batch, heads, tokens, headDim], and the heads' mix back through c_proj. */
function attentionHeads(x: tf.Tensor3D, w: BlockWeights, nHead: number) {
  const [batch, tokens, width] = x.shape;
  const toHeads = (t: tf.Tensor) => t.reshape([batch, tokens, nHead, width / nHead]).transpose([0, 2, 1, 3]);
  const [q, k, v] = [w.query, w.key, w.value].map((part) => toHeads(linear(x, part)));
  const project = (mixed: tf.Tensor) => linear(mixed.transpose([0, 2, 1, 3]).reshape([batch, tokens, width]) as tf.Tensor3D, w.attnProj);
  return { q, k, v, project };
}

/** The values of `x`, with no gradient through them. */
const fixed = tf.customGrad((...inputs) => ({ value: (inputs[0] as tf.Tensor).clone(), gradFunc: (dy) => tf.zerosLike(dy as tf.Tensor) })) as (x: tf.Tensor) => tf.Tensor;

/**
 * selfAttention's values, with its gradient reaching each query's own key and value only: other positions' keys and
 * values count as constants. A causal model's logit at t reaches the activations at t by paths that stay at t (a
 * path to a later position never comes back), so through these blocks the gradient of the logits summed over
 * positions is, at t, the gradient of t's logit alone: one pass gives every position's own gradient. The diagonal
 * terms added back are zero in value (x - fixed(x)) and carry the own key's and value's gradient.
 */
function ownPositionAttention(x: tf.Tensor3D, w: BlockWeights, nHead: number): tf.Tensor3D {
  const [, tokens, width] = x.shape;
  const { q, k, v, project } = attentionHeads(x, w, nHead);
  const [kFixed, vFixed] = [fixed(k), fixed(v)];
  const diagonal = tf.eye(tokens);
  const ownScore = tf.sum(tf.mul(fixed(q), tf.sub(k, kFixed)), -1, true);
  const scores = tf.matMul(q, kFixed, false, true).add(tf.mul(ownScore, diagonal)).div(Math.sqrt(width / nHead)).add(causalMask(tokens));
  const weights = tf.softmax(scores);
  const ownWeight = tf.sum(tf.mul(weights, diagonal), -1, true);
  return project(tf.matMul(weights, vFixed).add(tf.mul(ownWeight, tf.sub(v, vFixed))));
}

/**
 * [tokens, past + tokens]: 0 where a query may attend (the `past` cached keys, and new keys up to its own position),
 * MASKED_SCORE after.
 */
function causalMask(tokens: number, past = 0): tf.Tensor2D {
  const width = past + tokens;
  const mask = new Float32Array(tokens * width);
  for (let query = 0; query < tokens; query++) mask.fill(MASKED_SCORE, query * width + past + query + 1, (query + 1) * width);
  return tf.tensor2d(mask, [tokens, width]);
}

/** Logits of [batch, tokens, nEmbd] through the unembedding's columns [nEmbd, vocab]. */
function unembed(x: tf.Tensor3D, columns: tf.Tensor2D): tf.Tensor3D {
  const [batch, tokens, width] = x.shape;
  return tf.matMul(x.reshape([batch * tokens, width]), columns).reshape([batch, tokens, columns.shape[1]]);
}

/** Validates a batch of token sequences and packs it as int32 [batch, tokens]. */
function tokenBatch(tokenIds: Int32Array[], config: Gpt2Config): tf.Tensor2D {
  if (tokenIds.length === 0) throw new Gpt2InputError('The batch has no sequences.');
  const tokens = tokenIds[0].length;
  if (tokens === 0) throw new Gpt2InputError('The sequences are empty.');
  if (tokens > config.nPositions) {
    throw new Gpt2InputError(`A sequence of ${tokens} tokens is longer than this GPT-2's context of ${config.nPositions}.`);
  }
  const packed = new Int32Array(tokenIds.length * tokens);
  tokenIds.forEach((sequence, s) => {
    if (sequence.length !== tokens) {
      throw new Gpt2InputError(`Sequences in a batch must have equal lengths: sequence ${s} has ${sequence.length} tokens, sequence 0 has ${tokens}.`);
    }
    const outside = sequence.findIndex((id) => id < 0 || id >= config.vocabSize);
    if (outside >= 0) {
      throw new Gpt2InputError(`Token id ${sequence[outside]} (sequence ${s}, position ${outside}) is outside the vocabulary of ${config.vocabSize}.`);
    }
    packed.set(sequence, s * tokens);
  });
  return tf.tensor2d(packed, [tokenIds.length, tokens], 'int32');
}

/** The checkpoint's tensors by name without `transformer.`, mask buffers left out. */
function withoutPrefix(tensors: ReadonlyMap<string, HostTensor>): Map<string, HostTensor> {
  const named = new Map<string, HostTensor>();
  for (const [name, tensor] of tensors) {
    if (isGpt2MaskBuffer(name)) continue;
    const bare = name.startsWith(PREFIX) ? name.slice(PREFIX.length) : name;
    if (named.has(bare)) throw new Gpt2WeightsError(`The checkpoint holds ${bare} twice, with and without "${PREFIX}".`);
    named.set(bare, tensor);
  }
  return named;
}

function checkCheckpoint(config: Gpt2Config, named: Map<string, HostTensor>): void {
  const wte = named.get('wte.weight');
  if (wte && wte.shape.length === 2 && wte.shape[1] === config.nEmbd && wte.shape[0] !== config.vocabSize) {
    throw new Gpt2WeightsError(`The token embedding wte has a vocabulary of ${wte.shape[0]} tokens, but config.json says vocab_size ${config.vocabSize}.`);
  }
  const expected = gpt2WeightShapes(config);
  expected.set(LM_HEAD, [config.vocabSize, config.nEmbd]);
  for (const [name, shape] of expected) {
    const tensor = named.get(name);
    if (!tensor) {
      if (name === LM_HEAD) continue;
      throw new Gpt2WeightsError(`The checkpoint has no tensor ${name} (looked for "${name}" and "${PREFIX}${name}").`);
    }
    checkShape(name, tensor, shape);
  }
  const unexpected = [...named.keys()].filter((name) => !expected.has(name));
  if (unexpected.length > 0) {
    const listed = unexpected.slice(0, 5).join(', ') + (unexpected.length > 5 ? `, and ${unexpected.length - 5} more` : '');
    throw new Gpt2WeightsError(`The checkpoint has tensors that are not part of a ${config.nLayer}-layer GPT-2: ${listed}.`);
  }
}

function checkShape(name: string, tensor: HostTensor, expected: number[]): void {
  const got = tensor.shape;
  if (got.length !== expected.length || got.some((d, i) => d !== expected[i])) {
    const transposed = got.length === 2 && got[0] === expected[1] && got[1] === expected[0];
    const hint = transposed ? ' (transposed? GPT-2 stores Conv1D weights as [in, out], nn.Linear as [out, in])' : '';
    throw new Gpt2WeightsError(`Tensor ${name} has the wrong shape: expected [${expected.join(', ')}], got [${got.join(', ')}]${hint}.`);
  }
  if (tensor.data.length !== product(got)) {
    throw new Gpt2WeightsError(`Tensor ${name} has ${tensor.data.length} values but its shape [${got.join(', ')}] needs ${product(got)}.`);
  }
}

/** Uploads the checked tensors to the backend; on failure frees what was uploaded. */
function uploadWeights(config: Gpt2Config, named: Map<string, HostTensor>): Gpt2Weights {
  const uploaded: tf.Tensor[] = [];
  const upload = <T extends tf.Tensor>(tensor: T): T => {
    uploaded.push(tensor);
    return tensor;
  };
  const vector = (name: string) => upload(tf.tensor1d(named.get(name)!.data));
  const matrix = (name: string) => {
    const { data, shape } = named.get(name)!;
    return upload(tf.tensor2d(data, shape as [number, number]));
  };
  const layerNormAt = (prefix: string): LayerNormWeights => ({ gamma: vector(`${prefix}.weight`), beta: vector(`${prefix}.bias`) });
  const linearAt = (prefix: string): LinearWeights => ({ kernel: matrix(`${prefix}.weight`), bias: vector(`${prefix}.bias`) });
  /** Part `part` of 3 of c_attn ([nEmbd, 3 nEmbd], query | key | value by column), as its own kernel and bias. */
  const attentionPart = (prefix: string, part: number): LinearWeights => {
    const { data: kernel, shape } = named.get(`${prefix}.weight`)!;
    const [rows, width] = [shape[0], shape[1] / 3];
    const columns = new Float32Array(rows * width);
    for (let r = 0; r < rows; r++) columns.set(kernel.subarray(r * 3 * width + part * width, r * 3 * width + (part + 1) * width), r * width);
    const bias = named.get(`${prefix}.bias`)!.data.subarray(part * width, (part + 1) * width);
    return { kernel: upload(tf.tensor2d(columns, [rows, width])), bias: upload(tf.tensor1d(bias)) };
  };
  try {
    const wte = matrix('wte.weight');
    const blocks = Array.from({ length: config.nLayer }, (_, i): BlockWeights => ({
      ln1: layerNormAt(`h.${i}.ln_1`),
      query: attentionPart(`h.${i}.attn.c_attn`, 0),
      key: attentionPart(`h.${i}.attn.c_attn`, 1),
      value: attentionPart(`h.${i}.attn.c_attn`, 2),
      attnProj: linearAt(`h.${i}.attn.c_proj`),
      ln2: layerNormAt(`h.${i}.ln_2`),
      fc: linearAt(`h.${i}.mlp.c_fc`),
      mlpProj: linearAt(`h.${i}.mlp.c_proj`),
    }));
    return {
      wte,
      wpe: matrix('wpe.weight'),
      blocks,
      lnF: layerNormAt('ln_f'),
      unembedding: named.has(LM_HEAD) ? matrix(LM_HEAD) : wte,
    };
  } catch (e) {
    tf.dispose(uploaded);
    throw e;
  }
}

function product(shape: number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** The width of one of the model's recordable layers, or an error that names the layers there are. */
export function layerWidth(model: Gpt2Model, layer: string): number {
  const width = model.layers.find((l) => l.name === layer)?.width;
  if (width === undefined) throw new Gpt2InputError(`${layer} is not a layer of this GPT-2; layers are h.I.attn, h.I.mlp.act and h.I.`);
  return width;
}
