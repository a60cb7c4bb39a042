import type { BackendInfo, BuildRequest, ImageSource, InputError, ModelSource, ModelSummary } from './protocol';
import type { ProgressEvent } from '../compute/types';
import type { RecordedColumns } from '../compute/atlas';
import { artifactsFromFiles, artifactsFromUrl } from '../model/image/artifacts';
import { ImageModel } from '../model/image/imageModel';
import { chooseBackend } from '../model/backend';
import type { RawImage } from '../model/image/preprocess';
import { sampleProvider } from '../model/image/providers';
import { recordActivations, type ImageProvider } from '../model/image/recordImages';
import { parseSample } from '../model/image/sample';
import { chooseFeatureVisBackend } from '../featureVis/backendSupport';
import { visualiseDirections } from '../featureVis/optimise';
import { colourBasisFromImages } from '../featureVis/parameterisation';
import { whiteningMatrix } from '../featureVis/whitening';
import { modelFingerprint } from '../featureVis/fingerprint';
import { settingsKey } from '../featureVis/cache';
import * as tf from '@tensorflow/tfjs';
import { bytesToBase64 } from '../lib/base64';
import type { CallContext } from './rpc';
import { withTransfer } from './rpc';

/** Where the built-in model and sample are served from (Vite-emitted URLs, resolved in the worker). */
export interface BundledAssets {
  modelJsonUrl: string;
  weightUrls: Record<string, string>;
  sampleManifestUrl: string;
  sampleDataUrl: string;
}

/** Decodes an image file off the main thread: createImageBitmap, then pixels from an OffscreenCanvas. */
export async function decodeBlob(blob: Blob): Promise<RawImage> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob);
  } catch {
    throw new Error(blob.type && !blob.type.startsWith('image/') ? `not an image (${blob.type})` : 'not a readable image');
  }
  try {
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext('2d')!;
    ctx.drawImage(bitmap, 0, 0);
    const { data, width, height } = ctx.getImageData(0, 0, bitmap.width, bitmap.height);
    return { width, height, channels: 4, data };
  } finally {
    bitmap.close();
  }
}

/** A PNG data URL of decoded pixels (1, 3 or 4 channels). */
export async function pngDataUrl(image: RawImage): Promise<string> {
  const { width, height, channels, data } = image;
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    const gray = channels < 3;
    rgba[4 * p] = data[p * channels];
    rgba[4 * p + 1] = data[p * channels + (gray ? 0 : 1)];
    rgba[4 * p + 2] = data[p * channels + (gray ? 0 : 2)];
    rgba[4 * p + 3] = channels === 4 ? data[p * 4 + 3] : 255;
  }
  const canvas = new OffscreenCanvas(width, height);
  canvas.getContext('2d')!.putImageData(new ImageData(rgba, width, height), 0, 0);
  const bytes = new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer());
  return `data:image/png;base64,${bytesToBase64(bytes)}`;
}

function blobProvider(images: ImageSource[]): ImageProvider {
  return {
    count: images.length,
    name: (i) => images[i].name,
    label: (i) => images[i].label,
    load: (i) => decodeBlob(images[i].blob),
  };
}

/** Whether feature visualisation can run for the recorded layer, where, and a sentence for the user. */
export interface FeatureVisSupport {
  backend: string | null;
  message: string;
}

export interface IconBatch {
  /** One RGBA image per direction. */
  images: Uint8ClampedArray[];
  width: number;
  height: number;
  scores: Float32Array;
  backend: string;
}

export interface VisualiseRequest {
  /** k x D directions at the recorded layer. */
  directions: Float32Array;
  steps?: number;
  seed?: number;
  /** Skip the whitening S (plain direction objective), e.g. for a single neuron. */
  whiten?: boolean;
}

export interface RecordResult {
  recorded: RecordedColumns;
  model: ModelSummary;
  samplesPerImage: 'pooled' | 'all' | number;
  /** settingsKey of what shapes icons besides the direction. */
  iconSettings: string;
  thumbnails: string[];
  errors: InputError[];
  notices: string[];
}

/** Model loading and activation recording, served by model.worker.ts so TF.js never blocks the page. */
export function createModelService(assets: BundledAssets) {
  let model: ImageModel | null = null;
  let backend: BackendInfo | null = null;
  /** What feature visualisation needs from the last recording: whitening, colour basis, where to read h. */
  let featureVis: {
    layer: string;
    whitening: Float32Array;
    colourBasis?: Float32Array;
    site: 'centre' | 'pooled';
    support?: FeatureVisSupport;
  } | null = null;

  const ensureSupport = async (): Promise<FeatureVisSupport> => {
    if (!model || !featureVis) throw new Error('Record a layer before asking for feature visualisations.');
    if (!featureVis.support) {
      const choice = await chooseFeatureVisBackend(model, featureVis.layer);
      featureVis.support = { backend: choice.backend, message: choice.message };
      await useMainBackend();
    }
    return featureVis.support;
  };

  /** Recording and inference run on the chosen backend; feature visualisation may have moved TF elsewhere. */
  const useMainBackend = async () => {
    if (backend && tf.getBackend() !== backend.name) await tf.setBackend(backend.name);
  };

  let fingerprint = '';
  const summary = (m: ImageModel): ModelSummary => ({
    fingerprint,
    name: m.name,
    kind: m.kind,
    inputHeight: m.inputHeight,
    inputWidth: m.inputWidth,
    inputChannels: m.inputChannels,
    layers: m.layers,
    defaultLayer: m.defaultLayer,
    classNames: m.classNames,
  });

  const loadSample = async (): Promise<ImageProvider> => {
    const [manifest, bytes] = await Promise.all([
      fetch(assets.sampleManifestUrl).then((r) => r.json()),
      fetch(assets.sampleDataUrl).then((r) => r.arrayBuffer()),
    ]);
    return sampleProvider(parseSample(manifest, new Uint8Array(bytes)));
  };

  return {
    async init(_: CallContext, override: string | null): Promise<BackendInfo> {
      backend ??= await chooseBackend({ override });
      return backend;
    },

    async loadModel(_: CallContext, source: ModelSource): Promise<ModelSummary> {
      let loaded: { artifacts: Parameters<typeof ImageModel.fromArtifacts>[0]; name: string };
      if (source.kind === 'files') loaded = await artifactsFromFiles(source.files);
      else if (source.kind === 'url') loaded = { artifacts: await artifactsFromUrl(source.url), name: source.url.split('/').slice(-2)[0] || source.url };
      else {
        const artifacts = await artifactsFromUrl(assets.modelJsonUrl, fetch, (name) => assets.weightUrls[name] ?? name);
        loaded = { artifacts, name: 'fashion-cnn (built-in)' };
      }
      await useMainBackend();
      const next = await ImageModel.fromArtifacts(loaded.artifacts, loaded.name);
      model?.dispose();
      model = next;
      featureVis = null;
      fingerprint = await modelFingerprint(model);
      return summary(model);
    },

    async record(context: CallContext, request: BuildRequest): Promise<RecordResult> {
      if (!model) throw new Error('No model is loaded.');
      await useMainBackend();
      const images = request.images === 'sample' ? await loadSample() : blobProvider(request.images);
      const recording = await recordActivations(model, images, {
        layer: request.layer,
        samplesPerImage: request.samplesPerImage,
        seed: request.seed,
        thumbnailSize: 64,
        signal: context.signal,
        onProgress: (event: ProgressEvent) => context.progress(event),
      });
      const thumbnails = await Promise.all(recording.thumbnails.map(pngDataUrl));
      const { table } = recording;
      featureVis = {
        layer: request.layer,
        whitening: whiteningMatrix(table),
        colourBasis: model.inputChannels === 3 ? colourBasisFromImages(recording.thumbnails) : undefined,
        site: recording.samplesPerImage === 'pooled' ? 'pooled' : 'centre',
      };
      return withTransfer(
        {
          recorded: {
            table,
            layerShape: model.layer(request.layer).shape,
            names: recording.names,
            labels: recording.labels,
            predicted: recording.predicted,
            probability: recording.probability,
          },
          model: summary(model),
          samplesPerImage: recording.samplesPerImage,
          iconSettings: settingsKey({ ...featureVis, layer: undefined }),
          thumbnails,
          errors: recording.errors,
          notices: recording.notices,
        },
        [table.values.buffer, table.input.buffer, table.x.buffer, table.y.buffer],
      );
    },

    /** Finds where feature visualisation of the recorded layer can run (probing gradients once per recording). */
    featureVisSupport: (_: CallContext): Promise<FeatureVisSupport> => ensureSupport(),

    /** Feature visualisations of k directions at the recorded layer, one batch, on the backend that has the gradients. */
    async visualise(context: CallContext, request: VisualiseRequest): Promise<IconBatch> {
      if (!model || !featureVis) throw new Error('Record a layer before asking for feature visualisations.');
      const support = await ensureSupport();
      if (!support.backend) throw new Error(support.message);
      if (tf.getBackend() !== support.backend) await tf.setBackend(support.backend);
      const result = await visualiseDirections(model, featureVis.layer, request.directions, {
        steps: request.steps,
        seed: request.seed,
        whitening: request.whiten === false ? undefined : featureVis.whitening,
        colourBasis: featureVis.colourBasis,
        site: featureVis.site,
        signal: context.signal,
        onProgress: (p) => context.progress(p),
      });
      return withTransfer(
        { images: result.images, width: result.width, height: result.height, scores: result.scores, backend: result.backend },
        result.images.map((im) => im.buffer as ArrayBuffer),
      );
    },
  };
}

export type ModelService = ReturnType<typeof createModelService>;
