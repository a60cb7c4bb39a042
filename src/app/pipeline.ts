import { buildAtlas, joinPreviews, withRecordedPreviews, type AtlasParams, type LayoutColumns, type Previews } from '../compute/atlas';
import type { NeuronProfile } from '../compute/grid';
import type { ProgressEvent } from '../compute/types';
import type { LatentActivations, VersusRandomOptions, VersusRandomResult } from '../compute/directions/versusRandom';
import type { ConceptFit, ConceptTcav, ConceptTcavOptions } from '../compute/directions/concept';
import type { TopInput } from '../compute/types';
import type { ComputeService, ConceptRequest, PrecomputedFiles } from '../workers/computeService';
import type { FeatureVisSupport, IconBatch, ModelService, VisualiseRequest } from '../workers/modelService';
import type {
  BackendInfo,
  BackendRequest,
  BuildRequest,
  BuildResult,
  ConceptActivations,
  DirectionOutputs,
  GradientRequest,
  GradientResult,
  InputSet,
  LayerPolysemanticityView,
  LayoutPreview,
  LoadProgress,
  ModelSource,
  ModelSummary,
  Stage,
  StageProgress,
  DictionaryTarget,
  EpochLossRequest,
  LatentAtlasSource,
  LatentTop,
  RowsLatent,
  SaeLensFiles,
  SaeLossRecovered,
  SaeSummary,
  SaeTaskProgress,
  SaeTrainRequest,
  LatentPolysemanticityView,
  SteerPromptRequest,
  SteerPromptResult,
  SteerToken,
  WaitProgress,
  AblatePromptRequest,
  AblationTest,
  ClassAblateRequest,
  ClassSteerRequest,
  ImageAblationTest,
  ImageSteeringTest,
  MeasureProgress,
} from '../workers/protocol';
import { messageOf } from '../lib/errors';
import { RpcClient, type Args, type CallOptions, type Result, type WorkerEndpoint } from '../workers/rpc';

const createModelWorker = () =>
  new Worker(new URL('../workers/model.worker.ts', import.meta.url), { type: 'module', name: 'model' }) as WorkerEndpoint;
const createComputeWorker = () =>
  new Worker(new URL('../workers/compute.worker.ts', import.meta.url), { type: 'module', name: 'compute' }) as WorkerEndpoint;

/** Inputs per message when the page fetches a recording's previews. */
const PREVIEW_SLICE = 250;

/** A colour group per point: its input's true label where known, else its predicted class. */
function pointGroups(labels: (string | null)[], predicted: Int32Array, input: Uint32Array): Int32Array {
  const ids = new Map<string, number>();
  const perInput = labels.map((l, i) => {
    const key = l ?? `#${predicted[i]}`;
    if (!ids.has(key)) ids.set(key, ids.size);
    return ids.get(key)!;
  });
  return Int32Array.from(input, (i) => perInput[i]);
}

/** A worker's progress events as build stages, and the layouts among them as previews grouped by `groups()` at the time. */
function relayProgress(onProgress: (p: StageProgress) => void, onLayout: ((preview: LayoutPreview) => void) | undefined, groups: () => Int32Array) {
  return (event: ProgressEvent & { layout?: Float32Array }) => {
    const { layout, ...progress } = event;
    // A recording that waits for its turn on the model says so on the record stage.
    onProgress({ ...progress, stage: event.stage === 'waiting' ? 'record' : (event.stage as Stage) });
    if (layout && onLayout) onLayout({ layout, groups: groups() });
  };
}

/** The app's one entry to the model and compute workers: load a model, build an atlas. */
export class AtlasPipeline {
  private constructor(
    private readonly modelClient: RpcClient<ModelService>,
    private readonly computeClient: RpcClient<ComputeService>,
    readonly backend: BackendInfo,
    private readonly backendRequest: BackendRequest,
  ) {}

  /**
   * Spawns the model and compute workers and picks the backend (honours ?backend= via the option).
   * `workers` replaces the page's workers (Node tests run the same services in worker threads).
   */
  static async create(
    options: { backend?: string; threads?: number; workers?: { model: () => WorkerEndpoint; compute: () => WorkerEndpoint } } = {},
  ): Promise<AtlasPipeline> {
    // Model work checks its signal between batches and steps; only a long stall warrants losing the model.
    const modelClient = new RpcClient<ModelService>(options.workers?.model ?? createModelWorker, 5000);
    // Compute work pauses every 50 ms for a cancel; the grace covers its longest step (a rotation's columns for a wide
    // layer), since a restarted compute worker has lost the atlas's table that concepts and tests run on.
    const computeClient = new RpcClient<ComputeService>(options.workers?.compute ?? createComputeWorker, 3000);
    const request: BackendRequest = { backend: options.backend ?? null, threads: options.threads ?? null };
    const backend = await modelClient.call('init', [request]);
    return new AtlasPipeline(modelClient, computeClient, backend, request);
  }

  private lastModel: ModelSource | null = null;

  /** Loads a model in the model worker; `signal` cancels it (the model loaded before stays). */
  async loadModel(source: ModelSource, onProgress?: (p: LoadProgress) => void, signal?: AbortSignal): Promise<ModelSummary> {
    // A restarted model worker (after a cancel) must pick its backend again.
    await this.modelClient.call('init', [this.backendRequest], { signal });
    // A cancel that cost the worker also cost the model loaded before: modelCall loads that one again.
    const summary = await this.modelCall('loadModel', [source], { onProgress, signal });
    this.lastModel = source;
    return summary;
  }

  /** Records, projects and grids through the one atlas pipeline; progress comes per stage, and `signal` cancels any stage. */
  async build(
    request: BuildRequest,
    onProgress: (p: StageProgress) => void,
    signal?: AbortSignal,
    onLayout?: (preview: LayoutPreview) => void,
  ): Promise<BuildResult> {
    let groups: Int32Array = new Int32Array(0);
    let iconSettings = '';
    let sampling: BuildResult['sampling'] = null;
    let recordingStats: BuildResult['recordingStats'] = null;
    let recording = 0;
    let layoutId = 0;
    const relay = relayProgress(onProgress, onLayout, () => groups);
    if (!this.lastModel) throw new Error('Load a model first.');
    await this.modelClient.call('init', [this.backendRequest], { signal });
    const { atlas, errors } = await buildAtlas(request, {
      record: async () => {
        const { stats, ...recorded } = await this.modelCall('record', [request], { signal, onProgress: relay });
        iconSettings = recorded.iconSettings;
        recordingStats = stats;
        recording = recorded.recording;
        const { count, totalBeforeSampling } = recorded.table;
        if (totalBeforeSampling > count) sampling = { kept: count, total: totalBeforeSampling };
        groups = pointGroups(recorded.labels, recorded.predicted, recorded.table.input);
        const previews = await this.previewsOf(recording, recorded.names.length, signal);
        return { ...withRecordedPreviews(recorded, previews), errors: recorded.errors };
      },
      layout: async (recorded: LayoutColumns, params) => {
        const { table } = recorded;
        const laid = await this.computeClient.call('layoutAtlas', [recorded, params, request.keepConcepts ?? []], {
          signal,
          onProgress: relay,
          transfer: [table.values.buffer, table.input.buffer, table.position.buffer],
        });
        layoutId = laid.layout;
        return laid.atlas;
      },
    });
    return { atlas, errors, sampling, recordingStats, iconSettings, ref: { recording, layout: layoutId } };
  }

  /**
   * An atlas of precomputed activations (an .npy and its points table), without a model: the compute worker reads the
   * files in chunks, records every row and lays out. The model worker is not asked, so its model and recording stay;
   * the atlas's ref names no recording (-1), and the tasks that need one say so.
   */
  async buildPrecomputed(
    files: PrecomputedFiles,
    params: AtlasParams,
    onProgress: (p: StageProgress) => void,
    signal?: AbortSignal,
    onLayout?: (preview: LayoutPreview) => void,
  ): Promise<BuildResult> {
    const groups = new Int32Array(0);
    const relay = relayProgress(onProgress, onLayout, () => groups);
    const laid = await this.computeClient.call('layoutPrecomputed', [files, params], { signal, onProgress: relay });
    const { atlas, layout, previews, errors } = laid;
    if (atlas.modality !== 'precomputed') throw new Error(`The compute worker laid out a ${atlas.modality} atlas from precomputed activations.`);
    const kept = atlas.points.input.length;
    const total = atlas.points.totalBeforeSampling;
    return {
      atlas: { ...atlas, inputs: { ...atlas.inputs, ...previews } },
      errors,
      sampling: total > kept ? { kept, total } : null,
      recordingStats: null,
      iconSettings: '',
      ref: { recording: -1, layout },
    };
  }

  /**
   * A recording's previews, fetched from the model worker in slices: a message of 3,000 thumbnail data URLs
   * takes Chromium's page thread 60 ms or more to read, a slice of them a few.
   */
  private async previewsOf(recording: number, inputs: number, signal?: AbortSignal): Promise<Previews> {
    const slices: Previews[] = [];
    let start = 0;
    // At least one slice, so that even no inputs give the previews' fields.
    do {
      slices.push(await this.modelClient.call('previews', [recording, start, Math.min(inputs, start + PREVIEW_SLICE)], { signal }));
      start += PREVIEW_SLICE;
    } while (start < inputs);
    return joinPreviews(slices);
  }

  /** Whether (and on which backend) feature visualisation can run for the last recorded layer. */
  featureVisSupport(): Promise<FeatureVisSupport> {
    return this.modelClient.call('featureVisSupport', []);
  }

  /** Feature visualisations of k directions (k x D) at the last recorded layer, as one batch of RGBA icons. */
  visualise(request: VisualiseRequest, signal?: AbortSignal, onProgress?: (p: { done: number; total: number }) => void): Promise<IconBatch> {
    return this.modelClient.call('visualise', [request], { signal, onProgress });
  }

  /** Each token's activation along `direction` at `layer`, for whole documents (token ids), in the model worker. */
  tokenActivations(layer: string, direction: Float32Array, documents: number[][]): Promise<Float32Array[]> {
    return this.modelClient.call('tokenActivations', [layer, direction, documents]);
  }

  /** What the logits read as `words` at a residual-width `layer`, centred on the recording's contexts (model worker). */
  wordsDirection(layer: string, words: string[]): Promise<Float32Array> {
    return this.modelClient.call('wordsDirection', [layer, words]);
  }

  /** The tokens a direction at `layer` promotes and suppresses most in the next-token logits. */
  directionOutputs(layer: string, direction: Float32Array, k: number): Promise<DirectionOutputs> {
    return this.modelClient.call('directionOutputs', [layer, direction, k]);
  }

  /** One neuron of the last atlas built: its top points and histogram, from the compute worker's copy of the activations. */
  neuronProfile(layout: number, neuron: number, topK: number): Promise<NeuronProfile> {
    return this.computeClient.call('neuronProfile', [layout, neuron, topK]);
  }

  /** A concept's examples recorded at `layer` from inputs the user gave (model worker). */
  conceptActivations(
    recording: number,
    inputs: InputSet,
    layer: string,
    params: Pick<AtlasParams, 'samplesPerInput' | 'seed'>,
    signal?: AbortSignal,
    onProgress?: (p: ProgressEvent) => void,
  ): Promise<ConceptActivations> {
    return this.modelCall('conceptActivations', [recording, inputs, layer, params], { onProgress, signal });
  }

  /**
   * A call to the model worker. One that was cancelled may have cost the worker (restarted when it did not stop
   * in time): the model is loaded again, and the next request about the old recording says to build again. A
   * worker that honoured the cancel keeps its model.
   */
  private async modelCall<M extends keyof ModelService & string>(
    method: M,
    args: Args<ModelService[M]>,
    options: CallOptions = {},
  ): Promise<Result<ModelService[M]>> {
    const lost = this.modelClient.lostWorkers;
    try {
      return await this.modelClient.call(method, args, options);
    } catch (e) {
      if (this.modelClient.lostWorkers !== lost && this.lastModel) await this.restoreModel(this.lastModel);
      throw e;
    }
  }

  /** Told when a restarted model worker could not load the model again: the page has no model then. */
  onModelLost: (message: string) => void = () => {};

  /**
   * Loads the model again into a restarted worker; if that fails too, there is no model, and the page is told.
   * It calls the worker directly, not through modelCall: a worker lost again must not restore again.
   */
  private async restoreModel(source: ModelSource): Promise<void> {
    try {
      await this.modelClient.call('init', [this.backendRequest]);
      await this.modelClient.call('loadModel', [source]);
    } catch (e) {
      this.lastModel = null;
      this.onModelLost(`The model worker stopped, and the model could not be loaded again (${messageOf(e)}): load a model again.`);
    }
  }

  /** Learns a concept vector over the last atlas's activations (compute worker, which keeps its examples for TCAV). */
  learnConcept(layout: number, request: ConceptRequest): Promise<ConceptFit> {
    const transfer = [request.positives, request.negatives].flatMap((side) => (side.kind === 'rows' ? [side.values.buffer as ArrayBuffer] : []));
    return this.computeClient.call('learnConcept', [layout, request], { transfer });
  }

  /** Drops a concept's examples from the compute worker. */
  forgetConcept(id: string): Promise<void> {
    return this.computeClient.call('forgetConcept', [id]);
  }

  /** The inputs at both ends of a direction at the last atlas's layer. */
  rankAlong(layout: number, direction: Float32Array, topK: number): Promise<{ top: TopInput[]; bottom: TopInput[] }> {
    return this.computeClient.call('rankAlong', [layout, direction, topK]);
  }

  /** Gradients of a class's (or a next token's) logit at points of the last recording (model worker). */
  gradients(request: GradientRequest, signal?: AbortSignal, onProgress?: (p: ProgressEvent) => void): Promise<GradientResult> {
    return this.modelCall('gradients', [request], { signal, onProgress });
  }

  /** One class's TCAV test of a concept learnt on this atlas, from the class's gradients. */
  conceptTcav(layout: number, conceptId: string, gradients: Float32Array, n: number, options: ConceptTcavOptions): Promise<ConceptTcav> {
    return this.computeClient.call('conceptTcav', [layout, conceptId, gradients, n, options], { transfer: [gradients.buffer as ArrayBuffer] });
  }

  /** Activation times gradient at each point (gradients: a row per point, in order). */
  attribution(layout: number, points: number[], gradients: Float32Array): Promise<Float32Array> {
    return this.computeClient.call('attribution', [layout, points, gradients], { transfer: [gradients.buffer as ArrayBuffer] });
  }

  /** Neurons against random directions at the last atlas's layer (compute worker). */
  versusRandom(
    layout: number,
    labels: Int32Array | 'key' | null,
    options: VersusRandomOptions,
    signal?: AbortSignal,
    onProgress?: (p: ProgressEvent) => void,
  ): Promise<VersusRandomResult> {
    const latents = options.latents;
    const transfer = latents ? [latents.rowStart.buffer, latents.latent.buffer, latents.value.buffer, ...(latents.decoder ? [latents.decoder.buffer] : [])] : [];
    return this.computeClient.call('versusRandom', [layout, labels, options], { signal, onProgress, transfer: transfer as ArrayBuffer[] });
  }

  /** Every row of the layout's active SAE latents and the decoder rows (model worker), to score latents beside neurons. */
  saeLatents(layout: number): Promise<LatentActivations> {
    return this.modelClient.call('saeLatents', [layout]);
  }

  /** Polysemanticity of the last atlas's layer over its inputs (model worker). */
  polysemanticity(
    recording: number,
    layer: string,
    threshold: number | null,
    minMembers: number,
    signal?: AbortSignal,
    onProgress?: (p: ProgressEvent) => void,
  ): Promise<LayerPolysemanticityView> {
    return this.modelCall('polysemanticity', [recording, layer, threshold, minMembers], { signal, onProgress });
  }

  /** Steers a continuation of the prompt (model worker): both continuations stream a token at a time, then the watched words' test reports its contexts done; `signal` stops them. */
  steer(recording: number, request: SteerPromptRequest, signal?: AbortSignal, onToken?: (token: SteerToken | MeasureProgress) => void): Promise<SteerPromptResult> {
    return this.modelCall('steer', [recording, request], { signal, onProgress: onToken });
  }

  /** Ablates a unit or direction of the recording's model against random ablations (model worker); `signal` stops it. */
  ablate(recording: number, request: AblatePromptRequest, signal?: AbortSignal, onProgress?: (p: MeasureProgress) => void): Promise<AblationTest> {
    return this.modelCall('ablate', [recording, request], { signal, onProgress });
  }

  /** The held SAE spliced in for its GPT-2 layer over the recording's first `contexts` contexts (model worker). */
  saeLossRecovered(recording: number, layout: number, contexts: number, signal?: AbortSignal, onProgress?: (p: MeasureProgress) => void): Promise<SaeLossRecovered> {
    return this.modelCall('saeLossRecovered', [recording, layout, contexts], { signal, onProgress });
  }

  /** Steers an image model's class along a direction against random directions, over held-out images of the recording. */
  steerClasses(recording: number, request: ClassSteerRequest, signal?: AbortSignal, onProgress?: (p: MeasureProgress) => void): Promise<ImageSteeringTest> {
    return this.modelCall('steerClasses', [recording, request], { signal, onProgress });
  }

  /** Ablates a unit or direction of an image model, measured on a class's held-out images, against random ablations. */
  ablateClasses(recording: number, request: ClassAblateRequest, signal?: AbortSignal, onProgress?: (p: MeasureProgress) => void): Promise<ImageAblationTest> {
    return this.modelCall('ablateClasses', [recording, request], { signal, onProgress });
  }

  /**
   * Trains an SAE on the last atlas's rows in the model worker: the compute worker's copy of its activation table
   * moves there; progress streams training spans (with `epochLoss`, a GPT-2 layer's loss recovered at each epoch's
   * end) and waits, `signal` cancels (the SAE held before stays).
   */
  async trainSae(
    layout: number,
    target: Omit<DictionaryTarget, 'width'>,
    request: SaeTrainRequest,
    epochLoss: EpochLossRequest | null,
    signal?: AbortSignal,
    onProgress?: (p: SaeTaskProgress | WaitProgress) => void,
  ): Promise<SaeSummary> {
    const rows = await this.computeClient.call('activationRows', [layout], { signal });
    return this.modelCall('trainSae', [layout, rows.values, { ...target, width: rows.dim }, request, epochLoss], { signal, onProgress, transfer: [rows.values.buffer as ArrayBuffer] });
  }

  /** Opens SAELens's files on the last atlas's rows in the model worker (a file for another layer or width is refused). */
  async openSae(
    layout: number,
    target: Omit<DictionaryTarget, 'width'>,
    files: SaeLensFiles,
    signal?: AbortSignal,
    onProgress?: (p: SaeTaskProgress | WaitProgress) => void,
  ): Promise<SaeSummary> {
    const rows = await this.computeClient.call('activationRows', [layout], { signal });
    return this.modelCall('openSae', [layout, rows.values, { ...target, width: rows.dim }, files], {
      signal,
      onProgress,
      transfer: [rows.values.buffer as ArrayBuffer, files.weights.buffer as ArrayBuffer],
    });
  }

  /** SAELens's cfg.json and sae_weights.safetensors of the SAE the model worker holds for this layout. */
  saveSae(layout: number): Promise<SaeLensFiles> {
    return this.modelClient.call('saveSae', [layout]);
  }

  /** The held SAE's latents by polysemanticity over the atlas's rows (model worker). */
  saePolysemanticity(layout: number, threshold: number | null, minMembers: number, signal?: AbortSignal, onProgress?: (p: SaeTaskProgress | WaitProgress) => void): Promise<LatentPolysemanticityView> {
    return this.modelCall('saePolysemanticity', [layout, threshold, minMembers], { signal, onProgress });
  }

  /** A latent's top rows (the atlas's points) and directions. */
  saeLatentTop(layout: number, latent: number): Promise<LatentTop> {
    return this.modelClient.call('saeLatentTop', [layout, latent]);
  }

  saeLatentAtlasSource(layout: number): Promise<LatentAtlasSource> {
    return this.modelClient.call('saeLatentAtlasSource', [layout]);
  }

  saeStrongestLatents(layout: number, rows: Int32Array, k: number): Promise<RowsLatent[]> {
    return this.modelClient.call('saeStrongestLatents', [layout, rows, k]);
  }

  /** The token ids of words a steering test watches; refuses a word of more than one token (model worker, which holds the tokenizer). */
  watchedTokens(words: string[]): Promise<number[]> {
    return this.modelClient.call('watchedTokens', [words]);
  }

  dispose(): void {
    this.modelClient.terminate();
    this.computeClient.terminate();
  }
}
