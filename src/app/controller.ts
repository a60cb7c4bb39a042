import { labelsByLevel } from '../atlas/atlasLayers';
import { AtlasVisuals } from '../atlas/visuals';
import { serializeAtlas } from '../export/atlasFile';
import { type Atlas } from '../compute/atlas';
import { downloadBlob, fileSlug } from '../export/download';
import { renderAtlasPng } from '../atlas/png';
import { messageOf } from '../lib/errors';
import { isImageFile, isJsonFile, labelsFromPaths, readTextFiles, type PickedFile } from '../lib/inputFiles';
import type { useAtlasStore } from '../store';
import { selectLevel } from '../store/selectors';
import { FeatureVisJobs } from './featureVisJobs';
import { iconCanvas } from '../atlas/iconCanvas';
import { rendererFor, rendererOf, rendererOfInputs } from '../renderers';
import type { AtlasCell } from '../compute/types';
import { neuronDirections, randomDirections } from '../compute/directions/vectors';
import type { DirectionImages } from '../panels/DirectionComparison';
import type { InspectorServices } from '../renderers/inspectorServices';
import { DictionaryController } from './dictionary';
import { InterventionController } from './interventions';
import { storedIconQuality, storeIconQuality } from './preferences';
import { DirectionsController } from './directions';
import { AtlasPipeline } from './pipeline';
import type { BuildRef, BuildResult, InputSet, LayoutPreview, ModelSource, StageProgress } from '../workers/protocol';
import type { PrecomputedFiles } from '../workers/computeService';
import { openAtlasFile, type AtlasFileService } from '../workers/atlasFileService';
import { RpcClient, type WorkerEndpoint } from '../workers/rpc';
import type { Concept } from '../compute/directions/concept';
import { writeAtlasPointsParquet } from '../export/pointsTable';

type Store = typeof useAtlasStore;

const createAtlasFileWorker = () =>
  new Worker(new URL('../workers/atlasFile.worker.ts', import.meta.url), { type: 'module', name: 'atlas-file' }) as WorkerEndpoint;


function describeSource(source: ModelSource): string {
  if (source.kind === 'default') return 'Built-in model';
  if (source.kind === 'default-text') return source.size === 'wide' ? 'Built-in wide text model' : 'Built-in text model';
  if (source.kind === 'url') return source.url;
  if (source.kind === 'hub') return `${source.id} (${source.baseUrl})`;
  return source.files.map((f) => f.name).join(', ') || 'Model files';
}

const isBuiltIn = (origin: ModelSource['kind']) => origin === 'default' || origin === 'default-text';
const TEXT_FILE = /\.(txt|jsonl|text|md)$/i;
const isTextFile = (file: File) => TEXT_FILE.test(file.name) || (file.type.startsWith('text/') && !isJsonFile(file));
/** Precomputed activations and the points table that describes their rows. */
const NPY_FILE = /\.npy$/i;
const POINTS_FILE = /\.(parquet|jsonl|ndjson)$/i;

/**
 * Wires the pipeline (workers, model) to the store: every user action that needs the model or the
 * pictures of an atlas goes through here. Each request takes a ticket; an answer whose ticket is no
 * longer the latest is dropped, so a slow old build never overwrites a newer atlas.
 */
export class AtlasController {
  private pipeline: Promise<AtlasPipeline> | null = null;
  /** Parses opened atlas files off the page's main thread; started on the first file. */
  private readonly atlasFiles = new RpcClient<AtlasFileService>(createAtlasFileWorker);
  private modelLoading: Promise<void> = Promise.resolve();
  /** The user's inputs; null: the bundled sample of a built-in model. */
  private inputs: InputSet | null = null;
  /** An activation file and its points table the user gave: while set, a build reads them instead of running a model. */
  private precomputed: PrecomputedFiles | null = null;
  private build: AbortController | null = null;
  /** The model load in progress. */
  private load: AbortController | null = null;
  /** Settles when the last build has finished unwinding (a cancelled one restores the model worker first). */
  private building: Promise<unknown> = Promise.resolve();
  private ticket = 0;
  private modelTicket = 0;
  /** The fingerprint of the model that built the atlas on screen; null for an atlas opened from a file. */
  private builtWith: string | null = null;
  private visuals: AtlasVisuals | null = null;
  private disposed = false;
  private featureVis: FeatureVisJobs | null = null;
  /** What the running (or last) icon jobs were started with, to start them again with another recipe. */
  private featureVisSource: { pipeline: AtlasPipeline; atlas: Atlas; iconSettings: string } | null = null;
  /** The cells on screen as the view last reported them. */
  private visibleCells: { gridSize: number; cells: ReadonlyArray<readonly [number, number]> } | null = null;
  private textureRefresh: ReturnType<typeof setTimeout> | null = null;
  private lastTextureRefresh = -Infinity;
  private readonly unsubscribe: () => void;
  /** Concepts, TCAV and the class filter over the atlas on screen. */
  readonly directions: DirectionsController;
  /** A sparse autoencoder over the atlas on screen. */
  readonly dictionary: DictionaryController;
  /** Steering the atlas's model. */
  readonly interventions: InterventionController;

  constructor(
    private readonly store: Store,
    private readonly showVisuals: (visuals: AtlasVisuals | null) => void,
    /** `?backend=` and `?threads=` from the page's URL. */
    private readonly backend: { backend?: string; threads?: number } = {},
    /** The layout while the projection settles; null once the atlas (or nothing) replaces it. */
    private readonly showPreview: (preview: LayoutPreview | null) => void = () => {},
  ) {
    this.directions = new DirectionsController(store, () => this.getPipeline());
    this.dictionary = new DictionaryController(store, () => this.getPipeline(), () => this.directions.live);
    this.interventions = new InterventionController(store, () => this.getPipeline(), () => this.directions.live);
    // The icon quality picked on an earlier visit: its cached icons show again after a reload.
    const kept = storedIconQuality();
    if (kept) store.getState().setIconQuality(kept);
    this.unsubscribe = store.subscribe((state, previous) => {
      if (state.iconMode !== previous.iconMode && this.visuals) {
        this.visuals.setIconMode(state.iconMode);
        this.refreshTextures();
      }
      if (state.iconQuality !== previous.iconQuality) {
        storeIconQuality(state.iconQuality);
        this.restartFeatureVis();
      }
    });
  }

  /**
   * Uploads redrawn icon textures at most every 300 ms, however fast icons arrive: the first icons after a pause go
   * up at once (cached icons after a reload must not wait behind the view's first frame), the rest together.
   */
  private scheduleTextureRefresh(): void {
    if (this.textureRefresh) return;
    const wait = Math.max(0, this.lastTextureRefresh + 300 - performance.now());
    this.textureRefresh = setTimeout(() => {
      this.textureRefresh = null;
      this.lastTextureRefresh = performance.now();
      this.refreshTextures();
    }, wait);
  }

  private refreshTextures(): void {
    if (this.visuals?.refreshTextures()) this.store.getState().iconsArrived(this.visuals.featureVisIcons.size);
  }

  /** Computes the built atlas's feature-visualisation icons in the model worker, cells on screen first. */
  private startFeatureVis(pipeline: AtlasPipeline, atlas: Atlas, iconSettings: string): void {
    this.featureVis?.stop();
    const fingerprint = this.store.getState().model?.fingerprint ?? '';
    const s = this.store.getState();
    s.featureVisStarted();
    this.featureVisSource = { pipeline, atlas, iconSettings };
    const jobs: FeatureVisJobs = new FeatureVisJobs(pipeline, atlas, fingerprint, iconSettings, s.iconQuality, {
      onIcon: (key, gridSize, icon) => {
        if (this.featureVis !== jobs) return;
        this.visuals?.addFeatureVisIcon(key, gridSize, icon);
        this.scheduleTextureRefresh();
      },
      onProgress: (levels) => this.featureVis === jobs && this.store.getState().featureVisProgress(levels),
      onFinished: (status, message) => this.featureVis === jobs && this.store.getState().featureVisFinished(status, message),
    });
    this.featureVis = jobs;
    void jobs.run();
  }

  /** Another recipe: the atlas on screen drops its icons and computes (or finds cached) those of the new one. */
  private restartFeatureVis(): void {
    const source = this.featureVisSource;
    if (!source || this.visuals?.atlas !== source.atlas || this.featureVis === null) return;
    this.visuals.clearFeatureVisIcons();
    this.refreshTextures();
    this.startFeatureVis(source.pipeline, source.atlas, source.iconSettings);
    // The view reports the cells on screen when it moves; until it does, the new jobs start from where it stands.
    if (this.visibleCells) this.featureVis?.setViewport(this.visibleCells.gridSize, this.visibleCells.cells);
  }

  private stopFeatureVis(): void {
    this.featureVis?.stop();
    this.featureVis = null;
    this.store.getState().featureVisFinished('off', null);
  }

  /** The cell's mean direction, its strongest channel (a basis direction) and a seeded random direction, visualised alike. */
  async compareDirections(cell: AtlasCell): Promise<DirectionImages> {
    const pipeline = await this.getPipeline();
    const dim = cell.mean.length;
    let channel = 0;
    for (let k = 1; k < dim; k++) if (cell.mean[k] > cell.mean[channel]) channel = k;
    const directions = new Float32Array(3 * dim);
    directions.set(cell.mean, 0);
    directions.set(neuronDirections(dim, [channel]), dim);
    directions.set(randomDirections(dim, 1, cell.i * 1000 + cell.j), 2 * dim);
    const batch = await pipeline.visualise({ directions, priority: 'user', quality: this.store.getState().iconQuality });
    const titles = [`cell (${cell.i}, ${cell.j}) direction`, `neuron #${channel}`, 'random direction'];
    return {
      channel,
      images: batch.images.map((rgba, k) => ({
        title: titles[k],
        url: iconCanvas({ width: batch.width, height: batch.height, rgba, score: batch.scores[k] }).toDataURL('image/png'),
        score: batch.scores[k],
      })),
    };
  }

  /** What the inspector may ask of the model and the last build (for an atlas built in this session). */
  readonly services: InspectorServices = {
    tokenActivations: async (direction, documents) => (await this.getPipeline()).tokenActivations(this.atlasLayer(), direction, documents),
    directionOutputs: async (direction) => (await this.getPipeline()).directionOutputs(this.atlasLayer(), direction, 12),
    neuronProfile: async (neuron) => {
      if (!this.directions.live) throw new Error('The neuron view reads the activations of an atlas built in this session.');
      return (await this.getPipeline()).neuronProfile(this.directions.live.layout, neuron, 16);
    },
  };

  private atlasLayer(): string {
    const atlas = this.store.getState().atlas;
    if (!atlas) throw new Error('No atlas is open.');
    return atlas.layer.name;
  }

  /** The cells on screen, so their icons are computed first. */
  setVisibleCells(gridSize: number, cells: ReadonlyArray<readonly [number, number]>): void {
    this.visibleCells = { gridSize, cells };
    this.featureVis?.setViewport(gridSize, cells);
  }

  /**
   * The page's first build: the built-in model's atlas, or, when the page was opened with files to open (a latent
   * atlas from another tab), their atlas, without loading a model.
   */
  async start(opening: Promise<PickedFile[] | null> = Promise.resolve(null)): Promise<void> {
    let files: PickedFile[] | null;
    try {
      files = await opening;
    } catch (e) {
      this.store.getState().fail('Inputs', messageOf(e));
      return;
    }
    if (files) await this.addFiles(files);
    else await this.loadModel({ kind: 'default' });
  }

  private getPipeline(): Promise<AtlasPipeline> {
    if (!this.pipeline) {
      const created = AtlasPipeline.create(this.backend);
      this.pipeline = created.then((p) => {
        if (this.disposed) p.dispose();
        else this.store.getState().setBackend(p.backend);
        p.onModelLost = (message) => {
          this.store.getState().modelLost();
          this.store.getState().fail('Model', message);
        };
        return p;
      });
      this.pipeline.catch(() => (this.pipeline = null));
    }
    return this.pipeline;
  }

  /**
   * Loads a model, then builds: over the user's inputs, or the bundled sample of a built-in model. A load still
   * running is cancelled, not waited for: the model worker ends it and takes the new one.
   */
  loadModel(source: ModelSource): Promise<void> {
    this.cancel();
    // A model picked means atlases of its own inputs again.
    this.precomputed = null;
    this.cancelModelLoad();
    const abort = new AbortController();
    this.load = abort;
    const ticket = ++this.modelTicket;
    const s = this.store.getState();
    s.modelRequested();
    s.setStatus('loading');
    this.modelLoading = (async () => {
      try {
        await this.building;
        const summary = await (await this.getPipeline()).loadModel(
          source,
          (p) => {
            if (ticket === this.modelTicket) this.store.getState().modelLoadProgress(p);
          },
          abort.signal,
        );
        if (ticket !== this.modelTicket) return;
        this.store.getState().addErrors((summary.notices ?? []).map((message) => ({ source: describeSource(source), message })));
        this.store.getState().modelLoaded(summary, source.kind);
        this.settleStatus();
      } catch (e) {
        if (ticket !== this.modelTicket) return;
        this.store.getState().modelFailed();
        if (abort.signal.aborted) this.settleStatus();
        else this.store.getState().fail(describeSource(source), `Could not load the model: ${messageOf(e)}`);
      } finally {
        if (this.load === abort) this.load = null;
      }
    })();
    return this.modelLoading.then(() => {
      const ready = ticket === this.modelTicket && this.store.getState().modelStatus === 'ready';
      if (ready && (this.inputs || isBuiltIn(source.kind))) return this.run();
    });
  }

  /**
   * Takes picked or dropped files: images or text files (labelled by sub-folder) start a build, an atlas
   * JSON opens. Text files (.txt, .jsonl) are read here; the model worker splits them into documents.
   */
  async addFiles(picked: PickedFile[]): Promise<void> {
    const s = this.store.getState();
    if (picked.some((p) => NPY_FILE.test(p.file.name))) return this.addPrecomputed(picked);
    this.precomputed = null;
    const images = picked.filter((p) => isImageFile(p.file));
    const texts = images.length ? [] : picked.filter((p) => isTextFile(p.file));
    const atlases = picked.filter((p) => !isImageFile(p.file) && isJsonFile(p.file));
    const others = picked.filter((p) => !images.includes(p) && !texts.includes(p) && !atlases.includes(p));
    s.clearErrors();
    s.addErrors(others.map((p) => ({ source: p.path, message: `Not an image or a text file (${p.file.type || 'unknown type'}); skipped.` })));
    if (images.length === 0 && texts.length === 0) {
      if (atlases.length > 0) await this.openAtlasFile(atlases[0].file);
      else if (others.length === 0) s.addErrors([{ source: 'Inputs', message: 'No files were picked.' }]);
      return;
    }
    s.addErrors(atlases.map((p) => ({ source: p.path, message: 'An atlas file among inputs was skipped; open it on its own.' })));
    const chosen = images.length ? images : texts;
    const labels = labelsFromPaths(chosen.map((p) => p.path));
    if (images.length) this.inputs = { kind: 'images', images: images.map((p, k) => ({ name: p.path, label: labels[k], blob: p.file })) };
    else {
      const read = await readTextFiles(texts);
      s.addErrors(read.failed.map((f) => ({ source: f.path, message: `Could not be read (${f.reason}); skipped.` })));
      this.inputs = { kind: 'text', texts: texts.flatMap((p, k) => (read.texts[k] === null ? [] : [{ name: p.path, label: labels[k], text: read.texts[k]! }])) };
    }
    const distinct = [...new Set(labels.filter((l): l is string => l !== null))].sort();
    s.setUserInputs({ kind: this.inputs.kind, count: chosen.length, labels: distinct });
    await this.buildWithMatchingModel();
  }

  /**
   * Takes an activation file (.npy, rows x dim) with its points table (.parquet or .jsonl: label, text, image per
   * row) and builds an atlas of them without a model; the model loaded stays for the next build of inputs.
   */
  private async addPrecomputed(picked: PickedFile[]): Promise<void> {
    const s = this.store.getState();
    s.clearErrors();
    const npys = picked.filter((p) => NPY_FILE.test(p.file.name));
    const tables = picked.filter((p) => POINTS_FILE.test(p.file.name));
    const others = picked.filter((p) => !npys.includes(p) && !tables.includes(p));
    s.addErrors(others.map((p) => ({ source: p.path, message: 'Not an .npy or a points table (.parquet, .jsonl); skipped: precomputed activations build from those alone.' })));
    if (npys.length > 1 || tables.length > 1) {
      s.fail('Inputs', `Drop one .npy with at most one points table; got ${npys.length} .npy and ${tables.length} table(s) (${[...npys, ...tables].map((p) => p.path).join(', ')}).`);
      return;
    }
    const [npy] = npys;
    const table = tables[0] ?? null;
    const files = { activations: npy.file, activationsName: npy.file.name, points: table?.file ?? null, pointsName: table?.file.name ?? null };
    this.precomputed = files;
    const version = s.atlasVersion;
    await this.run();
    // The rows and their labels are known once the compute worker has read the files.
    const { atlas, atlasVersion } = this.store.getState();
    if (this.precomputed === files && atlasVersion > version && atlas?.modality === 'precomputed') {
      this.store.getState().setUserInputs({ kind: 'activations', count: atlas.inputs.names.length, labels: [...atlas.labelNames].sort() });
    }
  }

  /** Builds an atlas of pasted text (one document per paragraph). */
  async addText(text: string): Promise<void> {
    const s = this.store.getState();
    s.clearErrors();
    this.precomputed = null;
    this.inputs = { kind: 'text', texts: [{ name: 'pasted text', label: null, text }] };
    s.setUserInputs({ kind: 'text', count: 1, labels: [] });
    await this.buildWithMatchingModel();
  }

  /** Builds over the inputs; text with an image model (or images with a text model) switches to the matching built-in model first. */
  private async buildWithMatchingModel(): Promise<void> {
    await this.modelLoading;
    const model = this.store.getState().model;
    const wanted = this.inputs && this.inputs.kind !== 'sample' ? rendererOfInputs(this.inputs.kind) : null;
    if (model && wanted?.inputs.builtInModel && rendererOf(model.modality) !== wanted) return this.loadModel({ kind: wanted.inputs.builtInModel });
    await this.run();
  }

  /** Goes back to the bundled sample of the built-in model. */
  async useSample(): Promise<void> {
    this.inputs = null;
    this.precomputed = null;
    this.store.getState().setUserInputs(null);
    await this.run();
  }

  /** Builds an atlas of the current model, layer and inputs with the panel's parameters; precomputed activations build without a model. */
  async run(): Promise<void> {
    await this.modelLoading;
    const s = this.store.getState();
    if (this.precomputed) {
      const files = this.precomputed;
      await this.startBuild((pipeline, onProgress, signal, onLayout) => pipeline.buildPrecomputed(files, s.params, onProgress, signal, onLayout), `npy:${files.activationsName}`, []);
      return;
    }
    if (!s.model || !s.layer) {
      s.fail('Model', 'No model is loaded: pick the built-in one, model files or a URL first.');
      return;
    }
    const inputs: InputSet | null = this.inputs ?? (isBuiltIn(s.modelOrigin) ? { kind: 'sample' } : null);
    const taken = rendererOf(s.model.modality).inputs;
    if (!inputs) {
      s.addErrors([{ source: 'Inputs', message: `${taken.ask} to build an atlas for this model.` }]);
      return;
    }
    if (inputs.kind !== 'sample' && inputs.kind !== taken.kind) {
      s.fail('Inputs', taken.wrongKind);
      return;
    }
    const { params, layer } = s;
    // Concepts learnt at this layer of this model stay through a rebuild (a different projection, other inputs).
    const fingerprint = s.model.fingerprint;
    const carried = this.builtWith === fingerprint ? s.concepts.filter((c) => c.layer === layer) : [];
    const request = { inputs, layer, params, keepConcepts: carried.map((c) => c.id) };
    await this.startBuild((pipeline, onProgress, signal, onLayout) => pipeline.build(request, onProgress, signal, onLayout), fingerprint, carried);
  }

  /**
   * Runs one build (`begin` starts it on the pipeline) and shows its atlas; a newer build or a cancel drops its answer.
   * `fingerprint` names what built it (the model, or the activation file), `carried` the concepts it keeps.
   */
  private async startBuild(
    begin: (
      pipeline: AtlasPipeline,
      onProgress: (p: StageProgress) => void,
      signal: AbortSignal,
      onLayout: (preview: LayoutPreview) => void,
    ) => Promise<BuildResult>,
    fingerprint: string,
    carried: Concept[],
  ): Promise<void> {
    this.build?.abort();
    // The model worker records next; icons of the old atlas would only compete with it.
    this.stopFeatureVis();
    const abort = new AbortController();
    this.build = abort;
    const ticket = ++this.ticket;
    this.store.getState().runStarted();
    try {
      const pipeline = await this.getPipeline();
      await this.building;
      abort.signal.throwIfAborted();
      const pending = begin(
        pipeline,
        (p) => {
          if (ticket === this.ticket) this.store.getState().runProgress(p);
        },
        abort.signal,
        (preview) => {
          if (ticket !== this.ticket) return;
          this.showPreview(preview);
          this.store.getState().layoutPreviewed();
        },
      );
      this.building = pending.catch(() => undefined);
      const result = await pending;
      if (ticket !== this.ticket) return;
      this.store.getState().addErrors(result.errors.map((e) => ({ source: e.name, message: e.reason })));
      this.store.getState().runSucceeded(result, result.atlas.notices);
      // Those removed meanwhile stay removed.
      const kept = this.store.getState().concepts.filter((c) => carried.some((k) => k.id === c.id));
      await this.show(kept.length ? { ...result.atlas, concepts: kept } : result.atlas, { ref: result.ref, fingerprint }, ticket, abort.signal);
      // Feature visualisation is an image capability: a text atlas keeps its token icons.
      if (ticket === this.ticket && !this.disposed && rendererFor(result.atlas).featureVisualisation) this.startFeatureVis(pipeline, result.atlas, result.iconSettings);
    } catch (e) {
      if (ticket !== this.ticket) return;
      if (abort.signal.aborted) this.settleStatus();
      else this.store.getState().fail('Build', messageOf(e));
    } finally {
      if (ticket === this.ticket) this.showPreview(null);
      if (this.build === abort) {
        this.build = null;
        this.store.getState().setRunning(false);
      }
    }
  }

  /** After a load or build that ended without error: ready if an atlas is on screen, else idle. */
  private settleStatus(): void {
    this.store.getState().setStatus(this.store.getState().atlas ? 'ready' : 'idle');
  }

  /** Stops the build, the icons and any direction task; what was on screen stays. */
  cancel(): void {
    this.build?.abort();
    this.stopFeatureVis();
    this.directions.cancel();
    this.dictionary.cancel();
    this.interventions.cancel();
  }

  /** Stops a model load (a download from the hub or a URL); the model loaded before stays. */
  cancelModelLoad(): void {
    this.load?.abort();
  }

  /**
   * Opens a saved atlas JSON without any model; a bad file leaves the current atlas in place. The file is read and
   * parsed in a worker, which hands the typed columns over: a million points never hold the page's main thread.
   */
  async openAtlasFile(file: File): Promise<void> {
    this.cancel();
    const ticket = ++this.ticket;
    const s = this.store.getState();
    s.setStatus('loading');
    try {
      const atlas = await openAtlasFile(this.atlasFiles, file);
      if (ticket !== this.ticket) return;
      await this.show(atlas, null, ticket);
      // The file's notices (pictures dropped on opening, a build's sampling) show as a build's do.
      if (ticket === this.ticket) this.store.getState().showNotices(atlas.notices);
    } catch (e) {
      if (ticket !== this.ticket) return;
      this.store.getState().fail(file.name, messageOf(e));
    }
  }

  /** Shows an atlas; `built` names the workers' copy of a built one (null: opened from a file, nothing to compute on). */
  private async show(atlas: Atlas, built: { ref: BuildRef; fingerprint: string } | null, ticket: number, signal?: AbortSignal): Promise<void> {
    const origin = built ? 'build' : 'file';
    this.store.getState().setStatus('projecting');
    const onProgress =
      origin === 'build'
        ? (done: number, total: number) => {
            if (ticket === this.ticket) this.store.getState().runProgress({ stage: 'icons', done, total });
          }
        : undefined;
    const visuals = await AtlasVisuals.load(atlas, signal, onProgress);
    if (ticket !== this.ticket || this.disposed) {
      visuals.close();
      return;
    }
    const old = this.visuals;
    visuals.setIconMode(this.store.getState().iconMode);
    visuals.refreshTextures();
    this.visuals = visuals;
    this.showVisuals(visuals);
    // Before the store says so, so that whatever the new atlas's panels ask goes to the workers' copy of it.
    this.directions.live = built?.ref ?? null;
    this.builtWith = built?.fingerprint ?? null;
    this.store.getState().setAtlas(atlas, origin);
    this.store.getState().setStatus('ready');
    old?.close();
  }

  /** Downloads the whole current grid level as a size x size PNG. */
  async exportPng(size: number): Promise<void> {
    const s = this.store.getState();
    const level = selectLevel(s);
    const visuals = this.visuals;
    if (!level || !visuals || !s.atlas) return;
    try {
      const labels = s.showLabels ? (labelsByLevel(s.atlas).get(level.size) ?? []) : [];
      const blob = await renderAtlasPng({ level, size, icons: visuals.icons, labels });
      downloadBlob(blob, `${this.fileStem(s.atlas)}-${level.size}x${level.size}-${size}px.png`);
    } catch (e) {
      this.store.getState().addErrors([{ source: 'PNG export', message: messageOf(e) }]);
    }
  }

  /** Downloads the atlas as its versioned JSON file. */
  exportJson(): void {
    const atlas = this.store.getState().atlas;
    if (!atlas) return;
    // The feature visualisations computed so far travel in the file, beside any it was opened with.
    const icons = { ...(atlas.icons ?? {}), ...(this.visuals?.atlas === atlas ? this.visuals.featureVisDataUrls() : {}) };
    const { concepts } = this.store.getState();
    const withIcons = { ...atlas, ...(Object.keys(icons).length ? { icons } : {}), concepts };
    downloadBlob(new Blob([serializeAtlas(withIcons)], { type: 'application/json' }), `${this.fileStem(atlas)}.json`);
  }

  /** Downloads the atlas's points (x, y, cell, input, position, label, text) as Parquet, for pandas or Embedding Atlas. */
  exportPointsParquet(): void {
    const atlas = this.store.getState().atlas;
    if (!atlas) return;
    try {
      downloadBlob(new Blob([writeAtlasPointsParquet(atlas)], { type: 'application/vnd.apache.parquet' }), `${this.fileStem(atlas)}-points.parquet`);
    } catch (e) {
      this.store.getState().addErrors([{ source: 'Points export', message: messageOf(e) }]);
    }
  }

  private fileStem(atlas: Atlas): string {
    return `atlas-${fileSlug(atlas.model.name)}-${fileSlug(atlas.layer.name)}`;
  }

  dispose(): void {
    this.disposed = true;
    this.unsubscribe();
    this.stopFeatureVis();
    if (this.textureRefresh) clearTimeout(this.textureRefresh);
    this.ticket++;
    this.modelTicket++;
    this.build?.abort();
    this.load?.abort();
    this.pipeline?.then((p) => p.dispose()).catch(() => {});
    this.atlasFiles.terminate();
    this.visuals?.close();
    this.visuals = null;
  }
}
