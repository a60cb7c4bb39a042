import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
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
import { documentsFromFiles, type TextFile } from '../model/text/documents';
import { loadHubModel } from '../model/text/hub';
import { recordTextAtlas } from '../model/text/recordText';
import { BUILT_IN_TEXT_MODEL_NAME, TextModel, type ModelFile } from '../model/text/textModel';
import { tokenTexts } from '../model/text/tokenizer';
import type { WeightCache } from '../model/text/weightCache';
import type { BackendInfo, BackendRequest, BuildRequest, DirectionOutputs, ImageSource, InputError, LoadProgress, ModelSource, ModelSummary, TextSource } from './protocol';
import type { CallContext } from './rpc';
import { withTransfer } from './rpc';

/** How the model worker reaches what differs between the page and Node: the bundled assets, storage, decoding, PNG encoding. */
export interface ModelServiceDeps {
  /** The built-in image model's artifacts. */
  loadDefaultModel(): Promise<tf.io.ModelArtifacts>;
  /** The bundled sample of the built-in image model. */
  loadSample(): Promise<ImageProvider>;
  /** The built-in text model's files (config.json, model.safetensors). */
  loadDefaultTextModel(): Promise<ModelFile[]>;
  /** The bundled sample of the built-in text model, as text files. */
  loadTextSample(): Promise<TextFile[]>;
  /** Where models fetched from the hub are kept, so the next load is offline; null: not kept. */
  weightCache(): WeightCache | null;
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

/** The loaded model, of either modality. */
type LoadedModel = { modality: 'image'; model: ImageModel } | { modality: 'text'; model: TextModel };

const isTextCheckpointFile = (name: string) => /(^|\/)config\.json$|\.safetensors(\.index\.json)?$/.test(name);

/** A text model's files from the user's picks: config.json, the safetensors and an index, as bytes. */
const modelFilesOf = (files: File[]): Promise<ModelFile[]> =>
  Promise.all(files.map(async (f) => ({ name: f.webkitRelativePath || f.name, bytes: new Uint8Array(await f.arrayBuffer()) })));

const textFilesOf = (texts: TextSource[]): TextFile[] =>
  texts.map((t) => ({ path: /\.(txt|jsonl)$/i.test(t.name) ? t.name : `${t.name}.txt`, bytes: new TextEncoder().encode(t.text) }));

/** Model loading and activation recording, served by model.worker.ts so TF.js never blocks the page. */
export function createModelService(deps: ModelServiceDeps) {
  let loaded: LoadedModel | null = null;
  /** The image model, for what only images have (feature visualisation). */
  const imageModel = () => (loaded?.modality === 'image' ? loaded.model : null);
  const textModel = (): TextModel => {
    if (loaded?.modality !== 'text') throw new Error('This needs a text model: load GPT-2 first.');
    return loaded.model;
  };
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
    const model = imageModel();
    if (!model || !featureVis) throw new Error('Record an image model\'s layer before asking for feature visualisations.');
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
  const summary = (l: LoadedModel): ModelSummary => {
    const extras = { layers: l.model.layers, defaultLayer: l.model.defaultLayer, fingerprint };
    return l.modality === 'image' ? { ...l.model.info, modality: 'image', ...extras } : { ...l.model.info, modality: 'text', ...extras };
  };

  const loadText = async (context: CallContext, source: ModelSource): Promise<TextModel> => {
    if (source.kind === 'default-text') return TextModel.fromFiles(await deps.loadDefaultTextModel(), BUILT_IN_TEXT_MODEL_NAME);
    if (source.kind === 'files') return TextModel.fromFiles(await modelFilesOf(source.files), source.files.find((f) => /config\.json$/.test(f.name))?.webkitRelativePath.split('/')[0] || 'GPT-2 (files)');
    if (source.kind !== 'hub') throw new Error(`A ${source.kind} source is not a text model.`);
    const load = await loadHubModel(source.id, {
      baseUrl: source.baseUrl,
      cache: deps.weightCache(),
      signal: context.signal,
      onProgress: (p) =>
        context.progress({
          done: p.loaded,
          total: p.total ?? 0,
          message: `${p.file}: ${(p.loaded / 1e6).toFixed(1)}${p.total ? ` of ${(p.total / 1e6).toFixed(1)}` : ''} MB`,
        } satisfies LoadProgress),
    });
    context.progress({ done: 1, total: 1, message: load.fromCache ? 'Read from this browser\'s storage; building the model…' : 'Building the model…' } satisfies LoadProgress);
    return TextModel.fromFiles(load.files, source.id);
  };

  const loadImage = async (source: ModelSource): Promise<ImageModel> => {
    let found: { artifacts: Parameters<typeof ImageModel.fromArtifacts>[0]; name: string };
    if (source.kind === 'files') found = await artifactsFromFiles(source.files);
    else if (source.kind === 'url') found = { artifacts: await artifactsFromUrl(source.url), name: source.url.split('/').slice(-2)[0] || source.url };
    else found = { artifacts: await deps.loadDefaultModel(), name: BUILT_IN_MODEL_NAME };
    return ImageModel.fromArtifacts(found.artifacts, found.name);
  };

  const isTextSource = (source: ModelSource) =>
    source.kind === 'default-text' || source.kind === 'hub' || (source.kind === 'files' && source.files.some((f) => isTextCheckpointFile(f.name)));

  /** Each token's activation along `direction` (its projection on the unit direction), one document at a time. */
  const tokenActivations = async (layer: string, direction: Float32Array, documents: number[][]): Promise<Float32Array[]> => {
    const model = textModel();
    const norm = Math.hypot(...direction) || 1;
    const out: Float32Array[] = [];
    for (const ids of documents) {
      const acts = model.record([Int32Array.from(ids)], layer);
      try {
        const projected = tf.tidy(() => tf.matMul(acts.reshape([ids.length, direction.length]), tf.tensor2d(direction, [direction.length, 1])).div(norm));
        out.push((await projected.data()) as Float32Array);
        projected.dispose();
      } finally {
        acts.dispose();
      }
    }
    return out;
  };

  return {
    async init(_: CallContext, request: BackendRequest): Promise<BackendInfo> {
      if (!backend) {
        // Threads are opt-in (?threads=N): with the bundle fixed (vite.config.ts) the threaded build starts,
        // but its pool was only ever seen at one thread here (2 cores), which runs slower than plain SIMD.
        if (request.threads) setThreadsCount(request.threads);
        else tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
        const choice = await chooseBackend({ override: request.backend });
        backend = { ...choice, threads: choice.name === 'wasm' ? getThreadsCount() : 1 };
      }
      return backend;
    },

    /** Loads an image model (TF.js) or a GPT-2 (config.json + safetensors, or a hub id); the previous model stays until the new one is ready. */
    async loadModel(context: CallContext, source: ModelSource): Promise<ModelSummary> {
      await useMainBackend();
      const next: LoadedModel = isTextSource(source)
        ? { modality: 'text', model: await loadText(context, source) }
        : { modality: 'image', model: await loadImage(source) };
      loaded?.model.dispose();
      loaded = next;
      featureVis = null;
      fingerprint = next.modality === 'image' ? await modelFingerprint(next.model) : `${next.model.info.name}:${next.model.info.nLayer}x${next.model.info.nEmbd}`;
      return summary(next);
    },

    async record(context: CallContext, request: BuildRequest): Promise<RecordResult> {
      if (!loaded) throw new Error('No model is loaded.');
      await useMainBackend();
      const { inputs } = request;
      if (loaded.modality === 'text') {
        if (inputs.kind === 'images') throw new Error('This is a text model: give it text, not images.');
        const read = documentsFromFiles(inputs.kind === 'sample' ? await deps.loadTextSample() : textFilesOf(inputs.texts));
        if (read.documents.length === 0) throw new Error(`No text to record${read.errors[0] ? ` (${read.errors[0].name}: ${read.errors[0].reason})` : ''}.`);
        featureVis = null;
        const recorded = await recordTextAtlas(loaded.model, read.documents, request, {
          signal: context.signal,
          onProgress: (event: ProgressEvent) => context.progress(event),
        });
        const { table } = recorded;
        return withTransfer(
          { ...recorded, errors: [...read.errors, ...recorded.errors], iconSettings: '' },
          [table.values.buffer, table.input.buffer, table.position.buffer, ...(table.key ? [table.key.buffer] : [])],
        );
      }
      if (inputs.kind === 'text') throw new Error('This is an image model: give it images, not text.');
      const model = loaded.model;
      const size = { width: model.inputWidth, height: model.inputHeight };
      const images = inputs.kind === 'sample' ? await deps.loadSample() : blobProvider(inputs.images, (blob) => deps.decodeImage(blob, size));
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
      const model = imageModel();
      if (!model || !featureVis) throw new Error('Record an image model\'s layer before asking for feature visualisations.');
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

    /** Each token's activation along `direction` at `layer`, for whole documents (token ids, `<|endoftext|>` first). */
    tokenActivations: async (_: CallContext, layer: string, direction: Float32Array, documents: number[][]): Promise<Float32Array[]> => {
      await useMainBackend();
      const out = await tokenActivations(layer, direction, documents);
      return withTransfer(out, out.map((a) => a.buffer as ArrayBuffer));
    },

    /** The k tokens a direction at `layer` promotes most, and the k it suppresses most, in the next-token logits. */
    async directionOutputs(_: CallContext, layer: string, direction: Float32Array, k: number): Promise<DirectionOutputs> {
      await useMainBackend();
      const logits = textModel().gpt2.directionLogits(layer, direction);
      const order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a]);
      const pick = (ids: number[]) => {
        const texts = tokenTexts(ids);
        return ids.map((id, n) => ({ id, text: texts[n], logit: logits[id] }));
      };
      return { promoted: pick(order.slice(0, k)), suppressed: pick(order.slice(-k).reverse()) };
    },
  };
}

export type ModelService = ReturnType<typeof createModelService>;
