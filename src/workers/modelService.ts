import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { slicePreviews, withoutPreviews, type AtlasParams, type InputError, type LayoutColumns, type Previews } from '../compute/atlas';
import type { LatentActivations } from '../compute/directions/versusRandom';
import { chooseFeatureVisBackend } from '../featureVis/backendSupport';
import { hashFloats, settingsKey } from '../featureVis/cache';
import { modelFingerprint } from '../featureVis/fingerprint';
import { visualiseDirections } from '../featureVis/optimise';
import { colourBasisFromImages } from '../featureVis/parameterisation';
import { iconRecipe, type IconQuality } from '../featureVis/recipe';
import { whiteningMatrix } from '../featureVis/whitening';
import { abortError } from '../lib/abort';
import { createPacer, nextTask } from '../lib/yieldToPage';
import { chooseBackend } from '../model/backend';
import { DEFAULT_MAX_EXAMPLES, EXAMPLE_FRACTION, measurePolysemanticity } from '../model/directions/polysemanticity';
import type { ImageModel } from '../model/image/imageModel';
import { openSession, type OpenSessionDeps } from '../model/openSession';
import { NO_RECORDING, type ModelSession, type ModelSummary } from '../model/session';
import { LayerDictionary } from '../model/sae/dictionary';
import type { Sae } from '../model/sae/sae';
import { watchedTokens } from '../model/text/steering';
import type {
  BackendInfo,
  BackendRequest,
  BuildRequest,
  ConceptActivations,
  DirectionOutputs,
  GradientRequest,
  GradientResult,
  InputSet,
  LayerPolysemanticityView,
  ModelSource,
  NeuronClustersView,
  RecordingStats,
  DictionaryTarget,
  EpochLossRequest,
  LatentAtlasSource,
  LatentTop,
  RowsLatent,
  SaeLensFiles,
  SaeLossRecovered,
  SaeSummary,
  SaeTrainRequest,
  LatentPolysemanticityView,
  SteerPromptRequest,
  SteerPromptResult,
  WaitProgress,
  AblatePromptRequest,
  AblationTest,
  ClassAblateRequest,
  ClassSteerRequest,
  ImageAblationTest,
  ImageSteeringTest,
} from './protocol';
import type { CallContext } from './rpc';
import { withTransfer } from './rpc';
import { TaskQueue, type Priority, type Turn } from './taskQueue';

/** How the model worker reaches what differs between the page and Node: the bundled assets, storage, decoding, PNG encoding. */
export type ModelServiceDeps = Omit<OpenSessionDeps, 'hashWeights'>;

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
  /** The recipe (steps, icon size, objective site); 'standard' when absent. `steps` overrides its steps. */
  quality?: IconQuality;
  /** 'background' (the default: the atlas's icons) waits behind, and is stopped for, what the user asks; 'user' does not. */
  priority?: Priority;
}

/** A call's context in its turn on the model: a long task may lend the turn to short ones between its steps. */
type TurnContext = CallContext & { turn?: Turn };

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
  /** settingsKey of what shapes icons besides the direction ('' where the modality has no icons to compute). */
  iconSettings: string;
  stats: RecordingStats;
};

/** Values of a recording's table kept in its stats. */
const STATS_HEAD = 16;

/** Examples shown per neuron cluster, and members carried (to make the cluster a concept). */
const CLUSTER_TOP = 8;
const MAX_CLUSTER_MEMBERS = 500;
/** How often a long gradient loop lets a cancel in. */
const CANCEL_POLL_MS = 150;

/**
 * wasm threads unless `?threads=N` says otherwise: with 4 or more logical cores, all but one (at most 8), leaving
 * one for the page; on 2 cores none. Measured in Chromium on 2 cores (docs/methods.md): 2 threads record MobileNet
 * 1.5x faster but the built-in CNN no faster (decoding dominates), and the page then competes for both cores.
 */
export function defaultThreads(logicalCores: number): number | null {
  return logicalCores >= 4 ? Math.min(8, logicalCores - 1) : null;
}

/** What feature visualisation needs from the last recording: the model, whitening and colour basis. */
interface FeatureVisState {
  model: ImageModel;
  layer: string;
  whitening: Float32Array;
  colourBasis?: Float32Array;
  support?: FeatureVisSupport;
}

/**
 * Model loading, activation recording, and what needs the model again (feature visualisation, gradients, concept
 * recordings, neuron measures), served by model.worker.ts so TF.js never blocks the page. What differs between
 * images and text is the session's (model/session.ts); this service never asks which modality it holds.
 */
export function createModelService(deps: ModelServiceDeps) {
  const sessionDeps: OpenSessionDeps = { ...deps, hashWeights: modelFingerprint };
  let session: ModelSession | null = null;
  let backend: BackendInfo | null = null;
  let featureVis: FeatureVisState | null = null;
  // Numbers start at random so that a restarted worker's recordings never reuse an earlier worker's numbers.
  let recording = Math.floor(Math.random() * 2 ** 30);
  /** The last recording's previews (thumbnails, tokens), handed out in slices: one message of them all stalls the page. */
  let recordedPreviews: Previews | null = null;
  let fingerprint = '';
  /** The SAE of the atlas whose layout (BuildRef.layout) it names, over that atlas's rows; dropped with a new recording or model. */
  let dictionary: { layout: number; value: LayerDictionary } | null = null;
  const dictionaryOf = (layout: number): LayerDictionary => {
    if (!dictionary) throw new Error('No SAE is trained or open for this atlas.');
    if (dictionary.layout !== layout) throw new Error('The SAE was made for an atlas no longer on screen: train or open one again.');
    return dictionary.value;
  };
  /** Runs a dictionary task on `rows`; only its success replaces the SAE held (a cancel or a bad file leaves it). */
  const withDictionary = async (
    context: TurnContext,
    layout: number,
    rows: Float32Array,
    target: DictionaryTarget,
    task: (d: LayerDictionary, options: { signal: AbortSignal; onProgress: (p: unknown) => void; pause?: () => Promise<void> }) => Promise<SaeSummary>,
  ): Promise<SaeSummary> => {
    await useMainBackend();
    const next = new LayerDictionary(rows, target, hashFloats);
    const summary = await task(next, { signal: context.signal, onProgress: (p) => context.progress(p), pause: context.turn?.lend });
    dictionary = { layout, value: next };
    return summary;
  };

  const loadedSession = (): ModelSession => {
    if (!session) throw new Error('No model is loaded.');
    return session;
  };
  /** The session, if the recording asked about is its last (the atlas on screen may be older: a rebuild was cancelled after recording). */
  const sessionOf = (asked: number): ModelSession => {
    if (!session?.hasRecording) throw new Error(NO_RECORDING);
    if (asked !== recording) throw new Error('The atlas on screen is not the one last recorded (a rebuild was cancelled): build it again.');
    return session;
  };
  const classesOf = (of: number) => {
    const classes = sessionOf(of).classes;
    if (!classes) throw new Error('This needs an image classifier: a GPT-2 steers its text in the Steer section.');
    return classes;
  };
  const tokensOf = () => {
    const tokens = loadedSession().tokens;
    if (!tokens) throw new Error('This needs a text model: load GPT-2 first.');
    return tokens;
  };
  const visualisable = (): FeatureVisState => {
    if (!featureVis) throw new Error('Record an image model\'s layer before asking for feature visualisations.');
    return featureVis;
  };

  const ensureSupport = async (): Promise<FeatureVisSupport> => {
    const state = visualisable();
    if (!state.support) {
      const choice = await chooseFeatureVisBackend(state.model, state.layer);
      state.support = { backend: choice.backend, message: choice.message };
      await useMainBackend();
    }
    return state.support;
  };

  /** Recording and inference run on the chosen backend; feature visualisation may have moved TF elsewhere. */
  const useMainBackend = async () => {
    if (backend && tf.getBackend() !== backend.name) await tf.setBackend(backend.name);
  };

  const methods = {
    async init(_: CallContext, request: BackendRequest): Promise<BackendInfo> {
      if (!backend) {
        const threads = request.threads ?? defaultThreads(globalThis.navigator?.hardwareConcurrency ?? 1);
        if (threads) setThreadsCount(threads);
        else tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
        const choice = await chooseBackend({ override: request.backend });
        backend = { ...choice, threads: choice.name === 'wasm' ? getThreadsCount() : 1 };
      }
      return backend;
    },

    /** Loads an image model (TF.js) or a GPT-2 (config.json + safetensors, or a hub id); the previous model stays until the new one is ready. */
    async loadModel(context: CallContext, source: ModelSource): Promise<ModelSummary> {
      await useMainBackend();
      const next = await openSession(source, sessionDeps, { signal: context.signal, onProgress: (p) => context.progress(p) });
      session?.dispose();
      session = next;
      featureVis = null;
      dictionary = null;
      recordedPreviews = null;
      fingerprint = await next.fingerprint();
      return next.describe(fingerprint);
    },

    async record(context: CallContext, request: BuildRequest): Promise<RecordResult> {
      const current = loadedSession();
      await useMainBackend();
      featureVis = null;
      dictionary = null;
      // Timed here, in its turn on the model: a recording queued behind icons does not count their time.
      const started = performance.now();
      const { visualisable: forIcons, amount, ...recorded } = await current.record(request.inputs, request, { signal: context.signal, onProgress: (event) => context.progress(event) });
      const seconds = (performance.now() - started) / 1000;
      const { table } = recorded;
      const values = table.values.subarray(0, table.count * table.dim);
      const stats: RecordingStats = { ...amount, seconds, digest: hashFloats(values), head: Array.from(values.subarray(0, STATS_HEAD)) };
      if (forIcons) {
        featureVis = {
          model: forIcons.model,
          layer: forIcons.layer,
          whitening: whiteningMatrix(table),
          colourBasis: forIcons.model.inputChannels === 3 ? colourBasisFromImages(forIcons.thumbnails) : undefined,
        };
      }
      recordedPreviews = recorded.previews;
      const iconSettings = featureVis ? settingsKey({ whitening: featureVis.whitening, colourBasis: featureVis.colourBasis }) : '';
      return withTransfer(
        { ...withoutPreviews(recorded), iconSettings, recording: ++recording, stats },
        [table.values.buffer, table.input.buffer, table.position.buffer, ...(table.key ? [table.key.buffer] : [])],
      );
    },

    /** Inputs [start, end) of the last recording's previews; once the last slice is handed out the worker drops them. */
    async previews(_: CallContext, asked: number, start: number, end: number): Promise<Previews> {
      sessionOf(asked);
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
      const state = visualisable();
      const support = await ensureSupport();
      if (!support.backend) throw new Error(support.message);
      if (tf.getBackend() !== support.backend) await tf.setBackend(support.backend);
      let result: Awaited<ReturnType<typeof visualiseDirections>>;
      try {
        const { model } = state;
        const recipe = iconRecipe(request.quality ?? 'standard', Math.min(model.inputHeight, model.inputWidth));
        result = await visualiseDirections(model, state.layer, request.directions, {
          ...recipe,
          steps: request.steps ?? recipe.steps,
          seed: request.seed,
          whitening: request.whiten === false ? undefined : state.whitening,
          colourBasis: state.colourBasis,
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
    async tokenActivations(_: CallContext, layer: string, direction: Float32Array, documents: number[][]): Promise<Float32Array[]> {
      await useMainBackend();
      const out = await tokensOf().tokenActivations(layer, direction, documents);
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
      const current = sessionOf(of);
      await useMainBackend();
      const recorded = await current.conceptActivations(inputs, layer, params, { signal: context.signal, onProgress: (event) => context.progress(event) });
      const { values, count, dim } = recorded.table;
      const rows = values.slice(0, count * dim);
      return withTransfer({ values: rows, count, dim, names: recorded.names, errors: recorded.errors }, [rows.buffer]);
    },

    /**
     * Gradients of a class logit (image models) or of a next token's logit (GPT-2) with respect to the recorded
     * layer, one row per asked point (input, position) of the last recording; position -1: the pooled row.
     */
    async gradients(context: CallContext, request: GradientRequest): Promise<GradientResult> {
      const current = sessionOf(request.recording);
      if (request.input.length !== request.position.length) throw new Error(`${request.input.length} inputs but ${request.position.length} positions.`);
      // A layer the model does not have is named before anything else is checked.
      current.layerShape(request.layer);
      // Now and then a macrotask between chunks, so that a cancel message can arrive (other calls wait in the queue).
      const pacer = createPacer(context.signal, CANCEL_POLL_MS, 'Cancelled', nextTask);
      const pause = async () => {
        if (pacer.due()) await pacer.pause();
        if (context.signal.aborted) throw context.signal.reason instanceof Error ? context.signal.reason : abortError();
      };
      const result = await current.gradients(request, { signal: context.signal, onProgress: (event) => context.progress(event), pause });
      return withTransfer(result, [result.gradients.buffer as ArrayBuffer]);
    },

    /**
     * Polysemanticity by neuron embeddings (Foote 2024) of the atlas's layer over the atlas's inputs: each neuron's
     * examples clustered by cosine `asked` (null: the modality's default), a cluster counting from `minMembers` examples.
     */
    async polysemanticity(context: CallContext, of: number, layer: string, asked: number | null, minMembers: number): Promise<LayerPolysemanticityView> {
      const current = sessionOf(of);
      const threshold = asked ?? current.defaultThreshold;
      await useMainBackend();
      const options = { signal: context.signal, onProgress: (event: Parameters<typeof context.progress>[0]) => context.progress(event) };
      const { recorded, inputOf, notices } = await current.neuronInputs(layer, options);
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

    /**
     * Trains an SAE on an atlas's rows (its layout's activation table, copied here from the compute worker), then
     * measures it over every row; progress streams training spans (SaeTaskProgress), and a cancel leaves the SAE held.
     * Between steps it lends its turn to the user's requests waiting (a neuron's contexts, output tokens): its
     * tensors are its own until it ends, and those requests do not wait for the whole run.
     */
    trainSae(context: TurnContext, layout: number, rows: Float32Array, target: DictionaryTarget, request: SaeTrainRequest, epochLoss: EpochLossRequest | null = null): Promise<SaeSummary> {
      // A GPT-2 layer's SAE is spliced in at each epoch's end: its loss recovered over the recording's first contexts,
      // while that recording is the atlas's (after a cancelled rebuild it is not, and the training goes on without it).
      // The first measure's clean and zero-ablated losses serve every later epoch: only the spliced passes run again.
      let baseline: SaeLossRecovered | undefined;
      const onEpoch =
        epochLoss && session?.hasRecording && recording === epochLoss.of
          ? async (epoch: number, sae: Sae) => {
              const loss = await tokensOf().saeLossRecovered(sae, target.layer, epochLoss.contexts, { signal: context.signal, baseline });
              baseline ??= loss;
              context.progress({ stage: 'epoch-loss', epoch, loss });
            }
          : undefined;
      return withDictionary(context, layout, rows, target, (d, options) => d.train(request, { ...options, onEpoch }));
    },

    /** Opens SAELens's files on an atlas's rows; one for another layer or width, or with bad weights, is refused with the reason. */
    openSae(context: CallContext, layout: number, rows: Float32Array, target: DictionaryTarget, files: SaeLensFiles): Promise<SaeSummary> {
      return withDictionary(context, layout, rows, target, (d, options) => d.open(files, options));
    },

    /** The two files of SAELens's layout for the SAE held. */
    async saveSae(_: CallContext, layout: number): Promise<SaeLensFiles> {
      const files = dictionaryOf(layout).save();
      return withTransfer(files, [files.weights.buffer as ArrayBuffer]);
    },

    /** The held SAE spliced in for its layer over the recording's first `contexts` contexts (GPT-2): loss clean, spliced, zero-ablated, recovered. */
    async saeLossRecovered(context: CallContext, of: number, layout: number, contexts: number): Promise<SaeLossRecovered> {
      sessionOf(of);
      const dictionary = dictionaryOf(layout);
      await useMainBackend();
      return tokensOf().saeLossRecovered(dictionary.held(), dictionary.target.layer, contexts, { signal: context.signal, onProgress: (done, total) => context.progress({ stage: 'measure', done, total }) });
    },

    /** The GPT-2 token ids of words as a steering test watches them (each one token with a leading space); refuses a word that is not. */
    async watchedTokens(_: CallContext, words: string[]): Promise<number[]> {
      return watchedTokens(words);
    },

    /** A latent's strongest rows (the atlas's points) and its encoder and decoder directions. */
    async saeLatentTop(_: CallContext, layout: number, latent: number): Promise<LatentTop> {
      const top = dictionaryOf(layout).latentTop(latent);
      return withTransfer(top, [top.rows.buffer, top.values.buffer, top.encoder.buffer, top.decoder.buffer] as ArrayBuffer[]);
    },

    /** Every latent's top rows and the decoder rows of the held SAE: what the page makes the latent atlas of. */
    async saeLatentAtlasSource(_: CallContext, layout: number): Promise<LatentAtlasSource> {
      const source = dictionaryOf(layout).latentAtlasSource();
      return withTransfer(source, [source.topStart.buffer, source.topRows.buffer, source.decoder.buffer] as ArrayBuffer[]);
    },

    /** The held SAE's strongest latents over some of the atlas's rows (a cell's points). */
    async saeStrongestLatents(_: CallContext, layout: number, rows: Int32Array, k: number): Promise<RowsLatent[]> {
      return dictionaryOf(layout).strongestLatents(rows, k);
    },

    /** The held SAE's latents by polysemanticity over the atlas's rows (the modality's threshold unless given); progress counts latents. */
    async saePolysemanticity(context: CallContext, layout: number, threshold: number | null, minMembers: number): Promise<LatentPolysemanticityView> {
      const options = { threshold: threshold ?? loadedSession().defaultThreshold, minMembers, signal: context.signal, onProgress: (p: unknown) => context.progress(p) };
      const view = await dictionaryOf(layout).polysemanticity(options);
      return withTransfer(view, [view.polysemanticity.buffer as ArrayBuffer]);
    },

    /** Every row's active latents and the SAE's decoder rows, for scoring latents beside neurons (compute worker). */
    async saeLatents(_: CallContext, layout: number): Promise<LatentActivations> {
      const latents = dictionaryOf(layout).latentActivations();
      return withTransfer(latents, [latents.rowStart.buffer, latents.latent.buffer, latents.value.buffer, latents.decoder!.buffer] as ArrayBuffer[]);
    },

    /** What the logits read as `words` at a residual-width `layer`, centred on the recording's contexts: a steering direction. */
    async wordsDirection(_: CallContext, layer: string, words: string[]): Promise<Float32Array> {
      await useMainBackend();
      return tokensOf().wordsDirection(layer, words);
    },

    /** The k tokens a direction at `layer` promotes most, and the k it suppresses most, in the next-token logits. */
    async directionOutputs(_: CallContext, layer: string, direction: Float32Array, k: number): Promise<DirectionOutputs> {
      await useMainBackend();
      return tokensOf().directionOutputs(layer, direction, k);
    },

    /** An ablation's rise in loss over the recording's contexts against random ablations; progress counts passes over the windows. */
    async ablate(context: CallContext, of: number, request: AblatePromptRequest): Promise<AblationTest> {
      sessionOf(of);
      await useMainBackend();
      return tokensOf().ablate(request, { signal: context.signal, onProgress: (done, total) => context.progress({ stage: 'measure', done, total }) });
    },

    /** An image model's class moved by α·v at a layer against random directions, over held-out images of the recording. */
    async steerClasses(context: CallContext, of: number, request: ClassSteerRequest): Promise<ImageSteeringTest> {
      await useMainBackend();
      return classesOf(of).steer(request, { signal: context.signal, onProgress: (done, total) => context.progress({ stage: 'measure', done, total }) });
    },

    /** An image model's class accuracy with a unit or direction ablated, against random ablations, over held-out images. */
    async ablateClasses(context: CallContext, of: number, request: ClassAblateRequest): Promise<ImageAblationTest> {
      await useMainBackend();
      return classesOf(of).ablate(request, { signal: context.signal, onProgress: (done, total) => context.progress({ stage: 'measure', done, total }) });
    },

    /** The prompt continued without and with steering along `direction`, both streamed a token at a time (SteerToken progress); cancellable. */
    async steer(context: CallContext, of: number, request: SteerPromptRequest): Promise<SteerPromptResult> {
      sessionOf(of);
      await useMainBackend();
      return tokensOf().steer(request, {
        signal: context.signal,
        onToken: (token) => context.progress(token),
        onProgress: (done, total) => context.progress({ stage: 'measure', done, total }),
      });
    },
  };

  // Every call shares the loaded model, its recordings and TF.js's one global backend: each runs alone, in its turn.
  const queue = new TaskQueue();
  /** A method run in its turn on the model; while it waits, its progress says what for. */
  const queued =
    <A extends unknown[], R>(describe: (...args: NoInfer<A>) => QueuedTask, method: (context: TurnContext, ...args: A) => Promise<R>) =>
    (context: CallContext, ...args: A): Promise<R> => {
      const { label, priority, supersedes } = describe(...args);
      if (supersedes) queue.supersede(new Error(supersedes));
      const onWait = (running: string) => context.progress({ stage: 'waiting', done: 0, total: 0, message: `Waiting for ${running} to finish…` } satisfies WaitProgress);
      // Icons are background work: a user's request stops a batch, which starts again after it.
      const preemptible = priority === 'background';
      return queue.run({ label, priority, preemptible, signal: context.signal, onWait }, (signal, turn) => method({ signal, progress: context.progress, turn }, ...args));
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
    wordsDirection: queued(() => ({ label: 'a words direction' }), methods.wordsDirection),
    steer: queued(() => ({ label: 'steering' }), methods.steer),
    saePolysemanticity: queued(() => ({ label: 'latent polysemanticity' }), methods.saePolysemanticity),
    saeLossRecovered: queued(() => ({ label: 'loss recovered' }), methods.saeLossRecovered),
    ablate: queued(() => ({ label: 'ablation' }), methods.ablate),
    steerClasses: queued(() => ({ label: 'steering' }), methods.steerClasses),
    ablateClasses: queued(() => ({ label: 'ablation' }), methods.ablateClasses),
    trainSae: queued(() => ({ label: 'SAE training' }), methods.trainSae),
    openSae: queued(() => ({ label: 'opening an SAE' }), methods.openSae),
    // None touches TF.js or a half-made SAE (a task replaces it whole at its end): they answer during training.
    saveSae: methods.saveSae,
    saeLatentTop: methods.saeLatentTop,
    saeStrongestLatents: methods.saeStrongestLatents,
    saeLatentAtlasSource: methods.saeLatentAtlasSource,
    saeLatents: methods.saeLatents,
    watchedTokens: methods.watchedTokens,
  };
}

export type ModelService = ReturnType<typeof createModelService>;
