import { fileURLToPath } from 'node:url';
import { project } from '../compute/projection';
import type { Metric, ProgressCallback, ProjectionMethod } from '../compute/types';
import { assembleAtlas } from '../compute/atlas';
import type { Atlas, AtlasParams } from '../export/atlasFile';
import { ImageModel } from '../model/image/imageModel';
import { chooseBackend, type BackendChoice } from '../model/backend';
import type { Preprocessing } from '../model/image/preprocess';
import { recordActivations, type ImageProvider } from '../model/image/recordImages';
import { artifactsFromDirectory, folderProvider, pngDataUrl, readClassNames } from './nodeIo';

export const DEFAULT_MODEL_DIR = fileURLToPath(new URL('../../models/fashion-cnn', import.meta.url));

export interface NodeAtlasOptions {
  /** 'default' or a TF.js model directory / model.json path. */
  model: string;
  /** An image folder (class sub-folders give labels); omitted means the bundled sample (default model only). */
  images?: string;
  layer?: string;
  samplesPerImage?: 'pooled' | 'all' | number;
  method?: ProjectionMethod;
  metric?: Metric;
  pcaDims?: number;
  seed?: number;
  gridSizes?: number[];
  minCellCount?: number;
  topK?: number;
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
  errors: { name: string; reason: string }[];
  notices: string[];
}

/** Loads a model from the command line's --model value. */
export async function loadModelForCli(model: string, options: Pick<NodeAtlasOptions, 'labels' | 'preprocessing' | 'inputSize'> = {}) {
  const dir = model === 'default' ? DEFAULT_MODEL_DIR : model;
  const { artifacts, name } = await artifactsFromDirectory(dir);
  const classNames = options.labels ? await readClassNames(options.labels) : undefined;
  return ImageModel.fromArtifacts(artifacts, model === 'default' ? 'fashion-cnn (built-in)' : name, {
    classNames,
    preprocessing: options.preprocessing,
    inputSize: options.inputSize,
  });
}

/** The whole pipeline in Node: record, project, bin, thumbnails - the same core the app runs. */
export async function buildAtlasInNode(options: NodeAtlasOptions): Promise<NodeAtlasResult> {
  const backend = await chooseBackend({ node: true });
  const model = await loadModelForCli(options.model, options);
  try {
    let images: ImageProvider;
    if (options.images) images = await folderProvider(options.images);
    else if (options.model === 'default') {
      const [{ sampleProvider }, { loadSampleFromDisk }] = await Promise.all([import('../model/image/providers'), import('../model/image/sampleNode')]);
      images = sampleProvider(await loadSampleFromDisk());
    }
    else throw new Error('No images given: pass --images <folder> (the bundled sample only fits the default model).');
    const layer = options.layer ?? model.defaultLayer;
    const seed = options.seed ?? 0;
    const recording = await recordActivations(model, images, {
      layer,
      samplesPerImage: options.samplesPerImage ?? 'pooled',
      seed,
      maxValues: options.maxValues,
      thumbnailSize: options.thumbnailSize,
      onProgress: options.onProgress,
      signal: options.signal,
    });
    const params: AtlasParams = {
      method: options.method ?? 'umap',
      metric: options.metric ?? 'euclidean',
      pcaDims: options.pcaDims ?? 50,
      seed,
      samplesPerImage: recording.samplesPerImage,
      minCellCount: options.minCellCount ?? 1,
      topK: options.topK ?? 16,
    };
    const { table } = recording;
    const layout = await project(
      table.values,
      table.count,
      table.dim,
      { method: params.method, metric: params.metric, pcaDims: params.pcaDims, seed },
      (done, total) => options.onProgress?.({ stage: 'project', done, total }),
      options.signal,
    );
    options.onProgress?.({ stage: 'grid', done: 0, total: 1 });
    const thumbnails = await Promise.all(recording.thumbnails.map(pngDataUrl));
    const atlas = assembleAtlas(
      { ...recording, layerShape: model.layer(layer).shape },
      layout,
      {
        name: model.name,
        kind: model.kind,
        inputHeight: model.inputHeight,
        inputWidth: model.inputWidth,
        inputChannels: model.inputChannels,
        classNames: model.classNames,
      },
      params,
      thumbnails,
      options.gridSizes,
    );
    options.onProgress?.({ stage: 'grid', done: 1, total: 1 });
    return { atlas, backend, errors: recording.errors, notices: recording.notices };
  } finally {
    model.dispose();
  }
}
