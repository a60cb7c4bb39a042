import type { BackendInfo, BuildRequest, ImageSource, InputError, ModelSource, ModelSummary } from '../app/pipelineTypes';
import type { ProgressEvent } from '../compute/types';
import type { RecordedColumns } from '../export/assemble';
import { artifactsFromFiles, artifactsFromUrl } from '../model/artifacts';
import { AtlasModel } from '../model/atlasModel';
import { chooseBackend } from '../model/backend';
import type { RawImage } from '../model/preprocess';
import { sampleProvider } from '../model/providers';
import { recordActivations, type ImageProvider } from '../model/record';
import { parseSample } from '../model/sample';
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
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return `data:image/png;base64,${btoa(binary)}`;
}

function blobProvider(images: ImageSource[]): ImageProvider {
  return {
    count: images.length,
    name: (i) => images[i].name,
    label: (i) => images[i].label,
    load: (i) => decodeBlob(images[i].blob),
  };
}

export interface RecordResult {
  recorded: RecordedColumns;
  model: { name: string; kind: 'layers' | 'graph'; inputHeight: number; inputWidth: number; inputChannels: number; classNames: string[] | null };
  samplesPerImage: 'pooled' | 'all' | number;
  thumbnails: string[];
  errors: InputError[];
  notices: string[];
}

/** Model loading and activation recording, served by model.worker.ts so TF.js never blocks the page. */
export function createModelService(assets: BundledAssets) {
  let model: AtlasModel | null = null;
  let backend: BackendInfo | null = null;

  const summary = (m: AtlasModel): ModelSummary => ({
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
      let loaded: { artifacts: Parameters<typeof AtlasModel.fromArtifacts>[0]; name: string };
      if (source.kind === 'files') loaded = await artifactsFromFiles(source.files);
      else if (source.kind === 'url') loaded = { artifacts: await artifactsFromUrl(source.url), name: source.url.split('/').slice(-2)[0] || source.url };
      else {
        const artifacts = await artifactsFromUrl(assets.modelJsonUrl, fetch, (name) => assets.weightUrls[name] ?? name);
        loaded = { artifacts, name: 'fashion-cnn (built-in)' };
      }
      const next = await AtlasModel.fromArtifacts(loaded.artifacts, loaded.name);
      model?.dispose();
      model = next;
      return summary(model);
    },

    async record(context: CallContext, request: BuildRequest): Promise<RecordResult> {
      if (!model) throw new Error('No model is loaded.');
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
          thumbnails,
          errors: recording.errors,
          notices: recording.notices,
        },
        [table.values.buffer, table.input.buffer, table.x.buffer, table.y.buffer],
      );
    },
  };
}

export type ModelService = ReturnType<typeof createModelService>;
