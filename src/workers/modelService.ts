import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { slicePreviews, withoutPreviews, type AtlasParams, type LayoutColumns, type Previews } from '../compute/atlas';
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
import { classGradients } from '../model/directions/classGradients';
import { recordImageNeuronInputs } from '../model/directions/imageNeuronInputs';
import { recordNeuronInputs, type NeuronInputs } from '../model/directions/neuronInputs';
import { DEFAULT_MAX_EXAMPLES, defaultThreshold, EXAMPLE_FRACTION, measurePolysemanticity } from '../model/directions/polysemanticity';
import { nextTokenGradients } from '../model/directions/textGradients';
import { preparedInputs } from '../model/image/modelInputs';
import { recordActivations, recordImageAtlas, type ImageProvider } from '../model/image/recordImages';
import { documentsFromFiles, type TextFile } from '../model/text/documents';
import { loadHubModel } from '../model/text/hub';
import { recordTextActivations, recordTextAtlas } from '../model/text/recordText';
import { BUILT_IN_TEXT_MODEL_NAME, TextModel, type ModelFile } from '../model/text/textModel';
import { encode, tokenTexts } from '../model/text/tokenizer';
import type { WeightCache } from '../model/text/weightCache';
import type {
  BackendInfo,
  BackendRequest,
  BuildRequest,
  ConceptActivations,
  DirectionOutputs,
  GradientRequest,
  GradientResult,
  ImageSource,
  InputError,
  InputSet,
  LayerPolysemanticityView,
  LoadProgress,
  NeuronClustersView,
  ModelSource,
  ModelSummary,
  TextSource,
  WaitProgress,
} from './protocol';
import { abortError } from '../lib/abort';
import { createPacer, nextTask } from '../lib/yieldToPage';
import type { CallContext } from './rpc';
import { withTransfer } from './rpc';
import { TaskQueue, type Priority } from './taskQueue';

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
  /** 'background' (the default: the atlas's icons) waits behind, and is stopped for, what the user asks; 'user' does not. */
  priority?: Priority;
}

/** How a method takes its turn on the model. */
interface QueuedTask {
  /** What it does, as a task waiting behind it says. */
  label: string;
  priority?: Priority;
  /** Ends every task queued or running before it, with this message (their answers would be about the old state). */
  supersedes?: string;
}

/** A recording as the model worker answers it: its previews stay there, for `previews` to hand out in slices. */
export type RecordResult = LayoutColumns & {
  errors: InputError[];
  /** Numbers this worker's recordings: gradients and neuron measures name the one they are about. */
  recording: number;
  /** settingsKey of what shapes icons besides the direction. */
  iconSettings: string;
};

/** Examples shown per neuron cluster, and members carried (to make the cluster a concept). */
const CLUSTER_TOP = 8;
const MAX_CLUSTER_MEMBERS = 500;
/** How often a long gradient loop lets a cancel in. */
const CANCEL_POLL_MS = 150;
/** Most float32 values a text layer's neuron recording may hold in the worker (64 Mi: 256 MB). */
const MAX_NEURON_VALUES = 64 * 2 ** 20;

/** The loaded model, of either modality. */
type LoadedModel = { modality: 'image'; model: ImageModel } | { modality: 'text'; model: TextModel };

const isTextCheckpointFile = (name: string) => /(^|\/)config\.json$|\.safetensors(\.index\.json)?$/.test(name);

/** A text model's files from the user's picks, as bytes: config.json, the safetensors and an index; nothing else is read. */
const modelFilesOf = (files: File[]): Promise<ModelFile[]> =>
  Promise.all(
    files
      .map((f) => ({ file: f, name: f.webkitRelativePath || f.name }))
      .filter(({ name }) => isTextCheckpointFile(name))
      .map(async ({ file, name }) => ({ name, bytes: new Uint8Array(await file.arrayBuffer()) })),
  );

const textFilesOf = (texts: TextSource[]): TextFile[] =>
  texts.map((t) => ({ path: /\.(txt|jsonl)$/i.test(t.name) ? t.name : `${t.name}.txt`, bytes: new TextEncoder().encode(t.text) }));

/**
 * Model loading, activation recording, and what needs the model again (feature visualisation, gradients, concept
 * recordings, neuron measures), served by model.worker.ts so TF.js never blocks the page.
 */
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

  /** The last recording's inputs, for gradients: an image atlas's images (by name), a text atlas's windows. */
  let recordedInputs: { kind: 'image'; images: ImageProvider; names: string[] } | { kind: 'text'; tokenIds: Int32Array[] } | null = null;
  // Numbers start at random so that a restarted worker's recordings never reuse an earlier worker's numbers.
  let recording = Math.floor(Math.random() * 2 ** 30);
  /** The last recording's previews (thumbnails, tokens), handed out in slices: one message of them all stalls the page. */
  let recordedPreviews: Previews | null = null;
  /** The last recording's inputs, if it is the one asked about (the atlas on screen may be older: a rebuild was cancelled after recording). */
  const inputsOf = (asked: number) => {
    if (!loaded || !recordedInputs) throw new Error('Build an atlas first: this is computed on its inputs.');
    if (asked !== recording) throw new Error('The atlas on screen is not the one last recorded (a rebuild was cancelled): build it again.');
    return recordedInputs;
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

  const loadImage = async (context: CallContext, source: ModelSource): Promise<ImageModel> => {
    let found: { artifacts: Parameters<typeof ImageModel.fromArtifacts>[0]; name: string };
    const fetchCancellable: typeof fetch = (input, init) => fetch(input, { ...init, signal: context.signal });
    if (source.kind === 'files') found = await artifactsFromFiles(source.files);
    else if (source.kind === 'url') found = { artifacts: await artifactsFromUrl(source.url, fetchCancellable), name: source.url.split('/').slice(-2)[0] || source.url };
    else found = { artifacts: await deps.loadDefaultModel(), name: BUILT_IN_MODEL_NAME };
    // A download cut by the cancel reads as a failed fetch: say it was cancelled.
    if (context.signal.aborted) throw abortError();
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

  const methods = {
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
        : { modality: 'image', model: await loadImage(context, source) };
      if (context.signal.aborted) {
        next.model.dispose();
        throw abortError();
      }
      loaded?.model.dispose();
      loaded = next;
      featureVis = null;
      recordedInputs = null;
      recordedPreviews = null;
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
        recordedInputs = { kind: 'text', tokenIds: recorded.previews.tokenIds.map((ids) => Int32Array.from(ids)) };
        recordedPreviews = recorded.previews;
        return withTransfer(
          { ...withoutPreviews(recorded), errors: [...read.errors, ...recorded.errors], iconSettings: '', recording: ++recording },
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
      recordedInputs = { kind: 'image', images, names: recorded.names };
      featureVis = {
        layer: request.layer,
        whitening: whiteningMatrix(table),
        colourBasis: model.inputChannels === 3 ? colourBasisFromImages(thumbnails) : undefined,
        site: recorded.samplesPerInput === 'pooled' ? 'pooled' : 'centre',
      };
      recordedPreviews = recorded.previews;
      return withTransfer(
        { ...withoutPreviews(recorded), iconSettings: settingsKey({ ...featureVis, layer: undefined }), recording: ++recording },
        [table.values.buffer, table.input.buffer, table.position.buffer],
      );
    },

    /** Inputs [start, end) of the last recording's previews; once the last slice is handed out the worker drops them. */
    async previews(_: CallContext, asked: number, start: number, end: number): Promise<Previews> {
      inputsOf(asked);
      if (!recordedPreviews) throw new Error('This recording\'s previews were already handed out: build the atlas again.');
      const slice = slicePreviews(recordedPreviews, start, end);
      // Every field holds one entry per input.
      if (end >= (Object.values(recordedPreviews)[0] as unknown[]).length) recordedPreviews = null;
      return slice;
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
      let result: Awaited<ReturnType<typeof visualiseDirections>>;
      try {
        result = await visualiseDirections(model, featureVis.layer, request.directions, {
          steps: request.steps,
          seed: request.seed,
          whitening: request.whiten === false ? undefined : featureVis.whitening,
          colourBasis: featureVis.colourBasis,
          site: featureVis.site,
          signal: context.signal,
          onProgress: (p) => context.progress(p),
        });
      } finally {
        await useMainBackend();
      }
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

    /**
     * A concept's examples at `layer`, sampled as the atlas's points were (pooled, k seeded positions, or all), so
     * that a concept against the rest of the atlas tells the concept apart, not two ways of sampling.
     */
    async conceptActivations(
      context: CallContext,
      of: number,
      inputs: InputSet,
      layer: string,
      params: Pick<AtlasParams, 'samplesPerInput' | 'seed'>,
    ): Promise<ConceptActivations> {
      inputsOf(of);
      await useMainBackend();
      const options = { layer, samplesPerInput: params.samplesPerInput, seed: params.seed, signal: context.signal, onProgress: (event: ProgressEvent) => context.progress(event) };
      let recorded: { table: { values: Float32Array; count: number; dim: number }; names: string[]; errors: InputError[] };
      if (loaded!.modality === 'text') {
        if (inputs.kind !== 'text') throw new Error('This is a text model: a concept needs text examples.');
        const read = documentsFromFiles(textFilesOf(inputs.texts));
        if (read.documents.length === 0) throw new Error(`No text in the concept's files${read.errors[0] ? ` (${read.errors[0].name}: ${read.errors[0].reason})` : ''}.`);
        const r = await recordTextActivations(loaded!.model as TextModel, read.documents, options);
        recorded = { ...r, errors: [...read.errors, ...r.errors] };
      } else {
        if (inputs.kind !== 'images') throw new Error('This is an image model: a concept needs images.');
        const model = loaded!.model as ImageModel;
        const size = { width: model.inputWidth, height: model.inputHeight };
        recorded = await recordActivations(model, blobProvider(inputs.images, (blob) => deps.decodeImage(blob, size)), { ...options, thumbnailSize: 1 });
      }
      const { values, count, dim } = recorded.table;
      const rows = values.slice(0, count * dim);
      return withTransfer({ values: rows, count, dim, names: recorded.names, errors: recorded.errors }, [rows.buffer]);
    },

    /**
     * Gradients of a class logit (image models) or of a next token's logit (GPT-2) with respect to the recorded
     * layer, one row per asked point (input, position) of the last recording; position -1: the pooled row.
     */
    async gradients(context: CallContext, request: GradientRequest): Promise<GradientResult> {
      // Now and then a macrotask between chunks, so that a cancel message can arrive (other calls wait in the queue).
      const pacer = createPacer(context.signal, CANCEL_POLL_MS, 'Cancelled', nextTask);
      const cancelPoint = async () => {
        if (pacer.due()) await pacer.pause();
      };
      const recordedInputs = inputsOf(request.recording);
      if (!loaded) throw new Error('No model is loaded.');
      const { layer, input, position } = request;
      if (input.length !== position.length) throw new Error(`${input.length} inputs but ${position.length} positions.`);
      const dim = loaded.model.layer(layer).shape.at(-1)!;
      if (loaded.modality === 'text' && recordedInputs.kind === 'text') {
        if (request.target.kind !== 'token') throw new Error('A language model has no classes: name a next token.');
        if (position.some((p) => p < 0)) {
          throw new Error('A pooled text atlas has no token positions to take gradients at: record tokens (samples per input: every token, or k).');
        }
        // The model the points were recorded with; a model loaded meanwhile must not answer for it.
        const model = loaded.model;
        const ids = encode(request.target.text);
        if (ids.length !== 1) {
          throw new Error(`"${request.target.text}" is ${ids.length} tokens (${tokenTexts(ids).map((t) => JSON.stringify(t)).join(' ')}); name one token, with its leading space if it has one.`);
        }
        const tokenIds = recordedInputs.tokenIds;
        // The model is causal: the logit and the activation at t only see tokens up to t, so each row's window ends there.
        const windows = position.map((p, k) => tokenIds[input[k]].subarray(0, p + 1));
        const gradients = new Float32Array(input.length * dim);
        const chunk = 64;
        for (let start = 0; start < input.length; start += chunk) {
          await cancelPoint();
          if (context.signal.aborted) throw context.signal.reason;
          const end = Math.min(input.length, start + chunk);
          if (loaded?.model !== model) throw new Error('Another model was loaded meanwhile: build the atlas again.');
          gradients.set(await nextTokenGradients(model, layer, windows.slice(start, end), position.slice(start, end), ids[0]), start * dim);
          context.progress({ stage: 'gradients', done: end, total: input.length });
        }
        return withTransfer({ gradients, dim, tokenId: ids[0], target: tokenTexts(ids)[0] }, [gradients.buffer]);
      }
      if (loaded.modality !== 'image' || recordedInputs.kind !== 'image') throw new Error('The atlas and the loaded model differ: build the atlas again.');
      if (request.target.kind !== 'class') throw new Error('An image model\'s gradients are of a class: pick one.');
      const model = loaded.model;
      const { images, names } = recordedInputs;
      const classIndex = request.target.classIndex;
      const positions = model.layer(layer).positionShape.reduce((a, b) => a * b, 1);
      const out = new Float32Array(input.length * dim);
      const distinct = [...new Set(input)];
      const rowsOf = new Map<number, number[]>();
      input.forEach((i, k) => {
        const rows = rowsOf.get(i);
        if (rows) rows.push(k);
        else rowsOf.set(i, [k]);
      });
      const chunk = 32;
      for (let start = 0; start < distinct.length; start += chunk) {
        await cancelPoint();
        if (context.signal.aborted) throw context.signal.reason;
        if (loaded?.model !== model) throw new Error('Another model was loaded meanwhile: build the atlas again.');
        const batch = distinct.slice(start, start + chunk);
        const prepared = await preparedInputs(model, images, names, batch);
        const all = await classGradients(model, layer, prepared, classIndex, { sites: 'all' });
        batch.forEach((inputIndex, b) => {
          for (const k of rowsOf.get(inputIndex)!) {
            const p = position[k];
            const row = out.subarray(k * dim, (k + 1) * dim);
            if (p >= 0) row.set(all.subarray((b * positions + p) * dim, (b * positions + p + 1) * dim));
            // A pooled row's gradient is the sum of its positions' (see classGradients).
            else for (let q = 0; q < positions; q++) for (let d = 0; d < dim; d++) row[d] += all[(b * positions + q) * dim + d];
          }
        });
        context.progress({ stage: 'gradients', done: Math.min(distinct.length, start + chunk), total: distinct.length });
      }
      const target = model.classNames?.[classIndex] ?? `class ${classIndex}`;
      return withTransfer({ gradients: out, dim, tokenId: null, target }, [out.buffer]);
    },

    /**
     * Polysemanticity by neuron embeddings (Foote 2024) of the atlas's layer over the atlas's inputs: each neuron's
     * examples clustered by cosine `asked` (null: the modality's default), a cluster counting from `minMembers` examples.
     */
    async polysemanticity(context: CallContext, of: number, layer: string, asked: number | null, minMembers: number): Promise<LayerPolysemanticityView> {
      const recordedInputs = inputsOf(of);
      if (!loaded) throw new Error('No model is loaded.');
      const threshold = asked ?? defaultThreshold(loaded.modality);
      await useMainBackend();
      const options = { signal: context.signal, onProgress: (event: ProgressEvent) => context.progress(event) };
      let recorded: NeuronInputs;
      /** The atlas input of each recorded window (text: the window itself; images: by name). */
      let inputOf: (window: number) => number;
      const notices: string[] = [];
      if (loaded.modality === 'text' && recordedInputs.kind === 'text') {
        const { nEmbd, nInner } = loaded.model.gpt2.config;
        // What is recorded stays in memory (N x (nInner + nEmbd) floats): the first tokens up to a budget.
        const maxTokens = Math.floor(MAX_NEURON_VALUES / (nInner + nEmbd));
        recorded = await recordNeuronInputs(loaded.model, recordedInputs.tokenIds, layer, { ...options, maxTokens });
        if (recorded.count < recorded.available) notices.push(`Measured the first ${recorded.count.toLocaleString('en')} of ${recorded.available.toLocaleString('en')} tokens (a memory budget).`);
        inputOf = (w) => w;
      } else if (loaded.modality === 'image' && recordedInputs.kind === 'image') {
        const { images, names } = recordedInputs;
        const index = new Map(names.map((n, i) => [n, i]));
        const byName = new Map<string, number>();
        for (let i = images.count - 1; i >= 0; i--) byName.set(images.name(i), i);
        const kept = names.filter((n) => byName.has(n));
        const provider: ImageProvider = { count: kept.length, name: (i) => kept[i], label: (i) => images.label(byName.get(kept[i])!), load: (i) => images.load(byName.get(kept[i])!) };
        const image = await recordImageNeuronInputs(loaded.model, provider, layer, options);
        notices.push(...image.notices);
        recorded = image;
        inputOf = (w) => index.get(kept[w])!;
      } else throw new Error('The atlas and the loaded model differ: build the atlas again.');
      const measured = await measurePolysemanticity(recorded, { threshold, minMembers, fraction: EXAMPLE_FRACTION, maxExamples: DEFAULT_MAX_EXAMPLES, ...options });
      if (measured.capped) notices.push(`${measured.capped} neuron(s) had more than ${DEFAULT_MAX_EXAMPLES} examples: only the most active were clustered.`);
      const point = (row: number) => ({ input: inputOf(recorded.window[row]), position: recorded.position[row] });
      const neurons: NeuronClustersView[] = measured.neurons.map((n) => ({
        index: n.index,
        maxActivation: n.maxActivation,
        examples: n.examples,
        polysemanticity: n.polysemanticity,
        clusters: n.clusters.map((rows) => {
          const members = Array.from(rows.subarray(0, MAX_CLUSTER_MEMBERS), point);
          return {
            size: rows.length,
            top: Array.from(rows.subarray(0, CLUSTER_TOP), (row) => ({ ...point(row), activation: recorded.activations[row * recorded.width + n.index] })),
            members: { input: members.map((m) => m.input), position: members.map((m) => m.position) },
          };
        }),
      }));
      neurons.sort((a, b) => b.polysemanticity - a.polysemanticity || b.examples - a.examples || a.index - b.index);
      return { layer, threshold, minMembers, neurons, histogram: measured.histogram, meanPolysemanticity: measured.meanPolysemanticity, deadNeurons: measured.deadNeurons, notices };
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

  // Every call shares the loaded model, its recordings and TF.js's one global backend: each runs alone, in its turn.
  const queue = new TaskQueue();
  /** A method run in its turn on the model; while it waits, its progress says what for. */
  const queued =
    <A extends unknown[], R>(describe: (...args: NoInfer<A>) => QueuedTask, method: (context: CallContext, ...args: A) => Promise<R>) =>
    (context: CallContext, ...args: A): Promise<R> => {
      const { label, priority, supersedes } = describe(...args);
      if (supersedes) queue.supersede(new Error(supersedes));
      const onWait = (running: string) => context.progress({ stage: 'waiting', done: 0, total: 0, message: `Waiting for ${running} to finish…` } satisfies WaitProgress);
      // Icons are background work: a user's request stops a batch, which starts again after it.
      const preemptible = priority === 'background';
      return queue.run({ label, priority, preemptible, signal: context.signal, onWait }, (signal) => method({ signal, progress: context.progress }, ...args));
    };
  const NEW_MODEL = 'Stopped: another model is being loaded.';
  const NEW_ATLAS = 'Stopped: a new atlas is being built.';
  return {
    init: queued(() => ({ label: 'starting the backend' }), methods.init),
    loadModel: queued(() => ({ label: 'loading a model', supersedes: NEW_MODEL }), methods.loadModel),
    record: queued(() => ({ label: 'recording', supersedes: NEW_ATLAS }), methods.record),
    previews: queued(() => ({ label: 'previews' }), methods.previews),
    featureVisSupport: queued(() => ({ label: 'the feature-visualisation check', priority: 'background' }), methods.featureVisSupport),
    visualise: queued(
      (request: VisualiseRequest) => ({ label: 'feature visualisation', priority: request.priority ?? 'background' }),
      methods.visualise,
    ),
    tokenActivations: queued(() => ({ label: 'token activations' }), methods.tokenActivations),
    conceptActivations: queued(() => ({ label: 'recording a concept' }), methods.conceptActivations),
    gradients: queued(() => ({ label: 'gradients' }), methods.gradients),
    polysemanticity: queued(() => ({ label: 'polysemanticity' }), methods.polysemanticity),
    directionOutputs: queued(() => ({ label: 'output tokens' }), methods.directionOutputs),
  };
}

export type ModelService = ReturnType<typeof createModelService>;
