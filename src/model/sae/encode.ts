/**
 * Latent activations of a trained or loaded SAE, batch by batch with the current TF.js backend, returned sparse:
 * a TopK SAE keeps k of dSae latents per row, so N x dSae dense floats (1.2 GB for 50k rows of 6,144 latents)
 * would be ~99% zeros, while compressed rows take 8 bytes per active latent. Decoding runs on the host from
 * the sparse rows: k x dIn multiply-adds per row instead of dSae x dIn.
 */
import * as tf from '@tensorflow/tfjs';
import { columnMeans } from '../../compute/pca';
import { createPacer, nextTask } from '../../lib/yieldToPage';
import { SaeInputError, type Sae, type SparseLatents } from './sae';

export interface SaeEncodeOptions {
  /** Rows per batch: memory follows batchSize x dSae. */
  batchSize?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/** One batch's latents in compressed rows (rowStart relative to the batch). */
interface SparseBatch {
  rows: number;
  rowStart: Int32Array;
  latent: Int32Array;
  value: Float32Array;
}

const DEFAULT_BATCH = 256;

function checkRows(sae: Sae, activations: Float32Array): number {
  const { dIn } = sae.config;
  if (activations.length % dIn !== 0) throw new SaeInputError(`${activations.length} activation values are not a whole number of rows of the SAE's width ${dIn} (d_in).`);
  return activations.length / dIn;
}

/** Encodes the rows batch by batch, handing each batch's sparse latents to `visit`; yields between batches. */
async function encodeInBatches(
  sae: Sae,
  activations: Float32Array,
  options: SaeEncodeOptions,
  visit: (firstRow: number, batch: SparseBatch) => void,
): Promise<void> {
  const { dIn, dSae, architecture, k, applyBDecToInput } = sae.config;
  const count = checkRows(sae, activations);
  const batchSize = options.batchSize ?? DEFAULT_BATCH;
  if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new SaeInputError(`The encode batch size must be a positive integer, not ${batchSize}.`);
  const pacer = createPacer(options.signal, 50, 'SAE encoding cancelled', nextTask);
  const kept = architecture === 'topk' ? k! : dSae;
  const wEnc = tf.tensor2d(sae.weights.W_enc, [dIn, dSae]);
  const bEnc = tf.tensor1d(sae.weights.b_enc);
  const bDec = tf.tensor1d(sae.weights.b_dec);
  try {
    for (let start = 0; start < count; start += batchSize) {
      const rows = Math.min(batchSize, count - start);
      const slice = activations.subarray(start * dIn, (start + rows) * dIn);
      const bad = slice.findIndex((value) => !Number.isFinite(value));
      if (bad >= 0) throw new SaeInputError(`Activation row ${start + Math.floor(bad / dIn)} holds a non-finite value (${slice[bad]}) at dimension ${bad % dIn}.`);
      const { values, indices } = tf.tidy((): { values: tf.Tensor2D; indices?: tf.Tensor2D } => {
        const x = tf.tensor2d(slice, [rows, dIn]);
        const pre = tf.add(tf.matMul(applyBDecToInput ? tf.sub(x, bDec) : x, wEnc), bEnc) as tf.Tensor2D;
        if (architecture === 'relu') return { values: tf.relu(pre) };
        const top = tf.topk(pre, kept);
        return { values: tf.relu(top.values), indices: top.indices };
      });
      let batch: SparseBatch;
      try {
        const value = (await values.data()) as Float32Array;
        const index = indices ? ((await indices.data()) as Int32Array) : null;
        batch = compressRows(rows, kept, value, index);
      } finally {
        tf.dispose([values, ...(indices ? [indices] : [])]);
      }
      visit(start, batch);
      options.onProgress?.(start + rows, count);
      if (pacer.due()) await pacer.pause();
      else pacer.check();
    }
  } finally {
    tf.dispose([wEnc, bEnc, bDec]);
  }
}

/**
 * Compressed rows from `width` values per row: top-k values in descending order with their latent indices
 * (index given), or a dense row of all latents (index null), whose positive entries are sorted by value here.
 */
function compressRows(rows: number, width: number, value: Float32Array, index: Int32Array | null): SparseBatch {
  const rowStart = new Int32Array(rows + 1);
  let nonZero = 0;
  for (let i = 0; i < value.length; i++) if (value[i] > 0) nonZero++;
  const latent = new Int32Array(nonZero);
  const kept = new Float32Array(nonZero);
  let at = 0;
  const order: number[] = [];
  for (let r = 0; r < rows; r++) {
    rowStart[r] = at;
    const base = r * width;
    if (index) {
      for (let j = 0; j < width && value[base + j] > 0; j++) {
        latent[at] = index[base + j];
        kept[at++] = value[base + j];
      }
    } else {
      order.length = 0;
      for (let j = 0; j < width; j++) if (value[base + j] > 0) order.push(j);
      order.sort((a, b) => value[base + b] - value[base + a] || a - b);
      for (const j of order) {
        latent[at] = j;
        kept[at++] = value[base + j];
      }
    }
  }
  rowStart[rows] = at;
  return { rows, rowStart, latent, value: kept };
}

/** What is gathered from encodeInBatches's batches, in row order, and what it becomes. */
interface BatchSink<T> {
  add(firstRow: number, batch: SparseBatch): void;
  result(): T;
}

/** Collects the batches into one set of compressed sparse rows. */
function sparseRows(sae: Sae, count: number): BatchSink<SparseLatents> {
  const rowStart = new Int32Array(count + 1);
  const chunks: SparseBatch[] = [];
  let total = 0;
  return {
    add(firstRow, batch) {
      for (let r = 0; r < batch.rows; r++) rowStart[firstRow + r] = total + batch.rowStart[r];
      total += batch.latent.length;
      chunks.push(batch);
    },
    result() {
      rowStart[count] = total;
      const latent = new Int32Array(total);
      const value = new Float32Array(total);
      let at = 0;
      for (const chunk of chunks) {
        latent.set(chunk.latent, at);
        value.set(chunk.value, at);
        at += chunk.latent.length;
      }
      return { count, dSae: sae.config.dSae, rowStart, latent, value };
    },
  };
}

/** The SAE's latent activations on `activations` (N x dIn rows), as compressed sparse rows. */
export async function encodeSae(sae: Sae, activations: Float32Array, options: SaeEncodeOptions = {}): Promise<SparseLatents> {
  const rows = sparseRows(sae, checkRows(sae, activations));
  await encodeInBatches(sae, activations, options, rows.add);
  return rows.result();
}

/** Adds row `r`'s reconstruction from its sparse latents to `out` (length dIn), in float64. */
function reconstructRow(sae: Sae, latent: Int32Array, value: Float32Array, from: number, to: number, out: Float64Array): void {
  const { dIn } = sae.config;
  const { W_dec: wDec, b_dec: bDec } = sae.weights;
  for (let j = 0; j < dIn; j++) out[j] = bDec[j];
  for (let e = from; e < to; e++) {
    const base = latent[e] * dIn;
    const v = value[e];
    for (let j = 0; j < dIn; j++) out[j] += v * wDec[base + j];
  }
}

/** Reconstructions x_hat = f @ W_dec + b_dec of sparse latents: count x dIn, row-major. */
export function decodeSae(sae: Sae, latents: SparseLatents): Float32Array {
  const { dIn, dSae } = sae.config;
  if (latents.dSae !== dSae) throw new SaeInputError(`These latents are of an SAE with ${latents.dSae} latents, not ${dSae}.`);
  const out = new Float32Array(latents.count * dIn);
  const row = new Float64Array(dIn);
  for (let r = 0; r < latents.count; r++) {
    reconstructRow(sae, latents.latent, latents.value, latents.rowStart[r], latents.rowStart[r + 1], row);
    out.set(row, r * dIn);
  }
  return out;
}

/** How well an SAE reconstructs a set of rows, and how often each latent fires on them. */
export interface SaeMeasures {
  rows: number;
  /** Mean squared reconstruction error per element. */
  mse: number;
  /** 1 - sum ||x - x_hat||^2 / sum ||x - mean||^2, the mean taken over these rows. */
  fve: number;
  /** Mean active latents per row. */
  l0: number;
  /** Fraction of rows on which each latent is active. */
  frequency: Float64Array;
  /** Each latent's largest activation (0 where it never fires). */
  maxActivation: Float32Array;
  /** Latents active on none of the rows. */
  deadLatents: number;
}

/** Reconstruction error, FVE, L0 and per-latent frequency over `activations`, without holding all latents at once. */
export async function measureSae(sae: Sae, activations: Float32Array, options: SaeEncodeOptions = {}): Promise<SaeMeasures> {
  const measures = measuring(sae, activations, checkRows(sae, activations));
  await encodeInBatches(sae, activations, options, measures.add);
  return measures.result();
}

/** encodeSae and measureSae in one pass over the rows (one encoding instead of two). */
export async function encodeAndMeasureSae(sae: Sae, activations: Float32Array, options: SaeEncodeOptions = {}): Promise<{ latents: SparseLatents; measures: SaeMeasures }> {
  const count = checkRows(sae, activations);
  const [rows, measures] = [sparseRows(sae, count), measuring(sae, activations, count)];
  await encodeInBatches(sae, activations, options, (firstRow, batch) => {
    rows.add(firstRow, batch);
    measures.add(firstRow, batch);
  });
  return { latents: rows.result(), measures: measures.result() };
}

/** Sums, batch by batch, of each row's reconstruction error and active latents, that become SaeMeasures. */
function measuring(sae: Sae, activations: Float32Array, count: number): BatchSink<SaeMeasures> {
  const { dIn, dSae } = sae.config;
  const mean = columnMeans(activations, count, dIn);
  const fired = new Float64Array(dSae);
  const maxActivation = new Float32Array(dSae);
  const row = new Float64Array(dIn);
  let squaredError = 0;
  let centredSquares = 0;
  let active = 0;
  const add = (firstRow: number, batch: SparseBatch) => {
    for (let r = 0; r < batch.rows; r++) {
      const [from, to] = [batch.rowStart[r], batch.rowStart[r + 1]];
      reconstructRow(sae, batch.latent, batch.value, from, to, row);
      const base = (firstRow + r) * dIn;
      for (let j = 0; j < dIn; j++) {
        squaredError += (activations[base + j] - row[j]) ** 2;
        centredSquares += (activations[base + j] - mean[j]) ** 2;
      }
      active += to - from;
      for (let e = from; e < to; e++) {
        fired[batch.latent[e]]++;
        maxActivation[batch.latent[e]] = Math.max(maxActivation[batch.latent[e]], batch.value[e]);
      }
    }
  };
  const rows = Math.max(count, 1);
  return {
    add,
    result: () => ({
      rows: count,
      mse: squaredError / (rows * dIn),
      fve: centredSquares > 0 ? 1 - squaredError / centredSquares : squaredError === 0 ? 1 : 0,
      l0: active / rows,
      frequency: fired.map((n) => n / rows),
      maxActivation,
      deadLatents: fired.reduce((n, f) => n + (f === 0 ? 1 : 0), 0),
    }),
  };
}
