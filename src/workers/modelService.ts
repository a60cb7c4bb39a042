import * as tf from '@tensorflow/tfjs';
import type { RecordedColumns } from '../compute/atlas';
import type { ProgressEvent } from '../compute/types';
import { chooseFeatureVisBackend } from '../featureVis/backendSupport';
import { settingsKey } from '../featureVis/cache';
import { modelFingerprint } from '../featureVis/fingerprint';
import { visualiseDirections } from '../featureVis/optimise';
import { colourBasisFromImages } from '../featureVis/parameterisation';
import { whiteningMatrix } from '../featureVis/whitening';
import { chooseBackend } from '../model/backend';
import { artifactsFromFiles, artifactsFromUrl } from '../model/image/artifacts';
import { BUILT_IN_MODEL_NAME, ImageModel } from '../model/image/imageModel';
import type { RawImage } from '../model/image/preprocess';
import { recordImageAtlas, type ImageProvider } from '../model/image/recordImages';
import type { BackendInfo, BuildRequest, ImageSource, InputError, ModelSource, ModelSummary } from './protocol';
import type { CallContext } from './rpc';
import { withTransfer } from './rpc';

/** How the model worker reaches what differs between the page and Node: the bundled assets, decoding, PNG encoding. */
export interface ModelServiceDeps {
  /** The built-in model's artifacts. */
  loadDefaultModel(): Promise<tf.io.ModelArtifacts>;
  /** The bundled sample of the built-in model. */
  loadSample(): Promise<ImageProvider>;
  /** Decodes an image file straight to the size the model takes (never at full resolution first). */
  decodeImage(blob: Blob, size: { width: number; height: number }): Promise<RawImage>;
  encodePng(image: RawImage): Promise<string>;
}

function blobProvider(images: ImageSource[], decode: (blob: Blob) => Promise<RawImage>): ImageProvider {
  return {
    count: images.length,
    name: (i) => images[i].name,
    label: (i) => images[i].label,
    load: (i) => decode(images[i].blob),
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

export type RecordResult = RecordedColumns & {
  errors: InputError[];
  /** settingsKey of what shapes icons besides the direction. */
  iconSettings: string;
};

/** Model loading and activation recording, served by model.worker.ts so TF.js never blocks the page. */
export function createModelService(deps: ModelServiceDeps) {
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
  const summary = (m: ImageModel): ModelSummary => ({ ...m.info, modality: 'image', layers: m.layers, defaultLayer: m.defaultLayer, fingerprint });

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
        loaded = { artifacts: await deps.loadDefaultModel(), name: BUILT_IN_MODEL_NAME };
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
      const size = { width: model.inputWidth, height: model.inputHeight };
      const images = request.inputs === 'sample' ? await deps.loadSample() : blobProvider(request.inputs, (blob) => deps.decodeImage(blob, size));
      const { thumbnails, ...recorded } = await recordImageAtlas(model, images, request, {
        encodePng: deps.encodePng,
        signal: context.signal,
        onProgress: (event: ProgressEvent) => context.progress(event),
      });
      const { table } = recorded;
      featureVis = {
        layer: request.layer,
        whitening: whiteningMatrix(table),
        colourBasis: model.inputChannels === 3 ? colourBasisFromImages(thumbnails) : undefined,
        site: recorded.samplesPerInput === 'pooled' ? 'pooled' : 'centre',
      };
      return withTransfer(
        { ...recorded, iconSettings: settingsKey({ ...featureVis, layer: undefined }) },
        [table.values.buffer, table.input.buffer, table.position.buffer],
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
