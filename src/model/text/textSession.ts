import * as tf from '@tensorflow/tfjs';
import type { AtlasParams, AtlasRequest } from '../../compute/atlas';
import { recordNeuronInputs } from '../directions/neuronInputs';
import { defaultThreshold } from '../directions/polysemanticity';
import { nextTokenGradients } from '../directions/textGradients';
import { NO_RECORDING, type AblatePromptRequest, type SteerPromptRequest, type SteerPromptResult, type SteerToken, type DirectionOutputs, type GradientTarget, type InputSet, type ModelSession, type SessionDeps, type SessionNeuronInputs, type StepOptions, type TextSource, type TokenCapability } from '../session';
import { documentsFromFiles, paragraphs, windows, type TextFile } from './documents';
import { recordTextActivations, recordTextAtlas } from './recordText';
import { continuation, steerGeneration, steeringTest, watchedTokens } from './steering';
import { saeLossRecovered, type SaeLossRecovered, type SaeLossRecoveredOptions } from '../sae/lossRecovered';
import type { Sae } from '../sae/sae';
import type { PacedOptions } from '../../lib/yieldToPage';
import { ablationTest, type AblationTest } from './ablation';
import type { TextModel } from './textModel';
import { encode, tokenTexts } from './tokenizer';

/** Tokens per context of the recording that steering and ablation measure their effects on. */
const INTERVENTION_CONTEXT_TOKENS = 64;

/** Contexts for the scale, and as many held out, at most. */
const STEER_CONTEXTS = 8;

/** The first `count` pieces of INTERVENTION_CONTEXT_TOKENS of the windows (each of at least two tokens), in order. */
function contextsOf(tokenIds: Int32Array[], count: number): Int32Array[] {
  const pieces: Int32Array[] = [];
  for (const ids of tokenIds) {
    for (let at = 0; at + 1 < ids.length && pieces.length < count; at += INTERVENTION_CONTEXT_TOKENS) pieces.push(ids.subarray(at, at + INTERVENTION_CONTEXT_TOKENS));
    if (pieces.length >= count) break;
  }
  return pieces;
}

/** Most float32 values a text layer's neuron recording may hold (64 Mi: 256 MB). */
const MAX_NEURON_VALUES = 64 * 2 ** 20;

const textFilesOf = (texts: TextSource[]): TextFile[] =>
  texts.map((t) => ({ path: /\.(txt|jsonl)$/i.test(t.name) ? t.name : `${t.name}.txt`, bytes: new TextEncoder().encode(t.text) }));

/** A GPT-2's side of the seam: texts in, token windows as previews, next-token gradients, token-level reading. */
export class TextSession implements ModelSession, TokenCapability {
  readonly modality = 'text';
  readonly defaultThreshold = defaultThreshold('text');
  readonly tokens: TokenCapability = this;
  readonly classes = null;
  /** The last recording's windows, as token ids (`<|endoftext|>` first). */
  private tokenIds: Int32Array[] | null = null;

  constructor(
    readonly model: TextModel,
    private readonly deps: SessionDeps,
    /** What the load could not do but went on without (the hub model cache). */
    private readonly notices: string[] = [],
  ) {}

  describe(fingerprint: string) {
    return { ...this.model.info, modality: 'text' as const, layers: this.model.layers, defaultLayer: this.model.defaultLayer, fingerprint, notices: this.notices };
  }

  async fingerprint(): Promise<string> {
    return `${this.model.info.name}:${this.model.info.nLayer}x${this.model.info.nEmbd}`;
  }

  get hasRecording(): boolean {
    return this.tokenIds !== null;
  }

  layerShape(layer: string): number[] {
    return this.model.layer(layer).shape;
  }

  private async documentsOf(inputs: InputSet, none: string) {
    if (inputs.kind === 'images') throw new Error('This is a text model: give it text, not images.');
    const read = documentsFromFiles(inputs.kind === 'sample' ? await this.deps.loadTextSample() : textFilesOf(inputs.texts));
    if (read.documents.length === 0) throw new Error(`${none}${read.errors[0] ? ` (${read.errors[0].name}: ${read.errors[0].reason})` : ''}.`);
    return read;
  }

  async record(inputs: InputSet, request: AtlasRequest, options: StepOptions) {
    const read = await this.documentsOf(inputs, 'No text to record');
    const recorded = await recordTextAtlas(this.model, read.documents, request, options);
    this.tokenIds = recorded.previews.tokenIds.map((ids) => Int32Array.from(ids));
    const amount = { count: this.tokenIds.reduce((n, ids) => n + ids.length, 0), unit: 'tokens' as const };
    return { ...recorded, errors: [...read.errors, ...recorded.errors], amount, visualisable: null };
  }

  async conceptActivations(inputs: InputSet, layer: string, params: Pick<AtlasParams, 'samplesPerInput' | 'seed'>, options: StepOptions) {
    if (inputs.kind !== 'text') throw new Error('This is a text model: a concept needs text examples.');
    const read = await this.documentsOf(inputs, 'No text in the concept\'s files');
    const recorded = await recordTextActivations(this.model, read.documents, { layer, samplesPerInput: params.samplesPerInput, seed: params.seed, ...options });
    return { ...recorded, errors: [...read.errors, ...recorded.errors] };
  }

  async gradients(request: { layer: string; target: GradientTarget; input: number[]; position: number[] }, options: StepOptions & { pause(): Promise<void> }) {
    const tokenIds = this.requireRecording();
    const { layer, input, position, target } = request;
    if (target.kind !== 'token') throw new Error('A language model has no classes: name a next token.');
    if (position.some((p) => p < 0)) {
      throw new Error('A pooled text atlas has no token positions to take gradients at: record tokens (samples per input: every token, or k).');
    }
    const ids = encode(target.text);
    if (ids.length !== 1) {
      throw new Error(`"${target.text}" is ${ids.length} tokens (${tokenTexts(ids).map((t) => JSON.stringify(t)).join(' ')}); name one token, with its leading space if it has one.`);
    }
    const dim = this.model.layer(layer).shape.at(-1)!;
    // The model is causal: the logit and the activation at t only see tokens up to t, so an input's window ends at
    // its last position asked for; its rows share that window, and with it one pass.
    const ends = new Map<number, number>();
    input.forEach((i, k) => ends.set(i, Math.max(ends.get(i) ?? 0, position[k] + 1)));
    const windowOf = new Map([...ends].map(([i, end]) => [i, tokenIds[i].subarray(0, end)]));
    // Rows in input order, so that a chunk holds few windows.
    const order = input.map((_, k) => k).sort((a, b) => input[a] - input[b] || a - b);
    const gradients = new Float32Array(input.length * dim);
    const chunk = 64;
    for (let start = 0; start < order.length; start += chunk) {
      await options.pause();
      const rows = order.slice(start, start + chunk);
      const values = await nextTokenGradients(this.model, layer, rows.map((k) => windowOf.get(input[k])!), rows.map((k) => position[k]), ids[0]);
      rows.forEach((k, j) => gradients.set(values.subarray(j * dim, (j + 1) * dim), k * dim));
      options.onProgress({ stage: 'gradients', done: start + rows.length, total: order.length });
    }
    return { gradients, dim, tokenId: ids[0], target: tokenTexts(ids)[0] };
  }

  async neuronInputs(layer: string, options: StepOptions): Promise<SessionNeuronInputs> {
    const tokenIds = this.requireRecording();
    const { nEmbd, nInner } = this.model.gpt2.config;
    // What is recorded stays in memory (N x (nInner + nEmbd) floats): the first tokens up to a budget.
    const maxTokens = Math.floor(MAX_NEURON_VALUES / (nInner + nEmbd));
    const recorded = await recordNeuronInputs(this.model, tokenIds, layer, { ...options, maxTokens });
    const notices = recorded.count < recorded.available ? [`Measured the first ${recorded.count.toLocaleString('en')} of ${recorded.available.toLocaleString('en')} tokens (a memory budget).`] : [];
    return { recorded, inputOf: (w) => w, notices };
  }

  /** Each token's activation along `direction` (its projection on the unit direction), one document at a time. */
  async tokenActivations(layer: string, direction: Float32Array, documents: number[][]): Promise<Float32Array[]> {
    const norm = Math.hypot(...direction) || 1;
    const out: Float32Array[] = [];
    for (const ids of documents) {
      const acts = this.model.record([Int32Array.from(ids)], layer);
      try {
        const projected = tf.tidy(() => tf.matMul(acts.reshape([ids.length, direction.length]), tf.tensor2d(direction, [direction.length, 1])).div(norm));
        out.push((await projected.data()) as Float32Array);
        projected.dispose();
      } finally {
        acts.dispose();
      }
    }
    return out;
  }

  directionOutputs(layer: string, direction: Float32Array, k: number): DirectionOutputs {
    const logits = this.model.gpt2.directionLogits(layer, direction);
    const order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a]);
    const pick = (ids: number[]) => {
      const texts = tokenTexts(ids);
      return ids.map((id, n) => ({ id, text: texts[n], logit: logits[id] }));
    };
    return { promoted: pick(order.slice(0, k)), suppressed: pick(order.slice(-k).reverse()) };
  }

  /** What the logits read as `words` at `layer`, centred on the contexts steering measures its scale on. */
  wordsDirection(layer: string, words: string[]): Float32Array {
    return this.model.gpt2.wordsDirection(this.model.layer(layer).name, watchedTokens(words), this.steeringContexts().scale);
  }

  /**
   * Steers a continuation of the prompt along `direction` at the layer. The recording's contexts alternate between
   * those the scale is measured on and those held out (at most STEER_CONTEXTS each); a recording of one context uses
   * it for both.
   */
  async steer(request: SteerPromptRequest, options: PacedOptions & { onToken?: (token: SteerToken) => void }): Promise<SteerPromptResult> {
    const layer = this.model.layer(request.layer).name;
    const promptIds = encode(request.prompt);
    if (promptIds.length === 0) throw new Error('The prompt is empty: type some text to continue.');
    // Checked before anything runs, so that a word of several tokens is refused at once.
    const watched = request.watch?.length ? watchedTokens(request.watch) : null;
    const { scale, heldOut } = this.steeringContexts();
    const decoding = { maxTokens: request.maxTokens, temperature: request.temperature, topK: request.topK, seed: request.seed };
    const steered = await steerGeneration(
      this.model.gpt2,
      { layer, direction: request.direction, alpha: request.alpha, promptIds, decoding },
      { scale, heldOut },
      { signal: options.signal, onToken: (side, id) => options.onToken?.({ side, text: tokenTexts([id])[0] }) },
    );
    const significance = watched
      ? await steeringTest(this.model.gpt2, layer, heldOut, request.direction, request.alpha, watched, { random: request.random, seed: request.seed, scaleWindows: scale, signal: options.signal, onProgress: options.onProgress })
      : undefined;
    return {
      promptIds: Array.from(promptIds),
      scale: steered.scale,
      unsteered: continuation(steered.unsteered),
      steered: continuation(steered.steered),
      heldOut: steered.heldOut,
      scaleContexts: scale.length,
      ...(significance ? { significance } : {}),
    };
  }

  /** The ablation of a unit or direction at the layer over the first `contexts` contexts of the recording, against random ablations. */
  async ablate(request: AblatePromptRequest, options: PacedOptions): Promise<AblationTest> {
    const layer = this.model.layer(request.layer).name;
    const windows = request.texts ? this.textContexts(request.texts, request.contexts) : this.contexts(request.contexts);
    const only = request.watch?.length ? watchedTokens(request.watch) : undefined;
    return ablationTest(this.model.gpt2, layer, windows, request.target, request.mode, { random: request.random, seed: request.seed, only, ...options });
  }

  async saeLossRecovered(sae: Sae, layer: string, contexts: number, options: SaeLossRecoveredOptions): Promise<SaeLossRecovered> {
    if (!(Number.isInteger(contexts) && contexts >= 1)) throw new Error(`Contexts must be a whole number of at least 1; got ${contexts}.`);
    return saeLossRecovered(this.model.gpt2, sae, this.model.layer(layer).name, this.contexts(contexts), options);
  }

  /**
   * The contexts steering measures its scale on (every other one of the first 2 x STEER_CONTEXTS) and those it holds
   * out (the rest); a recording of one context uses it for both.
   */
  private steeringContexts(): { scale: Int32Array[]; heldOut: Int32Array[] } {
    const contexts = this.contexts(2 * STEER_CONTEXTS);
    const scale = contexts.filter((_, k) => k % 2 === 0);
    return { scale, heldOut: contexts.length > 1 ? contexts.filter((_, k) => k % 2 === 1) : scale };
  }

  /** The first `count` (default: all) contexts of the recording's texts, in order. */
  private contexts(count = Infinity): Int32Array[] {
    return contextsOf(this.requireRecording(), count);
  }

  /** The first `count` contexts of a text the user gave, a document per paragraph, read in windows as a recording reads them. */
  private textContexts(text: string, count: number): Int32Array[] {
    const pieces = contextsOf(paragraphs(text).flatMap((doc) => windows(encode(doc), this.model.contextLength)), count);
    if (pieces.length === 0) throw new Error('The texts to measure the loss on are empty.');
    return pieces;
  }

  private requireRecording(): Int32Array[] {
    if (!this.tokenIds) throw new Error(NO_RECORDING);
    return this.tokenIds;
  }

  dispose(): void {
    this.model.dispose();
  }
}
