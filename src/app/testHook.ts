import type { AtlasViewHandle } from '../atlas/AtlasView';
import type { ScreenCenter } from '../atlas/screenCenters';
import type { AppStatus, useAtlasStore } from '../store';
import { selectedInputs } from '../atlas/selection';
import { selectLevel } from '../store/selectors';
import { cellTints } from '../atlas/cellTint';
import { sampleModelMemory, type ModelMemory } from './modelMemory';
import type { RecordingStats, SteeringTest, SteerToken } from '../workers/protocol';

/** The name of the performance marks that record each change of `status`, with the new status as detail. */
export const STATUS_MARK = 'atlas-status';

/** One score of the neurons-against-random result: each kind's mean, and the tests' p (latents: against neurons and random). */
export interface VersusScore {
  neuron: number;
  random: number;
  p: number;
  latent: { mean: number; pNeurons: number; pRandom: number } | null;
}

/** The live state that scripts (e2e tests, people in the console) read from `window.__atlas`. */
export interface AtlasTestHook {
  readonly status: AppStatus;
  /** What the atlas on screen holds ('' before the first). */
  readonly modality: string;
  /** The icons the atlas view draws: 'exemplar' or 'featureVis'. */
  readonly iconMode: string;
  /** Goes up each time redrawn icon textures are uploaded (icons arrived, or the icon mode changed). */
  readonly iconVersion: number;
  readonly error?: string;
  readonly backend: string;
  /** Threads the model worker's backend computes on. */
  readonly backendThreads: number;
  readonly inputCount: number;
  readonly activationCount: number;
  readonly gridSize: number;
  readonly cellCount: number;
  /** Goes up each time a new atlas (built or opened) replaces the one on screen. */
  readonly atlasVersion: number;
  /** The projection method of the atlas on screen ('' before the first). */
  readonly projectionMethod: string;
  /** Intermediate layouts drawn while the current build's projection settled. */
  readonly previewFrames: number;
  /** The selected points (indices into the atlas's points) and the inputs they come from. */
  readonly selection: { points: number[]; inputs: number[] };
  /** How many points are selected, without copying them (a lasso over a million-point atlas takes hundreds of thousands). */
  readonly selectionCount: number;
  /** Feature-visualisation icons of the current grid level: finished and in all; `shown`: icons uploaded to the view, all levels. */
  readonly featureVis: { done: number; total: number; status: string; shown: number; quality: string };
  /** The atlas's concepts (without their directions). */
  readonly concepts: { id: string; name: string; accuracy: number | null; positives: number; negatives: number; source: string }[];
  /** What tints the cells of the level on screen, and how many are tinted. */
  readonly colourBy: { kind: string; label: string; cells: number; min: number; max: number };
  /** The last TCAV result (classes in order of testing). */
  readonly tcav: { conceptId: string; classesTested: number; classes: { classIndex: number; className: string; score: number; randomMean: number; randomStd: number; p: number; significant: boolean }[] } | null;
  /** The concept panel's running or failed task. */
  readonly directionsTask: { name: string; status: string; message: string } | null;
  /**
   * The last neurons-against-random result: the scores' means, the tests' p and the dissection rates; with an SAE's
   * latents, the latents scored, their means and their tests against neurons and random directions (else null).
   */
  readonly versus: {
    neurons: number;
    latents: number;
    labels: string;
    purity: VersusScore | null;
    coherence: VersusScore | null;
    dissection: { basis: number; rotatedMean: number; latent: number | null } | null;
  } | null;
  /** The blind study: cards, how many are marked, and the reveal (each kind's rate; latent null without latents). */
  readonly study: { cards: number; marked: number; reveal: { neuron: number; random: number; latent: number | null; p: number } | null } | null;
  /** Polysemanticity of the layer: neurons measured, mean score, the neuron shown and its cluster sizes. */
  readonly polysemanticity: { neurons: number; mean: number; histogram: number[]; neuron: number | null; clusters: number[] } | null;
  /**
   * The dictionary panel's SAE: the task under way (or its failure) with the fraction done, the last training curve
   * (spans and rows seen), how that run ended, and the SAE held (its figures over every row and a digest of its weights).
   */
  readonly sae: {
    task: { kind: string; status: string; message: string; fraction: number } | null;
    spans: number;
    rowsSeen: number;
    totalRows: number;
    runEnd: string | null;
    held: { origin: string; architecture: string; dIn: number; dSae: number; k: number | null; layer: string | null; mse: number; fve: number; l0: number; deadLatents: number; liveLatents: number; digest: string } | null;
    latent: number | null;
    /** The held SAE's latents by polysemanticity, once measured: the histogram, its mean and the settings. */
    polysemanticity: { histogram: number[]; mean: number; deadLatents: number; threshold: number; minMembers: number } | null;
    /** A GPT-2 layer's SAE spliced in for the layer, once measured: contexts, the loss clean, spliced and zeroed, and the share recovered. */
    lossRecovered: { windows: number; clean: number; spliced: number; zero: number; lossRecovered: number; lossRecoveredExceptFirst: number } | null;
    /** A GPT-2 layer's SAE at each epoch's end of the last run, spliced in: its loss recovered, by epoch. */
    epochLoss: number[];
  };
  /**
   * The Interventions panel: the last steering run (its id, a new one per request; its direction, layer and α, how it ended, each continuation as
   * streamed so far or as finished, the held-out KL once done, and with watched words their rise in probability against the random
   * directions'), the last ablation run (how far, then its rise in
   * loss against the random ablations'), an image model's last class run, and the last refused or failed request's message.
   */
  readonly interventions: {
    steering: { id: number; direction: string; layer: string; alpha: number; end: string; unsteered: string; steered: string; streamed: { unsteered: number; steered: number }; kl: number | null; watched: { tokens: string[]; rise: number; randomMean: number; pT: number; pRank: number; controls: number } | null } | null;
    ablation: { id: number; direction: string; layer: string; mode: string; watch: string[] | null; texts: boolean; end: string; fraction: number; predictions: number | null; increase: number | null; randomMean: number | null; pT: number | null; controls: number } | null;
    /** An image model's class steered or ablated: the class's value (rise in probability, drop in accuracy) against the controls'. */
    classRun: { id: number; kind: string; direction: string; className: string; end: string; fraction: number; value: number | null; randomMean: number | null; pT: number | null; controls: number; images: number } | null;
    problem: string | null;
  };
  /** The model worker's memory, read while the last build recorded (modelMemory.ts). */
  readonly modelMemory: ModelMemory;
  /** The last build's recording: tokens or images, seconds, and a digest of its activations (null before one finished). */
  readonly recording: RecordingStats | null;
  cellScreenCenters(): ScreenCenter[];
  /** Icon tiles of the level on screen not yet on screen: they arrive a few a frame (0 when all are drawn). */
  iconTilesPending(): number;
}

declare global {
  interface Window {
    __atlas?: AtlasTestHook;
  }
}

/** Installs `window.__atlas`; every read goes to the store, so it is always current. Returns the uninstaller. */
export function installTestHook(store: typeof useAtlasStore, view: () => AtlasViewHandle | null): () => void {
  const memory = sampleModelMemory(store);
  const hook: AtlasTestHook = {
    get status() {
      return store.getState().status;
    },
    get modality() {
      return store.getState().atlas?.modality ?? '';
    },
    get selection() {
      const { atlas, selection } = store.getState();
      return { points: [...selection], inputs: atlas ? selectedInputs(atlas, selection) : [] };
    },
    get selectionCount() {
      return store.getState().selection.length;
    },
    get iconMode() {
      return store.getState().iconMode;
    },
    get iconVersion() {
      return store.getState().iconVersion;
    },
    get error() {
      return store.getState().error ?? undefined;
    },
    get backend() {
      return store.getState().backend?.name ?? '';
    },
    get backendThreads() {
      return store.getState().backend?.threads ?? 0;
    },
    get inputCount() {
      return store.getState().atlas?.inputs.names.length ?? 0;
    },
    get activationCount() {
      return store.getState().atlas?.points.input.length ?? 0;
    },
    get gridSize() {
      return store.getState().gridSize;
    },
    get cellCount() {
      return selectLevel(store.getState())?.cells.length ?? 0;
    },
    get atlasVersion() {
      return store.getState().atlasVersion;
    },
    get projectionMethod() {
      return store.getState().atlas?.params.method ?? '';
    },
    get previewFrames() {
      return store.getState().previewFrames;
    },
    get featureVis() {
      const s = store.getState();
      const level = s.featureVisLevels.find((l) => l.gridSize === s.gridSize);
      return { done: level?.done ?? 0, total: level?.total ?? 0, status: s.featureVisStatus, shown: s.iconsShown, quality: s.iconQuality };
    },
    get concepts() {
      return store.getState().concepts.map(({ direction: _, method: __, folds: ___, layer: ____, ...c }) => c);
    },
    get colourBy() {
      const s = store.getState();
      const level = selectLevel(s);
      const tints = s.atlas && level ? cellTints(s.atlas, level, s.colourBy, s.concepts) : null;
      const values = tints ? [...tints.values.values()] : [];
      return { kind: s.colourBy.kind, label: tints?.label ?? '', cells: values.length, min: values.length ? Math.min(...values) : 0, max: values.length ? Math.max(...values) : 0 };
    },
    get tcav() {
      const t = store.getState().tcav;
      return t
        ? {
            conceptId: t.conceptId,
            classesTested: t.classesTested,
            classes: t.classes.map(({ classIndex, className, score, randomMean, randomStd, p, significant }) => ({ classIndex, className, score, randomMean, randomStd, p, significant })),
          }
        : null;
    },
    get directionsTask() {
      return store.getState().directionsTask;
    },
    get versus() {
      const v = store.getState().versus;
      if (!v) return null;
      const { summary, tests, dissection, latentTests, dictionary } = v.result;
      const pair = (name: 'purity' | 'coherence'): VersusScore | null => {
        const a = summary.neuron[name];
        const b = summary.random[name];
        const c = summary.latent?.[name];
        if (!a || !b || !tests[name]) return null;
        const versusNeurons = latentTests?.versusNeurons[name];
        const versusRandom = latentTests?.versusRandom[name];
        return { neuron: a.mean, random: b.mean, p: tests[name].p, latent: c && versusNeurons && versusRandom ? { mean: c.mean, pNeurons: versusNeurons.p, pRandom: versusRandom.p } : null };
      };
      return {
        neurons: v.result.neurons,
        latents: dictionary?.latents ?? 0,
        labels: v.labels,
        purity: pair('purity'),
        coherence: pair('coherence'),
        dissection: dissection ? { basis: dissection.basis, rotatedMean: dissection.rotatedMean, latent: dissection.latent?.rate ?? null } : null,
      };
    },
    get study() {
      const st = store.getState().study;
      if (!st) return null;
      const r = st.reveal;
      return { cards: st.deck.cards.length, marked: st.marks.filter(Boolean).length, reveal: r ? { neuron: r.neuron.rate, random: r.random.rate, latent: r.latent?.rate ?? null, p: r.fisher.p } : null };
    },
    get polysemanticity() {
      const { polysemanticity: p, polyNeuron } = store.getState();
      if (!p) return null;
      const shown = p.neurons.find((n) => n.index === polyNeuron);
      return { neurons: p.neurons.length, mean: p.meanPolysemanticity, histogram: p.histogram, neuron: polyNeuron, clusters: shown?.clusters.map((c) => c.size) ?? [] };
    },
    get interventions() {
      const watchedSummary = (t: SteeringTest | undefined) => t ? { tokens: t.tokens.map((k) => k.text), rise: t.rise.value, randomMean: t.rise.randomMean, pT: t.rise.pT, pRank: t.rise.pRank, controls: t.rise.randomValues.length } : null;
      const { steering: r, ablation: a, classRun: c, interventionProblem } = store.getState();
      const measured = c?.result ? (c.result.kind === 'steer' ? { test: c.result.test, v: c.result.test.rise } : { test: c.result.test, v: c.result.test.accuracyDrop }) : null;
      const text = (side: SteerToken['side']) => (r!.result ? r!.result[side].text : r!.tokens[side].join(''));
      const increase = a?.result?.increase;
      return {
        steering: r
          ? { id: r.id, direction: r.direction, layer: r.layer, alpha: r.alpha, end: r.end, unsteered: text('unsteered'), steered: text('steered'), streamed: { unsteered: r.tokens.unsteered.length, steered: r.tokens.steered.length }, kl: r.result?.heldOut.klMean ?? null, watched: watchedSummary(r.result?.significance) }
          : null,
        ablation: a
          ? { id: a.id, direction: a.direction, layer: a.layer, mode: a.mode, watch: a.watch, texts: a.texts, end: a.end, fraction: a.fraction, predictions: a.result?.predictions ?? null, increase: increase?.value ?? null, randomMean: increase?.randomMean ?? null, pT: increase?.pT ?? null, controls: increase?.randomValues.length ?? 0 }
          : null,
        classRun: c
          ? { id: c.id, kind: c.kind, direction: c.direction, className: c.className, end: c.end, fraction: c.fraction, value: measured?.v.value ?? null, randomMean: measured?.v.randomMean ?? null, pT: measured?.v.pT ?? null, controls: measured?.v.randomValues.length ?? 0, images: measured?.test.images ?? 0 }
          : null,
        problem: interventionProblem,
      };
    },
    get sae() {
      const { saeTask, saeCurve, saeEpochLoss, saeRunEnd, saeSummary, saeLatent, saePolysemanticity: poly, saeLossRecovered: loss } = store.getState();
      const last = saeCurve[saeCurve.length - 1];
      const held = saeSummary && {
        origin: saeSummary.origin,
        architecture: saeSummary.config.architecture,
        dIn: saeSummary.config.dIn,
        dSae: saeSummary.config.dSae,
        k: saeSummary.config.k,
        layer: saeSummary.config.layer,
        mse: saeSummary.measures.mse,
        fve: saeSummary.measures.fve,
        l0: saeSummary.measures.l0,
        deadLatents: saeSummary.measures.deadLatents,
        liveLatents: saeSummary.config.dSae - saeSummary.measures.deadLatents,
        digest: saeSummary.digest,
      };
      const polysemanticity = poly && { histogram: poly.histogram, mean: poly.meanPolysemanticity, deadLatents: poly.deadLatents, threshold: poly.threshold, minMembers: poly.minMembers };
      const lossRecovered = loss && { windows: loss.windows, clean: loss.clean, spliced: loss.spliced, zero: loss.zero, lossRecovered: loss.lossRecovered, lossRecoveredExceptFirst: loss.lossRecoveredExceptFirst };
      return { task: saeTask, spans: saeCurve.length, rowsSeen: last?.rowsSeen ?? 0, totalRows: last?.totalRows ?? 0, runEnd: saeRunEnd, held, latent: saeLatent, polysemanticity, lossRecovered, epochLoss: saeEpochLoss.map((l) => l.lossRecovered) };
    },
    get modelMemory() {
      return memory.current();
    },
    get recording() {
      return store.getState().recordingStats;
    },
    cellScreenCenters: () => view()?.cellScreenCenters() ?? [],
    iconTilesPending: () => view()?.iconTilesPending() ?? 0,
  };
  window.__atlas = hook;
  // Each status change is marked on the browser's own timeline, when it happens, so tests can line up
  // long-task entries with what the app was doing without sampling on the main thread.
  performance.mark(STATUS_MARK, { detail: store.getState().status });
  const unsubscribe = store.subscribe((state, previous) => {
    if (state.status !== previous.status) performance.mark(STATUS_MARK, { detail: state.status });
  });
  return () => {
    unsubscribe();
    memory.stop();
    if (window.__atlas === hook) delete window.__atlas;
  };
}
