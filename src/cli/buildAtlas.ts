import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  buildAtlas,
  DEFAULT_ATLAS_PARAMS,
  layoutAtlas,
  type Atlas,
  type AtlasParams,
  type AtlasRequest,
  type InputError,
  type RecordedColumns,
} from '../compute/atlas';
import type { ActivationTable, ProgressCallback } from '../compute/types';
import { chooseBackend, type BackendChoice } from '../model/backend';
import { BUILT_IN_MODEL_NAME, ImageModel } from '../model/image/imageModel';
import type { Preprocessing } from '../model/image/preprocess';
import { recordImageAtlas, type ImageProvider } from '../model/image/recordImages';
import { documentsFromFiles, type DocumentsRead } from '../model/text/documents';
import { recordTextAtlas } from '../model/text/recordText';
import { BUILT_IN_TEXT_MODEL_NAME, TextModel } from '../model/text/textModel';
import { artifactsFromDirectory, folderProvider, isTextModelFolder, pngDataUrl, readClassNames, textFilesFromPath, textModelFiles } from './nodeIo';

export const DEFAULT_MODEL_DIR = fileURLToPath(new URL('../../models/fashion-cnn', import.meta.url));
export const DEFAULT_TEXT_MODEL_DIR = fileURLToPath(new URL('../../models/text-gpt2', import.meta.url));

/** The command line records one pooled vector per image unless asked for positions. */
export const CLI_DEFAULT_PARAMS: AtlasParams = { ...DEFAULT_ATLAS_PARAMS, samplesPerInput: 'pooled' };
/** For text it records tokens, as the page does: a pooled window mixes every token it holds. */
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
  maxValues?: number;
  thumbnailSize?: number;
  /** Keep the recorded activations of the atlas's points, in point order (for --save-activations). */
  keepActivations?: boolean;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

export interface NodeAtlasResult {
  atlas: Atlas;
  backend: BackendChoice;
  errors: InputError[];
  /** points x dim float32, row-major, when asked for with keepActivations. */
  activations?: Float32Array;
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
export async function loadTextModelForCli(model: string): Promise<TextModel> {
  const builtIn = model === 'default';
  const dir = builtIn ? DEFAULT_TEXT_MODEL_DIR : model;
  if (builtIn && !(await stat(dir).catch(() => null))) {
    throw new Error('The built-in text model (models/text-gpt2) is not in this checkout: build it with `npm run train:text`, or pass --model <folder>.');
  }
  return TextModel.fromFiles(await textModelFiles(dir), builtIn ? BUILT_IN_TEXT_MODEL_NAME : basename(dir));
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

/** The whole pipeline in Node: the same two stages the page runs in its workers, here in process. */
export async function buildAtlasInNode(options: NodeAtlasOptions): Promise<NodeAtlasResult> {
  if (options.text !== undefined && options.images !== undefined) throw new Error('Pass --images or --text, not both.');
  const backend = await chooseBackend({ node: true });
  if (await isTextModelArg(options.model, options.text)) return { ...(await buildTextAtlasInNode(options)), backend };
  return { ...(await buildImageAtlasInNode(options)), backend };
}

async function buildImageAtlasInNode(options: NodeAtlasOptions): Promise<Omit<NodeAtlasResult, 'backend'>> {
  const model = await loadModelForCli(options.model, options);
  try {
    let images: ImageProvider;
    if (options.images) images = await folderProvider(options.images);
    else if (options.model === 'default') images = await bundledSample();
    else throw new Error('No images given: pass --images <folder> (the bundled sample only fits the default model).');
    const request = { layer: options.layer ?? model.defaultLayer, params: { ...CLI_DEFAULT_PARAMS, ...options.params } };
    const { onProgress, signal } = options;
    return await runStages(request, options, (req) =>
      recordImageAtlas(model, images, req, { encodePng: pngDataUrl, thumbnailSize: options.thumbnailSize, maxValues: options.maxValues, onProgress, signal }),
    );
  } finally {
    model.dispose();
  }
}

async function buildTextAtlasInNode(options: NodeAtlasOptions): Promise<Omit<NodeAtlasResult, 'backend'>> {
  if (options.text === undefined) throw new Error(`${options.model} is a GPT-2: pass --text <file|folder> with the documents to record.`);
  const read = await readTextDocuments(options.text);
  const model = await loadTextModelForCli(options.model);
  try {
    const request = { layer: options.layer ?? model.defaultLayer, params: { ...TEXT_CLI_DEFAULT_PARAMS, ...options.params } };
    const { onProgress, signal } = options;
    const built = await runStages(request, options, (req) => recordTextAtlas(model, read.documents, req, { maxValues: options.maxValues, onProgress, signal }));
    return { ...built, errors: [...read.errors, ...built.errors] };
  } finally {
    model.dispose();
  }
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

/** Records then lays out, in process; keeps the table the layout used, whose rows are the atlas's points in order. */
async function runStages(
  request: AtlasRequest,
  options: NodeAtlasOptions,
  record: (request: AtlasRequest) => Promise<RecordedColumns & { errors: InputError[] }>,
): Promise<Omit<NodeAtlasResult, 'backend'>> {
  let pointTable: ActivationTable | null = null;
  const { atlas, errors } = await buildAtlas(request, {
    record,
    layout: (recorded, params) => layoutAtlas(recorded, params, options.onProgress, options.signal, (table) => (pointTable = table)),
  });
  const activations = options.keepActivations ? (pointTable as ActivationTable | null)?.values : undefined;
  return { atlas, errors, ...(activations ? { activations } : {}) };
}
