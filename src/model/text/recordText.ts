import * as tf from '@tensorflow/tfjs';
import type { AtlasRequest, InputError, PositionSampling, RecordedOf } from '../../compute/atlas';
import type { ActivationTable, ProgressCallback } from '../../compute/types';
import { abortError } from '../../lib/abort';
import { createRng } from '../../lib/rng';
import { yieldToPage } from '../../lib/yieldToPage';
import { ModelUseError, resolveSampling, TableWriter } from '../recordTable';
import { splitNotice, windows as windowsOf, type TextDocument } from './documents';
import type { TextModel } from './textModel';
import { encode, tokenTexts } from './tokenizer';

export interface TextRecordOptions {
  layer: string;
  /**
   * 'pooled': the mean over a window's tokens 1..L-1; k: k seeded tokens among them; 'all': every one.
   * Token 0, `<|endoftext|>`, is never recorded: its activations are outliers that would crowd the atlas.
   */
  samplesPerInput: PositionSampling;
  seed?: number;
  /** Most float32 values the table may hold; past it, rows are sampled and the counts say so. */
  maxValues?: number;
  /** Windows per forward pass (all of one length); default: as many as make about 4096 tokens. */
  batchSize?: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/** A text recording: one input per window; the modality-free columns, each window's token ids, and the documents that gave none. */
export type TextRecording = Omit<RecordedOf<'text'>, 'modality' | 'model' | 'previews'> & {
  tokenIds: Int32Array[];
  errors: InputError[];
};

/** Windows of one length recorded in one pass, unless a batch size caps it. */
const TOKENS_PER_BATCH = 4096;
/** Documents tokenized between progress reports. */
const DOCUMENTS_PER_STEP = 64;

/** Every document's windows, each an input with its name and label, and the documents that gave none. */
interface Windows {
  tokenIds: Int32Array[];
  names: string[];
  labels: (string | null)[];
  errors: InputError[];
}

/**
 * Records one layer's activations for every document's windows, batched by window length, with progress
 * and cancellation. Rows come in window order, then token order. Per-token rows carry the recorded token's
 * id as `table.key` (what a cell's typical tokens are counted from); pooled rows stand for no one token,
 * so a pooled table has no keys.
 */
export async function recordTextActivations(model: TextModel, documents: readonly TextDocument[], options: TextRecordOptions): Promise<TextRecording> {
  const { signal, onProgress } = options;
  const seed = options.seed ?? 0;
  const layer = model.layer(options.layer);
  if (documents.length === 0) throw new ModelUseError('No documents to record: pick, drop or paste some text first.');
  const notices: string[] = [];
  const samples = resolveSampling(layer, options.samplesPerInput, notices);
  const read = await tokenizeDocuments(documents, model.contextLength, notices, onProgress, signal);
  const { tokenIds } = read;
  if (tokenIds.length === 0) {
    throw new ModelUseError(`None of the ${documents.length} documents gave any tokens (${read.errors[0]?.name}: ${read.errors[0]?.reason}).`);
  }
  const picks = tokenIds.map((ids, w) => recordedTokens(ids.length, samples, seed * 100003 + w));
  const firstRow = rowOffsets(picks.map((p) => (samples === 'pooled' ? 1 : p.length)));
  const table = new TableWriter(layer, firstRow[tokenIds.length], { maxValues: options.maxValues, seed });
  const dim = table.dim;
  let done = 0;
  for (const batch of lengthBatches(tokenIds, options.batchSize)) {
    if (signal?.aborted) throw abortError('Recording cancelled');
    const length = tokenIds[batch[0]].length;
    const activation = model.record(batch.map((w) => tokenIds[w]), layer.name);
    let data: Float32Array;
    try {
      data = await batchValues(activation, samples === 'pooled');
    } finally {
      activation.dispose();
    }
    batch.forEach((w, b) => {
      if (samples === 'pooled') table.add(firstRow[w], w, -1, data, b * dim);
      else picks[w].forEach((t, k) => table.add(firstRow[w] + k, w, t, data, (b * length + t) * dim));
    });
    done += batch.length;
    onProgress?.({ stage: 'record', done, total: tokenIds.length });
    await yieldToPage();
  }
  const rows = inWindowOrder(table.finish(notices));
  return {
    table: samples === 'pooled' ? rows : { ...rows, key: tokenKeys(rows, tokenIds) },
    layerShape: layer.shape,
    samplesPerInput: samples,
    names: read.names,
    labels: read.labels,
    predicted: new Int32Array(tokenIds.length).fill(-1),
    probability: new Float32Array(tokenIds.length),
    tokenIds,
    errors: read.errors,
    notices,
  };
}

/** Options of the text recording stage that are the caller's, not the user's. */
export interface TextStageOptions {
  maxValues?: number;
  batchSize?: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/**
 * The first stage of every text atlas build, in the model worker and in the CLI alike: records the
 * request's layer with its parameters and keeps each window's token ids and token texts as its preview.
 */
export async function recordTextAtlas(
  model: TextModel,
  documents: readonly TextDocument[],
  request: AtlasRequest,
  options: TextStageOptions = {},
): Promise<RecordedOf<'text'> & { errors: InputError[] }> {
  const { tokenIds, ...recording } = await recordTextActivations(model, documents, {
    layer: request.layer,
    samplesPerInput: request.params.samplesPerInput,
    seed: request.params.seed,
    ...options,
  });
  const ids = tokenIds.map((w) => Array.from(w));
  return { ...recording, modality: 'text', model: model.info, previews: { tokenIds: ids, tokens: ids.map(tokenTexts) } };
}

/**
 * The tokens recorded in a window of `length` tokens, ascending: every one of 1..length-1, or k of them
 * drawn with the window's seed; none for 'pooled' (its one row is the mean).
 */
export function recordedTokens(length: number, samples: PositionSampling, seed: number): number[] {
  if (samples === 'pooled') return [];
  const tokens = Array.from({ length: length - 1 }, (_, t) => t + 1);
  if (samples === 'all' || samples >= tokens.length) return tokens;
  const random = createRng(seed);
  for (let i = 0; i < samples; i++) {
    const j = i + Math.floor(random() * (tokens.length - i));
    [tokens[i], tokens[j]] = [tokens[j], tokens[i]];
  }
  return tokens.slice(0, samples).sort((a, b) => a - b);
}

/** Tokenizes each document into windows (stage 'decode'); a document with no tokens is listed as an error. */
async function tokenizeDocuments(
  documents: readonly TextDocument[],
  contextLength: number,
  notices: string[],
  onProgress?: ProgressCallback,
  signal?: AbortSignal,
): Promise<Windows> {
  const read: Windows = { tokenIds: [], names: [], labels: [], errors: [] };
  let split = 0;
  let splitWindows = 0;
  for (let d = 0; d < documents.length; d++) {
    const doc = documents[d];
    const docWindows = windowsOf(encode(doc.text), contextLength);
    if (docWindows.length === 0) read.errors.push({ name: doc.name, reason: 'no tokens: the document is empty' });
    if (docWindows.length > 1) {
      split++;
      splitWindows += docWindows.length;
    }
    docWindows.forEach((ids, k) => {
      read.tokenIds.push(ids);
      read.names.push(docWindows.length === 1 ? doc.name : `${doc.name} [window ${k + 1}/${docWindows.length}]`);
      read.labels.push(doc.label);
    });
    if ((d + 1) % DOCUMENTS_PER_STEP === 0 || d + 1 === documents.length) {
      onProgress?.({ stage: 'decode', done: d + 1, total: documents.length });
      if (signal?.aborted) throw abortError('Recording cancelled');
      await yieldToPage();
    }
  }
  if (split > 0) notices.push(splitNotice(split, splitWindows, contextLength));
  return read;
}

/** A batch's values on the host: [windows, tokens, width] per token, or [windows, width] pooled over tokens 1..L-1. */
async function batchValues(activation: tf.Tensor3D, pooled: boolean): Promise<Float32Array> {
  const values = pooled ? tf.tidy(() => activation.slice([0, 1, 0], [-1, -1, -1]).mean(1)) : activation;
  try {
    return (await values.data()) as Float32Array;
  } finally {
    if (values !== activation) values.dispose();
  }
}

/** Row id of each window's first row among all the rows the recording would give, and the total last. */
function rowOffsets(rowsPerWindow: number[]): Uint32Array {
  const first = new Uint32Array(rowsPerWindow.length + 1);
  rowsPerWindow.forEach((rows, w) => (first[w + 1] = first[w] + rows));
  return first;
}

/** Window ids in batches of equal length (the forward takes one length per batch), shortest first. */
export function lengthBatches(tokenIds: readonly Int32Array[], batchSize?: number): number[][] {
  const byLength = new Map<number, number[]>();
  tokenIds.forEach((ids, w) => {
    const same = byLength.get(ids.length);
    if (same) same.push(w);
    else byLength.set(ids.length, [w]);
  });
  const batches: number[][] = [];
  for (const length of [...byLength.keys()].sort((a, b) => a - b)) {
    const ids = byLength.get(length)!;
    const size = batchSize ?? Math.max(1, Math.floor(TOKENS_PER_BATCH / length));
    for (let start = 0; start < ids.length; start += size) batches.push(ids.slice(start, start + size));
  }
  return batches;
}

/** The table's rows reordered by window (stable), in place: batches by length leave them in batch order. */
function inWindowOrder(table: ActivationTable): ActivationTable {
  const { count, dim, values } = table;
  const order = Array.from({ length: count }, (_, r) => r).sort((a, b) => table.input[a] - table.input[b] || a - b);
  if (order.every((r, k) => r === k)) return table;
  // Row k takes old row order[k]; follow each cycle with one row of scratch.
  const placed = new Uint8Array(count);
  const scratch = new Float32Array(dim);
  for (let start = 0; start < count; start++) {
    if (placed[start]) continue;
    scratch.set(values.subarray(start * dim, (start + 1) * dim));
    let to = start;
    for (;;) {
      placed[to] = 1;
      const from = order[to];
      if (from === start) {
        values.set(scratch, to * dim);
        break;
      }
      values.copyWithin(to * dim, from * dim, (from + 1) * dim);
      to = from;
    }
  }
  return { ...table, input: Uint32Array.from(order, (r) => table.input[r]), position: Int32Array.from(order, (r) => table.position[r]) };
}

/** The id of the token each row recorded. */
function tokenKeys(table: ActivationTable, tokenIds: readonly Int32Array[]): Int32Array {
  return Int32Array.from(table.position, (t, r) => tokenIds[table.input[r]][t]);
}
