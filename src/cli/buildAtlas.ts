import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import {
  DEFAULT_ATLAS_PARAMS,
  layoutAtlas,
  withoutPreviews,
  withPreviews,
  type Atlas,
  type AtlasParams,
  type AtlasRequest,
  type InputError,
  type LayoutScale,
  type Modality,
  type ModalityInputs,
  type ModalityModels,
  type RecordedColumns,
} from '../compute/atlas';
import type { StreamRecorder } from '../compute/stream/recorder';
import { shardOf } from '../compute/stream/rowOrder';
import type { ProgressCallback } from '../compute/types';
import { modelFingerprint } from '../featureVis/fingerprint';
import { openRecordingStream, resolveSampling, type LayerInfo, type StreamHooks } from '../model/recordTable';
import { chooseBackend, type BackendChoice } from '../model/backend';
import { openTextRecordPool, type TextRecordPool } from './textRecordPool';
import { withNodeWasmThreads } from './wasmThreads';
import { BUILT_IN_MODEL_NAME, ImageModel } from '../model/image/imageModel';
import type { Preprocessing } from '../model/image/preprocess';
import { recordImageAtlas, type ImageProvider } from '../model/image/recordImages';
import { documentsFromFiles, type DocumentsRead, type TextDocument } from '../model/text/documents';
import { recordTextAtlas } from '../model/text/recordText';
import { BUILT_IN_TEXT_MODEL_NAME, TextModel, type ModelFile } from '../model/text/textModel';
import type { ShardIdentity, ShardInputs, ShardSpec } from './shards';
import { artifactsFromDirectory, folderProvider, isTextModelFolder, pngDataUrl, readClassNames, textFilesFromPath, textModelFiles } from './nodeIo';

export const DEFAULT_MODEL_DIR = fileURLToPath(new URL('../../models/fashion-cnn', import.meta.url));
export const DEFAULT_TEXT_MODEL_DIR = fileURLToPath(new URL('../../models/text-gpt2', import.meta.url));

/** The command line records one pooled vector per image unless asked for positions. */
export const CLI_DEFAULT_PARAMS: AtlasParams = { ...DEFAULT_ATLAS_PARAMS, samplesPerInput: 'pooled' };
/** Text records every token (but <|endoftext|>) unless asked to sample, as the page does. */
export const TEXT_CLI_DEFAULT_PARAMS: AtlasParams = { ...DEFAULT_ATLAS_PARAMS, samplesPerInput: 'all' };

export interface NodeAtlasOptions {
  /** 'default' (the built-in model of the modality) or a model folder: TF.js model.json + shards, or a GPT-2 config.json + safetensors. */
  model: string;
  /** An image folder (class sub-folders give labels); omitted means the bundled sample (default model only). */
  images?: string;
  /** A .txt or .jsonl file, or a folder of them (sub-folders give labels): builds a text atlas with a GPT-2. */
  text?: string;
  /** The layer to record; default: the model's default layer. */
  layer?: string;
  /** Any parameters left out take CLI_DEFAULT_PARAMS (images) or TEXT_CLI_DEFAULT_PARAMS (text). */
  params?: Partial<AtlasParams>;
  /** A class-name file (one per line, or synset_words.txt). */
  labels?: string;
  preprocessing?: Preprocessing;
  inputSize?: number;
  thumbnailSize?: number;
  /** The sample's size, a sink for every recorded row (--save-activations), the recorder when done. */
  stream?: StreamHooks;
  /** Record only this slice of the inputs (--shard). */
  shard?: ShardSpec;
  /**
   * Threads for the recording (--threads); default 1. An image model runs TF.js wasm on that many threads; a GPT-2
   * records on that many threads with a copy of the model each (one wasm thread apiece), which is faster.
   */
  threads?: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

export interface NodeAtlasResult {
  atlas: Atlas;
  backend: BackendChoice;
  errors: InputError[];
}

/** A recording made in Node, with what a shard stores of it: the run's identity, the stream and each input's ordinal. */
export interface NodeRecording {
  recorded: RecordedColumns;
  errors: InputError[];
  backend: BackendChoice;
  /** The threads the wasm backend runs (1 on other backends). */
  wasmThreads: number;
  /** The threads that each ran a copy of the model (1 unless a GPT-2 recorded on several). */
  modelThreads: number;
  identity: ShardIdentity;
  stream: StreamRecorder;
  /** Each recorded input's place among all the run's inputs. */
  ordinals: readonly number[];
}

/** Loads an image model from the command line's --model value. */
export async function loadModelForCli(model: string, options: Pick<NodeAtlasOptions, 'labels' | 'preprocessing' | 'inputSize'> = {}) {
  const dir = model === 'default' ? DEFAULT_MODEL_DIR : model;
  const { artifacts, name } = await artifactsFromDirectory(dir);
  const classNames = options.labels ? await readClassNames(options.labels) : undefined;
  return ImageModel.fromArtifacts(artifacts, model === 'default' ? BUILT_IN_MODEL_NAME : name, {
    classNames,
    preprocessing: options.preprocessing,
    inputSize: options.inputSize,
  });
}

/** Loads a GPT-2 from the command line's --model value ('default': models/text-gpt2). */
export async function loadTextModelForCli(model: string, onFiles?: (files: readonly ModelFile[]) => void): Promise<TextModel> {
  const builtIn = model === 'default';
  const dir = builtIn ? DEFAULT_TEXT_MODEL_DIR : model;
  if (builtIn && !(await stat(dir).catch(() => null))) {
    throw new Error('The built-in text model (models/text-gpt2) is not in this checkout: build it with `npm run train:text`, or pass --model <folder>.');
  }
  const files = await textModelFiles(dir);
  onFiles?.(files);
  return TextModel.fromFiles(files, builtIn ? BUILT_IN_TEXT_MODEL_NAME : basename(dir));
}

/** Whether --model (with or without --text) names a GPT-2 rather than an image model. */
export async function isTextModelArg(model: string, text: string | undefined): Promise<boolean> {
  return text !== undefined || (model !== 'default' && (await isTextModelFolder(model)));
}

/** The bundled sample as inputs (it only fits the built-in model). */
export async function bundledSample(): Promise<ImageProvider> {
  const [{ sampleProvider }, { loadSampleFromDisk }] = await Promise.all([import('../model/image/providers'), import('../model/image/sampleNode')]);
  return sampleProvider(await loadSampleFromDisk());
}

/** The documents of --text; bad files and lines are listed, and it fails only when nothing could be read. */
async function readTextDocuments(path: string): Promise<DocumentsRead> {
  const read = documentsFromFiles(await textFilesFromPath(path));
  if (read.documents.length === 0) {
    const first = read.errors[0];
    throw new Error(`No documents in ${path}${first ? `: ${read.errors.length} file(s) or line(s) could not be read (${first.name}: ${first.reason})` : ': it holds no files'}.`);
  }
  return read;
}

/** The whole pipeline in Node: the same two stages the page runs in its workers, here in process. */
export async function buildAtlasInNode(options: NodeAtlasOptions): Promise<NodeAtlasResult> {
  const { recorded, errors, backend, identity } = await recordInNode(options);
  const atlas = await layoutInNode(recorded, identity.params, options.onProgress, options.signal);
  return { atlas, errors, backend };
}

/** The layout stage in process, for a recording made here or merged from shards. */
export async function layoutInNode(
  recorded: RecordedColumns,
  params: AtlasParams,
  onProgress?: ProgressCallback,
  signal?: AbortSignal,
  scale: LayoutScale = {},
): Promise<Atlas> {
  const laid = await layoutAtlas(withoutPreviews(recorded), params, onProgress, signal, undefined, scale);
  return withPreviews(laid, recorded);
}

/** The recording stage in process (the whole run, or one shard of it with options.shard). */
export async function recordInNode(options: NodeAtlasOptions): Promise<NodeRecording> {
  if (options.text !== undefined && options.images !== undefined) throw new Error('Pass --images or --text, not both.');
  const text = await isTextModelArg(options.model, options.text);
  const { value: choice, threads, note } = await withNodeWasmThreads(text ? 1 : (options.threads ?? 1), () => chooseBackend({ node: true }));
  const backend = note ? { ...choice, reason: `${choice.reason}; ${note}` } : choice;
  if (!text) return { ...(await recordImagesInNode(options)), backend, wasmThreads: threads, modelThreads: 1 };
  const recording = await recordTextInNode(options, backend.name);
  return { ...recording, backend, wasmThreads: threads };
}

/** What the stream hooks hand back when a pass is over. */
function captureStream(options: NodeAtlasOptions) {
  const captured: { stream?: StreamRecorder; ordinals?: readonly number[] } = {};
  const stream: StreamHooks = {
    ...options.stream,
    onRecorded: (recorder, ordinals) => {
      captured.stream = recorder;
      captured.ordinals = ordinals;
      options.stream?.onRecorded?.(recorder, ordinals);
    },
  };
  return { stream, captured };
}

/** A recording made here, with the stream it went through and what identifies its run. */
function nodeRecording(
  recorded: RecordedColumns,
  errors: InputError[],
  request: AtlasRequest,
  captured: ReturnType<typeof captureStream>['captured'],
  fingerprint: string,
): Omit<NodeRecording, 'backend' | 'wasmThreads' | 'modelThreads'> {
  const stream = captured.stream!;
  return { recorded, errors, identity: identityOf(recorded, request, stream, fingerprint), stream, ordinals: captured.ordinals! };
}

/** The run's identity; the weights are hashed only when shards will be compared. */
function identityOf(
  recorded: RecordedColumns,
  request: AtlasRequest,
  recorder: StreamRecorder,
  fingerprint: string,
): ShardIdentity {
  const { state } = recorder;
  return {
    fingerprint,
    modality: recorded.modality,
    model: recorded.model,
    layer: recorder.layer,
    layerShape: recorded.layerShape,
    samplesPerInput: recorded.samplesPerInput,
    params: request.params,
    sampleRows: state.sample.capacity,
    unitTopK: state.top.k,
    covariance: state.moments !== null,
  };
}

async function recordImagesInNode(options: NodeAtlasOptions): Promise<Omit<NodeRecording, 'backend' | 'wasmThreads' | 'modelThreads'>> {
  const model = await loadModelForCli(options.model, options);
  try {
    let images: ImageProvider;
    if (options.images) images = await folderProvider(options.images);
    else if (options.model === 'default') images = await bundledSample();
    else throw new Error('No images given: pass --images <folder> (the bundled sample only fits the default model).');
    if (options.shard) images = shardProvider(images, options.shard);
    const request = { layer: options.layer ?? model.defaultLayer, params: { ...CLI_DEFAULT_PARAMS, ...options.params } };
    const fingerprint = options.shard ? await modelFingerprint(model) : '';
    if (options.shard && images.count === 0) return emptyShard('image', model.info, model.layer(request.layer), request, options, fingerprint);
    const { stream, captured } = captureStream(options);
    const { errors, ...recorded } = await recordImageAtlas(model, images, request, {
      encodePng: pngDataUrl,
      thumbnailSize: options.thumbnailSize,
      stream,
      onProgress: options.onProgress,
      signal: options.signal,
    });
    return nodeRecording(recorded, errors, request, captured, fingerprint);
  } finally {
    model.dispose();
  }
}

async function recordTextInNode(options: NodeAtlasOptions, backend: string): Promise<Omit<NodeRecording, 'backend' | 'wasmThreads'>> {
  if (options.text === undefined) throw new Error(`${options.model} is a GPT-2: pass --text <file|folder> with the documents to record.`);
  const read = await readTextDocuments(options.text);
  // Shards hash the weights the model was loaded from; the recording threads load them too. Both read them once.
  let fingerprint = '';
  let files: readonly ModelFile[] = [];
  const model = await loadTextModelForCli(options.model, (f) => {
    files = f;
    if (options.shard) fingerprint = filesFingerprint(f);
  });
  let pool: TextRecordPool | null = null;
  try {
    const request = { layer: options.layer ?? model.defaultLayer, params: { ...TEXT_CLI_DEFAULT_PARAMS, ...options.params } };
    const documents = options.shard ? shardDocuments(read.documents, options.shard) : read.documents;
    if (options.shard && documents.length === 0) {
      return { ...emptyShard('text', model.info, model.layer(request.layer), request, options, fingerprint), errors: read.errors, modelThreads: 1 };
    }
    model.layer(request.layer);
    if ((options.threads ?? 1) > 1) pool = await openTextRecordPool(model, files, options.threads!, backend);
    files = [];
    const { stream, captured } = captureStream(options);
    const stage = { stream, forward: pool ?? undefined, onProgress: options.onProgress, signal: options.signal };
    const { errors, ...recorded } = await recordTextAtlas(model, documents, request, stage);
    return { ...nodeRecording(recorded, [...read.errors, ...errors], request, captured, fingerprint), modelThreads: pool?.threads ?? 1 };
  } finally {
    await pool?.close();
    model.dispose();
  }
}

/**
 * The recording of a shard whose slice holds no inputs (more shards than inputs, or a slice the hash left
 * empty): no rows, so that the merge still finds every shard of the run.
 */
function emptyShard<M extends Modality>(
  modality: M,
  model: ModalityModels[M],
  layer: LayerInfo,
  request: AtlasRequest,
  options: NodeAtlasOptions,
  fingerprint: string,
): Omit<NodeRecording, 'backend' | 'wasmThreads' | 'modelThreads'> {
  const notices: string[] = [];
  const samplesPerInput = resolveSampling(layer, request.params.samplesPerInput, notices);
  const { stream, finish } = openRecordingStream(layer, options.stream, { seed: request.params.seed, unitTopK: request.params.topK, ordinals: [] });
  const { table, units } = finish(notices);
  const previews: ModalityInputs[Modality] = modality === 'image' ? { thumbnails: [] } : { tokenIds: [], tokens: [] };
  const recorded = {
    modality,
    model,
    previews,
    table,
    layerShape: layer.shape,
    samplesPerInput,
    names: [],
    labels: [],
    predicted: new Int32Array(0),
    probability: new Float32Array(0),
    notices,
    units,
  } as RecordedColumns;
  return { recorded, errors: [], identity: identityOf(recorded, request, stream, fingerprint), stream, ordinals: [] };
}

/** The inputs of one shard: those whose name hashes to it, each keeping its index in the whole folder as its ordinal. */
export function shardProvider(images: ImageProvider, shard: ShardSpec): ImageProvider {
  const picked: number[] = [];
  for (let i = 0; i < images.count; i++) if (shardOf(images.name(i), shard.count) === shard.index) picked.push(i);
  return {
    count: picked.length,
    name: (k) => images.name(picked[k]),
    label: (k) => images.label(picked[k]),
    load: (k) => images.load(picked[k]),
    ordinal: (k) => (images.ordinal ? images.ordinal(picked[k]) : picked[k]),
  };
}

/** The documents of one shard: those whose index hashes to it, each keeping its index as its ordinal. */
export function shardDocuments(documents: readonly TextDocument[], shard: ShardSpec): TextDocument[] {
  return documents.map((doc, d) => ({ ...doc, ordinal: doc.ordinal ?? d })).filter((doc) => shardOf(String(doc.ordinal), shard.count) === shard.index);
}

/** A hash of a GPT-2's files (config and weights): shards of one run must share it. */
function filesFingerprint(files: readonly ModelFile[]): string {
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(file.name);
    hash.update(file.bytes as Uint8Array);
  }
  return hash.digest('hex');
}

/** A shard's per-input columns, for its inputs.json. */
export function shardInputs(recording: NodeRecording): ShardInputs {
  const { recorded, ordinals } = recording;
  return {
    ordinals,
    names: recorded.names,
    labels: recorded.labels,
    predicted: Array.from(recorded.predicted),
    probability: Array.from(recorded.probability),
    previews: recorded.previews,
  };
}
