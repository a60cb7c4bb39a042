/**
 * Sparse autoencoder training on recorded activations (N x dIn, row-major), with the current TF.js backend.
 *
 * TopK (Gao et al. 2024): decoder rows kept at unit norm (the gradient's component along each row removed before
 * the step, rows renormalised after), encoder started as the decoder's transpose, b_dec at the data's mean, Adam,
 * and the AuxK loss (the top kAux dead latents reconstruct the residual, coefficient 1/32).
 * ReLU (Anthropic, April 2024): ReLU latents with the penalty l1 * sum_i f_i * ||W_dec,i||, the decoder free, its
 * norms folded into the encoder at the end so that the saved decoder rows are unit directions too.
 *
 * The backward pass is written by hand with matMul and elementwise ops: the wasm backend lacks several gradient
 * kernels, tf.topk has none, and a hand-written step allocates only the batch's tensors, deterministically.
 * Training runs on the data scaled so that the centred rows have mean squared norm dIn: the default learning
 * rate and L1 coefficient then fit any layer's scale; the scale is undone on the weights at the end.
 */
import * as tf from '@tensorflow/tfjs';
import { range, shuffle } from '../../compute/directions/vectors';
import { createRng, gaussian } from '../../lib/rng';
import { createPacer, nextTask } from '../../lib/yieldToPage';
import { SAE_TENSORS, saeTensorShape, SaeInputError, type Sae, type SaeArchitecture, type SaeTensorName, type SaeWeights } from './sae';

export interface SaeTrainSettings {
  architecture: SaeArchitecture;
  /** Number of latents (dSae); 8x the input width unless set. */
  latents: number;
  /** Latents kept per row (topk). */
  k: number;
  /**
   * Weight of the decoder-norm-weighted L1 penalty (relu), on the scaled data; warmed up over the first 5% of steps.
   * A latent pays off when its feature's magnitude there exceeds it, so the right value depends on the data: 1 by
   * default (Anthropic's 5 left FVE near 0 on the planted test's data, whose features have magnitude ~4.6 there).
   */
  l1Coefficient: number;
  /**
   * Adam's step size; decays linearly to 0 over the last 20% of steps. By default 0.03 / sqrt(dIn): a step of lr on
   * every coordinate turns a unit decoder row by ~lr sqrt(dIn), so this keeps that turn near 0.03 at any width
   * (3.75e-3 at 64 dimensions, 1.1e-3 at 768).
   */
  learningRate: number;
  batchSize: number;
  epochs: number;
  seed: number;
  /** Dead latents that reconstruct the residual in the AuxK loss (topk; Gao et al.: half the input width). */
  auxK: number;
  /** Weight of the AuxK loss (Gao et al.: 1/32); 0 turns it off. */
  auxCoefficient: number;
  /** A latent is dead when it has not fired on any of the last this many training rows. */
  deadWindowRows: number;
  /** Rows between progress events. */
  reportEveryRows: number;
}

export interface SaeTrainOptions extends Partial<SaeTrainSettings> {
  /** The layer the activations come from, in this tool's names; kept in the SAE's config. */
  layer?: string | null;
  modelName?: string | null;
  signal?: AbortSignal;
  onProgress?: (progress: SaeTrainProgress) => void;
  /** Awaited between steps, every ~50 ms, with every tensor of the run its own: the model worker lends its turn there. */
  pause?: () => Promise<void>;
  /** Awaited at the end of each epoch with the SAE as it stands then (the last one is the SAE returned): to measure it live. */
  onEpoch?: (epoch: number, sae: Sae) => Promise<void>;
}

/** Figures over a span of training rows, each row measured with the weights of the step that trained on it. */
export interface SaeTrainMetrics {
  rows: number;
  /** Mean squared reconstruction error per element, in the input's units. */
  mse: number;
  /** Fraction of variance explained: 1 - sum ||x - x_hat||^2 / sum ||x - mean||^2 (mean over all rows). */
  fve: number;
  /** Mean number of active latents per row. */
  l0: number;
  /** Mean AuxK loss per row, in units of the scaled data (0 while no latent is dead). */
  auxLoss: number;
  /** Latents dead at the end of the span. */
  deadLatents: number;
}

export interface SaeTrainProgress extends SaeTrainMetrics {
  /** 0-based epoch the span ends in. */
  epoch: number;
  /** Steps done. */
  step: number;
  rowsSeen: number;
  totalRows: number;
}

export interface SaeTrainResult {
  sae: Sae;
  settings: SaeTrainSettings;
  /** Metrics over each epoch. */
  epochs: SaeTrainMetrics[];
  /** The factor the data was multiplied by for training (sqrt(dIn / mean ||x - mean||^2)). */
  inputScale: number;
}

const ADAM = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };
/** Fraction of steps at the end over which the learning rate decays to 0, and at the start over which L1 warms up. */
const LR_DECAY_FRACTION = 0.2;
const L1_WARMUP_FRACTION = 0.05;
/** Initial decoder row norm of a ReLU SAE (Anthropic's April 2024 update: 0.1 on data scaled as here). */
const RELU_INIT_NORM = 0.1;
/** Stands in for -infinity when masking live latents out of the AuxK top-k. */
const MASKED = 1e30;

/**
 * The settings a run uses: the options given, the rest defaulted for `width`-wide data of `count` rows.
 * The dead window: Gao et al. use 10M tokens at scale. An average latent fires once per latents/k rows; over 64
 * such intervals a latent firing 16x less often than average is still silent only with chance e^-4 (~2%), so live
 * latents are rarely flagged. The window is capped at one epoch: on small data a latent silent for a whole pass
 * fires on no row at all.
 */
export function resolveSaeSettings(width: number, count: number, options: Partial<SaeTrainSettings> = {}): SaeTrainSettings {
  const architecture = options.architecture ?? 'topk';
  const latents = options.latents ?? 8 * width;
  const k = options.k ?? Math.min(32, latents);
  const batchSize = options.batchSize ?? 256;
  const epochs = options.epochs ?? 5;
  const perLatentRows = architecture === 'topk' ? Math.ceil((64 * latents) / k) : count;
  const settings: SaeTrainSettings = {
    architecture,
    latents,
    k,
    l1Coefficient: options.l1Coefficient ?? 1,
    learningRate: options.learningRate ?? 0.03 / Math.sqrt(width),
    batchSize,
    epochs,
    seed: options.seed ?? 0,
    auxK: options.auxK ?? Math.max(1, Math.min(latents, Math.floor(width / 2))),
    auxCoefficient: options.auxCoefficient ?? 1 / 32,
    deadWindowRows: options.deadWindowRows ?? Math.max(Math.min(batchSize, count), Math.min(count, perLatentRows)),
    reportEveryRows: options.reportEveryRows ?? Math.max(batchSize, Math.ceil((count * epochs) / 200)),
  };
  const positive = (name: keyof SaeTrainSettings, integer: boolean) => {
    const value = settings[name] as number;
    if (!(Number.isFinite(value) && value > 0 && (!integer || Number.isInteger(value)))) {
      throw new SaeInputError(`SAE setting ${name} must be a positive ${integer ? 'integer' : 'number'}, not ${value}.`);
    }
  };
  if (architecture !== 'topk' && architecture !== 'relu') throw new SaeInputError(`SAE architecture must be topk or relu, not ${String(architecture)}.`);
  for (const name of ['latents', 'k', 'batchSize', 'epochs', 'auxK', 'deadWindowRows', 'reportEveryRows'] as const) positive(name, true);
  positive('learningRate', false);
  if (!Number.isInteger(settings.seed)) throw new SaeInputError(`SAE setting seed must be an integer, not ${settings.seed}.`);
  if (!(settings.l1Coefficient >= 0) || !(settings.auxCoefficient >= 0)) throw new SaeInputError('SAE settings l1Coefficient and auxCoefficient must be 0 or more.');
  if (architecture === 'topk' && k > latents) throw new SaeInputError(`SAE setting k (${k}) exceeds the number of latents (${latents}).`);
  return settings;
}

/** An SAE's tensors (or their gradients, or Adam's moments) on the backend. */
export type SaeParams = Record<SaeTensorName, tf.Tensor>;

/** What the loss of one batch depends on besides the weights. */
export interface SaeLossContext {
  architecture: SaeArchitecture;
  k: number;
  /** The L1 coefficient in effect (relu). */
  l1: number;
  /** 1 for dead latents, 0 for live ones; null when none is dead or AuxK is off. */
  dead: tf.Tensor1D | null;
  auxK: number;
  /** AuxK coefficient times min(dead / auxK, 1) (SAELens's scaling when few latents are dead). */
  auxScale: number;
}

interface StepContext extends SaeLossContext {
  learningRate: number;
  /** 1-based Adam step. */
  t: number;
}

interface StepResult {
  params: SaeParams;
  m: SaeParams;
  v: SaeParams;
  /** [dSae + 3]: per latent its firing count in the batch, then sum ||x - x_hat||^2, total L0, AuxK loss per row. */
  stats: tf.Tensor1D;
}

/**
 * The gradients of one batch's loss, by hand: mean over rows of ||x_hat - x||^2, plus relu's l1 * sum_i f_i ||W_dec,i||,
 * plus AuxK's scaled ||z_aux W_dec - (x - x_hat)||^2 with the residual held fixed. For topk, W_dec's gradient has
 * each row's own direction removed. Also the latents' gate (1 where a latent is active) and AuxK's (null without
 * it), and the step's figures. Call inside tf.tidy; exported for the test against autograd.
 */
export function saeGradients(p: SaeParams, x: tf.Tensor2D, c: SaeLossContext): { grads: SaeParams; gate: tf.Tensor; auxGate: tf.Tensor | null; stats: tf.Tensor1D } {
  const rows = x.shape[0];
  const [wEnc, wDec, bEnc, bDec] = [p.W_enc, p.W_dec, p.b_enc, p.b_dec] as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor1D];
  const xc = tf.sub(x, bDec);
  const pre = tf.add(tf.matMul(xc, wEnc), bEnc) as tf.Tensor2D;
  const positive = tf.step(pre);
  const gate = c.architecture === 'topk' ? tf.mul(positive, atLeast(pre, tf.min(tf.topk(pre, c.k).values, 1, true))) : positive;
  const f = tf.mul(pre, gate) as tf.Tensor2D;
  const xHat = tf.add(tf.matMul(f, wDec), bDec);
  const err = tf.sub(xHat, x) as tf.Tensor2D;
  const g = tf.mul(err, 2 / rows) as tf.Tensor2D;
  const wDecT = tf.transpose(wDec);
  let gWDec: tf.Tensor = tf.matMul(tf.transpose(f), g);
  let df: tf.Tensor = tf.matMul(g, wDecT);
  if (c.architecture === 'relu' && c.l1 > 0) {
    const norms = rowNorms(wDec, false);
    df = tf.add(df, tf.mul(norms, c.l1 / rows));
    const perLatent = tf.div(tf.mul(tf.sum(f, 0), c.l1 / rows), tf.maximum(norms, 1e-12));
    gWDec = tf.add(gWDec, tf.mul(wDec, tf.expandDims(perLatent, 1)));
  }
  let dPre = tf.mul(df, gate);
  let auxLoss: tf.Tensor = tf.scalar(0);
  let auxGate: tf.Tensor | null = null;
  if (c.dead) {
    // Gao et al.'s AuxK as their code computes it: the top kAux dead latents, ReLU'd, reconstruct the residual
    // (without b_dec). SAELens leaves out the ReLU; then a dead latent can learn the residual with its sign flipped
    // (negative pre-activation, negated decoder row) and still never fire.
    const masked = tf.sub(tf.mul(pre, c.dead), tf.mul(tf.sub(1, c.dead), MASKED));
    auxGate = tf.mul(tf.mul(atLeast(masked, tf.min(tf.topk(masked, c.auxK).values, 1, true)), c.dead), positive);
    const zAux = tf.mul(pre, auxGate) as tf.Tensor2D;
    const auxErr = tf.add(tf.matMul(zAux, wDec), err) as tf.Tensor2D; // z_aux W_dec - (x - x_hat)
    const gAux = tf.mul(auxErr, (2 * c.auxScale) / rows) as tf.Tensor2D;
    gWDec = tf.add(gWDec, tf.matMul(tf.transpose(zAux), gAux));
    dPre = tf.add(dPre, tf.mul(tf.matMul(gAux, wDecT), auxGate));
    auxLoss = tf.mul(tf.sum(tf.square(auxErr)), c.auxScale / rows);
  }
  const gBEnc = tf.sum(dPre, 0);
  const grads: SaeParams = {
    W_enc: tf.matMul(tf.transpose(xc), dPre as tf.Tensor2D),
    W_dec: c.architecture === 'topk' ? tf.sub(gWDec, tf.mul(tf.sum(tf.mul(gWDec, wDec), 1, true), wDec)) : gWDec,
    b_enc: gBEnc,
    // x_hat's b_dec, minus the b_dec subtracted before encoding: sum_rows dPre @ W_enc^T = W_enc @ sum_rows dPre.
    b_dec: tf.sub(tf.sum(g, 0), tf.reshape(tf.matMul(wEnc, tf.reshape(gBEnc, [-1, 1])), [-1])),
  };
  const stats = tf.concat([tf.sum(gate, 0), tf.stack([tf.sum(tf.square(err)), tf.sum(gate), auxLoss])]) as tf.Tensor1D;
  return { grads, gate, auxGate, stats };
}

/** One forward, backward and Adam step on batch x (scaled data); every intermediate is freed by tidy. */
function trainStep(p: SaeParams, m: SaeParams, v: SaeParams, x: tf.Tensor2D, c: StepContext): StepResult {
  return tf.tidy(() => {
    const { grads, stats } = saeGradients(p, x, c);
    const lrT = (c.learningRate * Math.sqrt(1 - ADAM.beta2 ** c.t)) / (1 - ADAM.beta1 ** c.t);
    const next = { params: {} as SaeParams, m: {} as SaeParams, v: {} as SaeParams };
    for (const name of SAE_TENSORS) {
      const grad = grads[name];
      const mNext = tf.add(tf.mul(m[name], ADAM.beta1), tf.mul(grad, 1 - ADAM.beta1));
      const vNext = tf.add(tf.mul(v[name], ADAM.beta2), tf.mul(tf.square(grad), 1 - ADAM.beta2));
      next.params[name] = tf.sub(p[name], tf.mul(tf.div(mNext, tf.add(tf.sqrt(vNext), ADAM.epsilon)), lrT));
      next.m[name] = mNext;
      next.v[name] = vNext;
    }
    if (c.architecture === 'topk') next.params.W_dec = unitRows(next.params.W_dec);
    return { ...next, stats };
  });
}

/**
 * 1 where x >= threshold (a column broadcast along rows), else 0, in float32. On wasm a broadcasting greaterEqual
 * took 31 ms for 256 x 1024 values against 1 ms for this; a transposed matMul (transposeA or B) 18-59 ms against
 * 2.6 ms for an explicit transpose and a plain matMul, hence the transposes above.
 */
const atLeast = (x: tf.Tensor, threshold: tf.Tensor): tf.Tensor => tf.sub(1, tf.step(tf.sub(threshold, x)));

/** Each row's Euclidean norm; tf.norm took 10 ms for 2048 x 256 on wasm, this 1 ms. */
const rowNorms = (w: tf.Tensor, keepDims: boolean): tf.Tensor => tf.sqrt(tf.sum(tf.square(w), 1, keepDims));

const unitRows = (w: tf.Tensor): tf.Tensor => tf.div(w, tf.maximum(rowNorms(w, true), 1e-12));

/** Per-dimension mean (float64) and sum ||x - mean||^2 of the rows; throws on a non-finite value. */
function dataStats(activations: Float32Array, width: number): { mean: Float64Array; centredSquares: number } {
  const count = activations.length / width;
  const mean = new Float64Array(width);
  for (let i = 0; i < activations.length; i++) {
    const value = activations[i];
    if (!Number.isFinite(value)) throw new SaeInputError(`Activation row ${Math.floor(i / width)} holds a non-finite value (${value}) at dimension ${i % width}.`);
    mean[i % width] += value;
  }
  for (let j = 0; j < width; j++) mean[j] /= count;
  let centredSquares = 0;
  for (let i = 0; i < activations.length; i++) centredSquares += (activations[i] - mean[i % width]) ** 2;
  return { mean, centredSquares };
}

/** Unit decoder rows in random directions (scaled to `norm`), the encoder their transpose, b_enc 0, b_dec the mean. */
function initialWeights(width: number, latents: number, norm: number, mean: Float64Array, random: () => number): SaeWeights {
  const wDec = new Float32Array(latents * width);
  const wEnc = new Float32Array(width * latents);
  for (let i = 0; i < latents; i++) {
    const row = Float64Array.from({ length: width }, () => gaussian(random));
    const length = Math.sqrt(row.reduce((sum, value) => sum + value * value, 0)) || 1;
    for (let j = 0; j < width; j++) {
      wDec[i * width + j] = (norm * row[j]) / length;
      wEnc[j * latents + i] = wDec[i * width + j];
    }
  }
  return { W_enc: wEnc, W_dec: wDec, b_enc: new Float32Array(latents), b_dec: Float32Array.from(mean) };
}

/** In place: ReLU latents' decoder norms moved into the encoder (f_i ||d_i|| is unchanged, the reconstruction too). */
function foldDecoderNorms(w: SaeWeights, width: number, latents: number): void {
  for (let i = 0; i < latents; i++) {
    let squares = 0;
    for (let j = 0; j < width; j++) squares += w.W_dec[i * width + j] ** 2;
    const norm = Math.sqrt(squares);
    if (!(norm > 1e-12)) continue;
    for (let j = 0; j < width; j++) {
      w.W_dec[i * width + j] /= norm;
      w.W_enc[j * latents + i] *= norm;
    }
    w.b_enc[i] *= norm;
  }
}


/** Sums of a span of steps, turned into SaeTrainMetrics. */
class MetricsSpan {
  rows = 0;
  squaredError = 0;
  centredSquares = 0;
  activeLatents = 0;
  auxLoss = 0;

  add(rows: number, squaredError: number, centredSquares: number, activeLatents: number, auxLossPerRow: number): void {
    this.rows += rows;
    this.squaredError += squaredError;
    this.centredSquares += centredSquares;
    this.activeLatents += activeLatents;
    this.auxLoss += auxLossPerRow * rows;
  }

  metrics(width: number, scale: number, deadLatents: number): SaeTrainMetrics {
    const rows = Math.max(this.rows, 1);
    const fve = this.centredSquares > 0 ? 1 - this.squaredError / this.centredSquares : this.squaredError === 0 ? 1 : 0;
    return {
      rows: this.rows,
      mse: this.squaredError / (scale * scale * rows * width),
      fve,
      l0: this.activeLatents / rows,
      auxLoss: this.auxLoss / rows,
      deadLatents,
    };
  }
}

/** The SAE the current weights make, in the input's units (copies: training goes on with its tensors). */
async function saeOf(params: SaeParams, settings: SaeTrainSettings, scale: number, options: SaeTrainOptions): Promise<Sae> {
  const { architecture, latents } = settings;
  const width = params.b_dec.size;
  const weights = {} as SaeWeights;
  // A copy: the cpu backend's data() is the tensor's own array.
  for (const name of SAE_TENSORS) weights[name] = new Float32Array((await params[name].data()) as Float32Array);
  if (architecture === 'relu') foldDecoderNorms(weights, width, latents);
  // Back to the input's units: pre-activations and latents shrink by the scale, the directions stay.
  for (const name of ['b_enc', 'b_dec'] as const) weights[name] = weights[name].map((value) => value / scale);
  return {
    config: {
      architecture,
      dIn: width,
      dSae: latents,
      k: architecture === 'topk' ? settings.k : null,
      applyBDecToInput: true,
      layer: options.layer ?? null,
      modelName: options.modelName ?? null,
    },
    weights,
  };
}

/**
 * Trains an SAE on `activations` (count x width, row-major). Memory follows the batch, not the row count: one
 * batch's tensors live per step, beside the weights and Adam's moments. Yields between steps; rejects with an
 * AbortError when `signal` aborts, with every tensor freed.
 */
export async function trainSae(activations: Float32Array, width: number, options: SaeTrainOptions = {}): Promise<SaeTrainResult> {
  if (!(Number.isInteger(width) && width > 0)) throw new SaeInputError(`The activation width must be a positive integer, not ${width}.`);
  if (activations.length === 0 || activations.length % width !== 0) {
    throw new SaeInputError(`${activations.length} activation values are not a whole number of rows of width ${width}.`);
  }
  const count = activations.length / width;
  const settings = resolveSaeSettings(width, count, options);
  const { architecture, latents, batchSize, epochs } = settings;
  const pacer = createPacer(options.signal, 50, 'SAE training cancelled', nextTask);
  const { mean, centredSquares } = dataStats(activations, width);
  const scale = centredSquares > 0 ? Math.sqrt((count * width) / centredSquares) : 1;
  const scaledMean = mean.map((value) => value * scale);
  const random = createRng(settings.seed);
  const initial = initialWeights(width, latents, architecture === 'relu' ? RELU_INIT_NORM : 1, scaledMean, random);

  const shapes = { dIn: width, dSae: latents };
  let params = {} as SaeParams;
  let m = {} as SaeParams;
  let v = {} as SaeParams;
  for (const name of SAE_TENSORS) {
    params[name] = tf.tensor(initial[name], saeTensorShape(name, shapes));
    m[name] = tf.zeros(saeTensorShape(name, shapes));
    v[name] = tf.zeros(saeTensorShape(name, shapes));
  }
  const stepsPerEpoch = Math.ceil(count / batchSize);
  const totalSteps = stepsPerEpoch * epochs;
  const order = range(count);
  const batch = new Float32Array(Math.min(batchSize, count) * width);
  const sinceFired = new Float64Array(latents);
  const history: SaeTrainMetrics[] = [];
  let window = new MetricsSpan();
  let step = 0;
  let deadLatents = 0;
  let lastSae: Sae | null = null;
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      shuffle(order, random);
      const epochSpan = new MetricsSpan();
      for (let start = 0; start < count; start += batchSize) {
        const rows = Math.min(batchSize, count - start);
        let batchCentred = 0;
        for (let r = 0; r < rows; r++) {
          const from = order[start + r] * width;
          for (let j = 0; j < width; j++) {
            const value = activations[from + j] * scale;
            batch[r * width + j] = value;
            batchCentred += (value - scaledMean[j]) ** 2;
          }
        }
        step++;
        const progress = step / totalSteps;
        const decay = Math.min(1, (1 - (step - 1) / totalSteps) / LR_DECAY_FRACTION);
        const useAux = architecture === 'topk' && settings.auxCoefficient > 0 && deadLatents > 0;
        const x = tf.tensor2d(batch.subarray(0, rows * width), [rows, width]);
        const dead = useAux ? tf.tensor1d(Float32Array.from(sinceFired, (since) => (since >= settings.deadWindowRows ? 1 : 0))) : null;
        let result: StepResult;
        try {
          result = trainStep(params, m, v, x, {
            architecture,
            k: settings.k,
            l1: settings.l1Coefficient * Math.min(1, progress / L1_WARMUP_FRACTION),
            learningRate: settings.learningRate * decay,
            t: step,
            dead,
            auxK: Math.min(settings.auxK, deadLatents),
            auxScale: settings.auxCoefficient * Math.min(deadLatents / settings.auxK, 1),
          });
        } finally {
          tf.dispose([x, ...(dead ? [dead] : [])]);
        }
        tf.dispose([...Object.values(params), ...Object.values(m), ...Object.values(v)]);
        ({ params, m, v } = result);
        let stats: Float32Array;
        try {
          stats = (await result.stats.data()) as Float32Array;
        } finally {
          result.stats.dispose();
        }
        deadLatents = 0;
        for (let i = 0; i < latents; i++) {
          sinceFired[i] = stats[i] > 0 ? 0 : sinceFired[i] + rows;
          if (sinceFired[i] >= settings.deadWindowRows) deadLatents++;
        }
        const [squaredError, active, auxLoss] = [stats[latents], stats[latents + 1], stats[latents + 2]];
        window.add(rows, squaredError, batchCentred, active, auxLoss);
        epochSpan.add(rows, squaredError, batchCentred, active, auxLoss);
        const last = epoch === epochs - 1 && start + batchSize >= count;
        if (window.rows >= settings.reportEveryRows || last) {
          options.onProgress?.({ ...window.metrics(width, scale, deadLatents), epoch, step, rowsSeen: epoch * count + start + rows, totalRows: epochs * count });
          window = new MetricsSpan();
        }
        if (pacer.due()) {
          await pacer.pause();
          if (options.pause) {
            await options.pause();
            pacer.check();
          }
        } else pacer.check();
      }
      history.push(epochSpan.metrics(width, scale, deadLatents));
      if (options.onEpoch) {
        lastSae = await saeOf(params, settings, scale, options);
        await options.onEpoch(epoch, lastSae);
        pacer.check();
      }
    }
    const sae = lastSae ?? (await saeOf(params, settings, scale, options));
    return { sae, settings, epochs: history, inputScale: scale };
  } finally {
    tf.dispose([...Object.values(params), ...Object.values(m), ...Object.values(v)]);
  }
}
