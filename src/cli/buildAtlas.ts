import { fileURLToPath } from 'node:url';
import { buildAtlas, DEFAULT_ATLAS_PARAMS, layoutAtlas, type Atlas, type AtlasParams, type InputError } from '../compute/atlas';
import type { ProgressCallback } from '../compute/types';
import { chooseBackend, type BackendChoice } from '../model/backend';
import { BUILT_IN_MODEL_NAME, ImageModel } from '../model/image/imageModel';
import type { Preprocessing } from '../model/image/preprocess';
import { recordImageAtlas, type ImageProvider } from '../model/image/recordImages';
import { artifactsFromDirectory, folderProvider, pngDataUrl, readClassNames } from './nodeIo';

export const DEFAULT_MODEL_DIR = fileURLToPath(new URL('../../models/fashion-cnn', import.meta.url));

/** The command line records one pooled vector per image unless asked for positions. */
export const CLI_DEFAULT_PARAMS: AtlasParams = { ...DEFAULT_ATLAS_PARAMS, samplesPerInput: 'pooled' };

export interface NodeAtlasOptions {
  /** 'default' or a TF.js model directory / model.json path. */
  model: string;
  /** An image folder (class sub-folders give labels); omitted means the bundled sample (default model only). */
  images?: string;
  /** The layer to record; default: the model's default layer. */
  layer?: string;
  /** Any parameters left out take CLI_DEFAULT_PARAMS. */
  params?: Partial<AtlasParams>;
  /** A class-name file (one per line, or synset_words.txt). */
  labels?: string;
  preprocessing?: Preprocessing;
  inputSize?: number;
  maxValues?: number;
  thumbnailSize?: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

export interface NodeAtlasResult {
  atlas: Atlas;
  backend: BackendChoice;
  errors: InputError[];
}

/** Loads a model from the command line's --model value. */
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

/** The bundled sample as inputs (it only fits the built-in model). */
export async function bundledSample(): Promise<ImageProvider> {
  const [{ sampleProvider }, { loadSampleFromDisk }] = await Promise.all([import('../model/image/providers'), import('../model/image/sampleNode')]);
  return sampleProvider(await loadSampleFromDisk());
}

/** The whole pipeline in Node: the same two stages the page runs in its workers, here in process. */
export async function buildAtlasInNode(options: NodeAtlasOptions): Promise<NodeAtlasResult> {
  const backend = await chooseBackend({ node: true });
  const model = await loadModelForCli(options.model, options);
  try {
    let images: ImageProvider;
    if (options.images) images = await folderProvider(options.images);
    else if (options.model === 'default') images = await bundledSample();
    else throw new Error('No images given: pass --images <folder> (the bundled sample only fits the default model).');
    const request = { layer: options.layer ?? model.defaultLayer, params: { ...CLI_DEFAULT_PARAMS, ...options.params } };
    const { onProgress, signal } = options;
    const { atlas, errors } = await buildAtlas(request, {
      record: (req) =>
        recordImageAtlas(model, images, req, {
          encodePng: pngDataUrl,
          thumbnailSize: options.thumbnailSize,
          maxValues: options.maxValues,
          onProgress,
          signal,
        }),
      layout: (recorded, params) => layoutAtlas(recorded, params, onProgress, signal),
    });
    return { atlas, backend, errors };
  } finally {
    model.dispose();
  }
}
