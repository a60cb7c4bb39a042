import * as tf from '@tensorflow/tfjs';
import type { AtlasRequest, InputError, PositionSampling, RecordedOf } from '../../compute/atlas';
import type { ActivationTable, ProgressCallback } from '../../compute/types';
import { abortError } from '../../lib/abort';
import { createRng } from '../../lib/rng';
import { yieldToPage } from '../../lib/yieldToPage';
import { windowOrdinal } from '../../compute/stream/rowOrder';
import { ModelUseError, openRecordingStream, resolveSampling, type StreamHooks } from '../recordTable';
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
  /** Top rows kept per unit over every recorded row. */
  unitTopK?: number;
  /** The sample's size, a sink for every row, the recorder when done. */
  stream?: StreamHooks;
  /** Windows per forward pass (all of one length); default: as many as make about 4096 tokens. */
  batchSize?: number;
  /** What runs each batch's forward (default: the model, in this thread). */
  forward?: TextForward;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/** Runs the forward of equal-length windows and hands back one layer's values on the host: [windows, tokens, width], or [windows, width] pooled. */
export interface TextForward {
  values(tokenIds: Int32Array[], layer: string, pooled: boolean): Promise<Float32Array>;
}

/** The model's own forward, in this thread. */
export function modelForward(model: Pick<TextModel, 'record'>): TextForward {
  return {
    async values(tokenIds, layer, pooled) {
      const activation = model.record(tokenIds, layer);
      try {
        return await batchValues(activation, pooled);
      } finally {
        activation.dispose();
      }
    },
  };
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
  /** Each window's place among all the recording's windows (its document's ordinal and its number there). */
  ordinals: number[];
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
  const forward = options.forward ?? modelForward(model);
  if (documents.length === 0) throw new ModelUseError('No documents to record: pick, drop or paste some text first.');
  const notices: string[] = [];
  const samples = resolveSampling(layer, options.samplesPerInput, notices);
  const read = await tokenizeDocuments(documents, model.contextLength, notices, onProgress, signal);
  const { tokenIds } = read;
  if (tokenIds.length === 0) {
    throw new ModelUseError(`None of the ${documents.length} documents gave any tokens (${read.errors[0]?.name}: ${read.errors[0]?.reason}).`);
  }
  const { ordinals } = read;
  const picks = tokenIds.map((ids, w) => recordedTokens(ids.length, samples, seed * 100003 + ordinals[w]));
  const { stream, finish } = openRecordingStream(layer, options.stream, { seed, unitTopK: options.unitTopK, keyed: samples !== 'pooled', ordinals });
  const dim = stream.dim;
  let done = 0;
  for (const batch of lengthBatches(tokenIds, options.batchSize)) {
    if (signal?.aborted) throw abortError('Recording cancelled');
    const length = tokenIds[batch[0]].length;
    const data = await forward.values(batch.map((w) => tokenIds[w]), layer.name, samples === 'pooled');
    batch.forEach((w, b) => {
      if (samples === 'pooled') stream.add(w, -1, data, b * dim);
      else for (const t of picks[w]) stream.add(w, t, data, (b * length + t) * dim, tokenIds[w][t]);
    });
    done += batch.length;
    onProgress?.({ stage: 'record', done, total: tokenIds.length });
    await yieldToPage();
  }
  const { table, units } = finish(notices);
  return {
    table,
    units,
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
export type TextStageOptions = Pick<TextRecordOptions, 'stream' | 'batchSize' | 'forward' | 'onProgress' | 'signal'>;

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
    unitTopK: request.params.topK,
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
  const read: Windows = { tokenIds: [], ordinals: [], names: [], labels: [], errors: [] };
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
      read.ordinals.push(windowOrdinal(doc.ordinal ?? d, k));
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

