import * as tf from '@tensorflow/tfjs';
import { isAbortError } from '../../lib/abort';
import { createPacer, nextTask, type PacedOptions } from '../../lib/yieldToPage';
import { versusRandom, type VersusRandom } from '../../compute/directions/stats';
import { steeringVectors, type SteeringControls } from '../intervention';
import { readTidy, readTidyAll } from '../readTensors';
import { generate, type GenerateOptions, type Generation, type StopReason } from './generate';
import { Gpt2InputError, intervene, layerWidth, type Gpt2Model, type Intervention } from './gpt2';
import { lengthBatches } from './recordText';
import { decode, encode, tokenTexts } from './tokenizer';

export type { SteeringControls } from '../intervention';

/** A token whose next-token probability an intervention moved, by its mean change over the held-out positions. */
export interface TokenShift {
  id: number;
  text: string;
  /** Mean change in probability (steered − clean) over every position of the held-out contexts. */
  change: number;
}

/** How an intervention moves the next-token distribution over held-out contexts (measured, not estimated). */
export interface ProbabilityShift {
  contexts: number;
  positions: number;
  /** Mean over positions of KL(clean ‖ intervened), nats. */
  klMean: number;
  promoted: TokenShift[];
  suppressed: TokenShift[];
}

/**
 * The root mean square of the activations' component along the unit `direction` at `layer`, over every token of
 * `windows` but the first (<|endoftext|>): the unit a steering strength α is counted in, so that α means the same on
 * every layer and model.
 */
export function projectionScale(model: Gpt2Model, layer: string, direction: Float32Array, windows: readonly Int32Array[]): number {
  return projectionScales(model, layer, [direction], windows)[0];
}

/** projectionScale of each of `directions` (unit, the layer's width), from one forward per window for them all. */
export function projectionScales(model: Gpt2Model, layer: string, directions: readonly Float32Array[], windows: readonly Int32Array[]): number[] {
  const width = layerWidth(model, layer);
  const k = directions.length;
  const stacked = new Float32Array(width * k);
  directions.forEach((v, j) => v.forEach((x, i) => (stacked[i * k + j] = x)));
  const sums = new Float64Array(k);
  let count = 0;
  for (const ids of windows) {
    if (ids.length < 2) continue;
    // [tokens - 1, k]: every token's component along every direction, but token 0's (<|endoftext|>).
    const along = readTidy(() => tf.matMul(model.record([ids], layer).reshape([ids.length, width]).slice([1, 0], [-1, -1]), tf.tensor2d(stacked, [width, k])));
    for (let p = 0; p < along.length; p++) sums[p % k] += along[p] * along[p];
    count += ids.length - 1;
  }
  if (count === 0) throw new Error('No contexts of two tokens or more to measure the layer\'s scale along the direction on: give longer texts.');
  return Array.from(sums, (s) => Math.sqrt(s / count));
}

/** The change `intervention` makes to the next-token distribution at every position of `windows`: KL, and the tokens most promoted and suppressed. */
export function probabilityShift(model: Gpt2Model, windows: Int32Array[], intervention: Intervention, shown = 10): ProbabilityShift {
  const vocab = model.config.vocabSize;
  const change = new Float64Array(vocab);
  let kl = 0;
  let positions = 0;
  for (const ids of windows) {
    const [clean, changed] = readTidyAll(() => [tf.softmax(model.logits([ids]).reshape([ids.length, vocab])), tf.softmax(model.logits([ids], intervention).reshape([ids.length, vocab]))]);
    for (let t = 0; t < ids.length; t++) {
      const at = t * vocab;
      for (let i = 0; i < vocab; i++) {
        const [p, q] = [clean[at + i], changed[at + i]];
        change[i] += q - p;
        if (p > 0) kl += p * Math.log(p / Math.max(q, 1e-30));
      }
    }
    positions += ids.length;
  }
  const order = Array.from(change.keys()).sort((a, b) => change[b] - change[a] || a - b);
  const shift = (list: number[]): TokenShift[] => {
    const texts = tokenTexts(list);
    return list.map((id, k) => ({ id, text: texts[k], change: change[id] / positions }));
  };
  return {
    contexts: windows.length,
    positions,
    klMean: kl / positions,
    promoted: shift(order.slice(0, shown)),
    suppressed: shift(order.slice(-shown).reverse()),
  };
}

/** The two continuations of a steering run. */
export type SteerSide = 'unsteered' | 'steered';

/** One steering run as the page and `npm run steer` ask for it: a unit direction at a layer, α, a prompt and how to decode. */
export interface SteerRequest {
  layer: string;
  /** Unit length, the layer's width. */
  direction: Float32Array;
  /** In units of the layer's typical activation along the direction (projectionScale over `scaleWindows`). */
  alpha: number;
  promptIds: Int32Array;
  decoding: Pick<GenerateOptions, 'maxTokens' | 'temperature' | 'topK' | 'seed'>;
}

/** A generated continuation as reports show it. */
export interface Continuation {
  ids: number[];
  text: string;
  stop: StopReason;
}

export const continuation = (g: Generation): Continuation => ({ ids: g.ids, text: decode(g.ids), stop: g.stop });

/** The prompt continued without and with the steering vector (same seed), and the vector's effect on held-out contexts. */
export interface Steered {
  /** The unit α is counted in. */
  scale: number;
  unsteered: Generation;
  steered: Generation;
  heldOut: ProbabilityShift;
}

/**
 * Generates the unsteered and the steered continuation of the prompt side by side (they take turns a token at a
 * time, each with its own cache and the same seed), then measures the steering's change of the next-token
 * distribution over `heldOutWindows`. `onToken` streams each continuation's tokens as they come; `signal` stops it.
 */
export async function steerGeneration(
  model: Gpt2Model,
  request: SteerRequest,
  windows: { scale: readonly Int32Array[]; heldOut: Int32Array[] },
  options: { signal?: AbortSignal; onToken?: (side: SteerSide, id: number) => void } = {},
): Promise<Steered> {
  if (!Number.isFinite(request.alpha)) throw new Gpt2InputError(`α must be a number; got ${request.alpha}.`);
  if (request.promptIds.length === 0) throw new Gpt2InputError('The prompt has no tokens.');
  const width = layerWidth(model, request.layer);
  if (request.direction.length !== width) throw new Gpt2InputError(`A direction in ${request.layer} has ${width} components; got ${request.direction.length}.`);
  const scale = projectionScale(model, request.layer, request.direction, windows.scale);
  if (!(scale > 0)) throw new Gpt2InputError(`${request.layer}'s activations have no component along this direction over the contexts (a dead neuron?): α has no unit, and steering would change nothing.`);
  const intervention: Intervention = { kind: 'add', layer: request.layer, vector: request.direction.map((x) => request.alpha * scale * x) };
  // One stop for both: the caller's cancel, or either continuation failing, stops the other too.
  const stop = new AbortController();
  const cancel = () => stop.abort();
  options.signal?.addEventListener('abort', cancel);
  if (options.signal?.aborted) stop.abort();
  const run = (side: SteerSide) =>
    generate(model, request.promptIds, {
      ...request.decoding,
      intervention: side === 'steered' ? intervention : null,
      signal: stop.signal,
      onToken: (id) => options.onToken?.(side, id),
    }).catch((e: unknown) => {
      stop.abort();
      throw e;
    });
  // Both settle before this returns or throws: neither outlives the call. A failure outranks the stop it caused.
  const settled = await Promise.allSettled([run('unsteered'), run('steered')]).finally(() => options.signal?.removeEventListener('abort', cancel));
  const failures = settled.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (failures.length) throw failures.find((e) => !isAbortError(e)) ?? failures[0];
  const [unsteered, steered] = settled.map((r) => (r as PromiseFulfilledResult<Generation>).value);
  return { scale, unsteered, steered, heldOut: probabilityShift(model, windows.heldOut, intervention) };
}

/** The token ids of `words` as they appear inside a sentence (with a leading space); each must be one token. */
export function watchedTokens(words: readonly string[]): number[] {
  const wanted = words.map((w) => w.trim()).filter((w) => w !== '');
  if (wanted.length === 0) throw new Gpt2InputError('No words to watch: give at least one.');
  return wanted.map((word) => {
    const ids = encode(` ${word}`);
    if (ids.length !== 1) throw new Gpt2InputError(`"${word}" is ${ids.length} GPT-2 tokens (as " ${word}" inside a sentence): watch comma-separated words of one token each.`);
    return ids[0];
  });
}

/**
 * The mean over every position of `windows` of the total next-token probability of the `watched` ids: clean, and with
 * each of `vectors` added to `layer` at every position (each batch shares one forward up to the layer). Paced:
 * it yields between batches and stops at `signal`.
 */
export async function watchedProbability(
  model: Gpt2Model,
  layer: string,
  windows: readonly Int32Array[],
  vectors: readonly Float32Array[],
  watched: readonly number[],
  options: PacedOptions = {},
): Promise<{ positions: number; clean: number; steered: number[] }> {
  const vocab = model.config.vocabSize;
  const bad = watched.find((id) => !Number.isInteger(id) || id < 0 || id >= vocab);
  if (bad !== undefined) throw new Gpt2InputError(`Token id ${bad} is outside the vocabulary of ${vocab}.`);
  if (watched.length === 0) throw new Gpt2InputError('No tokens to watch.');
  const sums = new Float64Array(1 + vectors.length);
  const pacer = createPacer(options.signal, 50, 'Steering test cancelled', nextTask);
  let positions = 0;
  let done = 0;
  for (const batch of lengthBatches(windows, 4)) {
    const ids = batch.map((w) => windows[w]);
    const totals = tf.tidy(() => {
      const { activation, logitsFrom } = model.splitAt(ids, layer);
      const columns = tf.tensor1d(Int32Array.from(watched), 'int32');
      // One softmax at a time: only one set of logits [batch, tokens, vocab] is alive at once.
      const total = (value: tf.Tensor3D) => tf.tidy(() => tf.gather(tf.softmax(logitsFrom(value)), columns, 2).sum());
      const steered = vectors.map((vector) => total(intervene(activation, { kind: 'add', layer, vector })));
      return tf.stack([total(activation), ...steered]);
    });
    let values: Float32Array;
    try {
      values = (await totals.data()) as Float32Array;
    } finally {
      totals.dispose();
    }
    for (let k = 0; k < sums.length; k++) sums[k] += values[k];
    positions += ids.length * ids[0].length;
    done += ids.length;
    options.onProgress?.(done, windows.length);
    if (pacer.due()) await pacer.pause();
    else pacer.check();
  }
  if (positions === 0) throw new Gpt2InputError('No held-out contexts to measure on.');
  const [clean, ...steered] = Array.from(sums, (s) => s / positions);
  return { positions, clean, steered };
}

export interface SteeringTestOptions extends PacedOptions {
  /** Random directions; at least 2. Default 20. */
  random?: number;
  seed?: number;
  controls?: SteeringControls;
  /** The texts each direction's scale (projectionScale) is measured on. */
  scaleWindows: readonly Int32Array[];
}

/** Steering along a direction against steering along random directions: the rise in the watched tokens' probability. */
export interface SteeringTest {
  /** The watched tokens. */
  tokens: { id: number; text: string }[];
  positions: number;
  alpha: number;
  controls: SteeringControls;
  /** Norm of the direction's added vector (|α| x its scale), and of each random direction's. */
  norm: number;
  randomNorms: number[];
  /** Mean total probability of the watched tokens, clean and steered along the direction. */
  clean: number;
  steered: number;
  random: number;
  seed: number;
  /** The direction's rise in probability (steered − clean) against the random directions' rises. */
  rise: VersusRandom;
}

/**
 * Adds α·scale(v)·v, and the same for `random` seeded random unit directions r (sized as `controls` says), at
 * `layer`, and tests whether v raises the watched tokens' probability over `windows` more than the random directions do.
 */
export async function steeringTest(model: Gpt2Model, layer: string, windows: readonly Int32Array[], direction: Float32Array, alpha: number, watched: readonly number[], options: SteeringTestOptions): Promise<SteeringTest> {
  const random = options.random ?? 20;
  const seed = options.seed ?? 0;
  const controls = options.controls ?? 'alpha';
  if (!Number.isInteger(random) || random < 2) throw new Gpt2InputError(`The controls need a spread: at least 2 random directions, not ${random}.`);
  const sized = steeringVectors(direction, alpha, random, seed, controls, (units) => projectionScales(model, layer, units, options.scaleWindows));
  const { positions, clean, steered } = await watchedProbability(model, layer, windows, sized.vectors, watched, options);
  const texts = tokenTexts(Array.from(watched));
  return {
    tokens: watched.map((id, k) => ({ id, text: texts[k] })),
    positions,
    alpha,
    controls,
    norm: sized.norm,
    randomNorms: sized.randomNorms,
    clean,
    steered: steered[0],
    random,
    seed,
    rise: versusRandom(steered[0] - clean, steered.slice(1).map((p) => p - clean)),
  };
}
