import { layoutAtlas, withoutPreviews, type AtlasParams, type InputError, type LaidOutAtlas, type LayoutColumns, type ModalityInputs } from '../compute/atlas';
import { conceptTcav, fitConcept, restRows, tcavCavs, type ConceptExamples, type ConceptFit, type ConceptTcav, type ConceptTcavOptions, type TcavCavs } from '../compute/directions/concept';
import type { CavMethod } from '../compute/directions/cav';
import { gatherRows } from '../compute/directions/vectors';
import { neuronsVersusRandom, type VersusRandomOptions, type VersusRandomResult } from '../compute/directions/versusRandom';
import { classAttribution } from '../compute/directions/attribution';
import { neuronProfile, rankByDirection, type NeuronProfile } from '../compute/grid';
import type { ActivationTable, TopInput } from '../compute/types';
import { blobSource } from '../export/npyRead';
import { readPointsTable } from '../export/pointsTable';
import { precomputedRecording } from '../export/precomputed';
import type { RangeRunner } from '../compute/parallel/runner';
import { withTransfer, type CallContext } from './rpc';

/** An activation file (.npy) and its points table as the page picked them: read here in chunks, never whole on the page. */
export interface PrecomputedFiles {
  activations: Blob;
  activationsName: string;
  points: Blob | null;
  pointsName: string | null;
}

/** A precomputed atlas laid out: the atlas less its rows' texts and images, which come beside it. */
export interface PrecomputedLayout {
  atlas: LaidOutAtlas;
  layout: number;
  previews: ModalityInputs['precomputed'];
  errors: InputError[];
}

/** One side of a concept: points of the atlas, or rows recorded elsewhere (a folder of concept inputs). */
export type ConceptSide = { kind: 'points'; points: number[] } | { kind: 'rows'; values: Float32Array; count: number };

export interface ConceptRequest {
  /** The concept's id: its examples stay here for TCAV. */
  id: string;
  positives: ConceptSide;
  /** Counterexamples; 'rest': the atlas's other points (at most REST_CAP, seeded). */
  negatives: ConceptSide | { kind: 'rest' };
  method: CavMethod;
  seed: number;
}

export interface ComputeServiceOptions {
  /** Makes the range runner layouts use (the compute worker: a pool of nested workers); default: this thread only. */
  threads?: () => RangeRunner;
}

/** Counterexamples drawn from the rest of the atlas: enough for stable means and random concepts, quick to fit. */
const REST_CAP = 2000;

/**
 * Projection and gridding, and what is computed on the last atlas's activation table (neuron profiles, concepts,
 * TCAV tests, class attribution, neurons against random directions); served by compute.worker.ts (and by a worker
 * thread in the Node tests).
 */
export function createComputeService(options: ComputeServiceOptions = {}) {
  /** The threads layouts run on, made at the first layout and kept (its workers stay warm between builds). */
  let runner: RangeRunner | undefined;
  const threads = (): RangeRunner | undefined => (runner ??= options.threads?.());
  /** The table of the last atlas laid out here: its rows are that atlas's points. */
  let table: ActivationTable | null = null;
  /** Numbers the layouts (BuildRef.layout); `tableLayout` is the one `table` belongs to. */
  // Numbers start at random so that a restarted worker's layouts never reuse an earlier worker's numbers.
  let layouts = Math.floor(Math.random() * 2 ** 30);
  let tableLayout = -1;
  /** Each concept's examples, for its TCAV tests; kept through a rebuild only for the concepts the page carries over. */
  const examples = new Map<string, ConceptExamples>();
  /** The TCAV CAVs learnt from each concept's examples, by method, runs and seed; gone with the examples. */
  const tcavCavsOf = new WeakMap<ConceptExamples, Map<string, TcavCavs>>();
  const current = (layout: number, what: string): ActivationTable => {
    if (!table || layout !== tableLayout) {
      throw new Error(`Build the atlas again: ${what} reads the activations it recorded, which an atlas opened from a file lacks and a cancelled rebuild replaced.`);
    }
    return table;
  };
  const side = (t: ActivationTable, s: ConceptSide): { values: Float32Array; count: number } => {
    if (s.kind === 'rows') {
      if (s.values.length !== s.count * t.dim) throw new Error(`${s.count} concept rows do not have ${t.dim} values each, as ${t.layer} has.`);
      return s;
    }
    const bad = s.points.find((p) => !Number.isInteger(p) || p < 0 || p >= t.count);
    if (bad !== undefined) throw new Error(`Point ${bad} is not in the atlas (${t.count} points).`);
    return { values: gatherRows(t.values, s.points, t.dim), count: s.points.length };
  };

  /** Projects and grids a recording; its table becomes the one later requests name by the returned layout number. */
  const layOut = async (context: CallContext, recorded: LayoutColumns, params: AtlasParams, keepConcepts: string[]): Promise<{ atlas: LaidOutAtlas; layout: number }> => {
    const layout = ++layouts;
    table = null;
    // A concept's examples are rows of its layer, not points of an atlas: those the page carries over stay.
    for (const id of examples.keys()) if (!keepConcepts.includes(id)) examples.delete(id);
    const atlas = await layoutAtlas(
      recorded,
      params,
      (event) => context.progress(event),
      context.signal,
      (t) => {
        table = t;
        tableLayout = layout;
      },
      { runner: threads() },
    );
    return { atlas, layout };
  };

  return {
    /** Projects the recorded activations and bins them into the atlas's grid levels; intermediate layouts go out as progress. */
    layoutAtlas(context: CallContext, recorded: LayoutColumns, params: AtlasParams, keepConcepts: string[] = []): Promise<{ atlas: LaidOutAtlas; layout: number }> {
      return layOut(context, recorded, params, keepConcepts);
    },

    /**
     * An atlas of precomputed activations, without a model: reads the .npy in chunks and its points table here (the
     * page's thread only passes the files), records every row into the streaming recorder, then lays out as above.
     */
    async layoutPrecomputed(context: CallContext, files: PrecomputedFiles, params: AtlasParams): Promise<PrecomputedLayout> {
      const points = files.points ? await readPointsTable(new Uint8Array(await files.points.arrayBuffer()), files.pointsName ?? 'points table') : null;
      const { recorded, errors } = await precomputedRecording(
        { activations: blobSource(files.activations), name: files.activationsName, points, ...(files.pointsName ? { pointsName: files.pointsName } : {}) },
        { seed: params.seed, onProgress: (event) => context.progress(event), signal: context.signal },
      );
      const { atlas, layout } = await layOut(context, withoutPreviews(recorded), { ...params, samplesPerInput: 'pooled' }, []);
      return { atlas, layout, previews: recorded.previews, errors };
    },

    /** One neuron of the last atlas's layer: its top points (indices into the atlas's points) and its histogram. */
    neuronProfile(_: CallContext, layout: number, neuron: number, topK: number): NeuronProfile {
      return neuronProfile(current(layout, 'the neuron view'), neuron, topK);
    },

    /** Learns a concept vector from its examples at the atlas's layer, with its held-out accuracy; keeps the examples for TCAV. */
    learnConcept(_: CallContext, layout: number, request: ConceptRequest): ConceptFit {
      const t = current(layout, 'a concept');
      const pos = side(t, request.positives);
      const neg =
        request.negatives.kind === 'rest'
          ? (() => {
              const exclude = request.positives.kind === 'points' ? request.positives.points : [];
              const rest = restRows(t.values, t.count, t.dim, exclude, REST_CAP, request.seed);
              return { values: rest.rows, count: rest.count };
            })()
          : side(t, request.negatives);
      const ex: ConceptExamples = { dim: t.dim, pos: pos.values, nPos: pos.count, neg: neg.values, nNeg: neg.count };
      const fit = fitConcept(ex, request.method, request.seed);
      examples.set(request.id, ex);
      return fit;
    },

    /** Drops a concept's examples (the concept was removed). */
    forgetConcept(_: CallContext, id: string): void {
      examples.delete(id);
    },

    /** The inputs at both ends of a direction: the topK highest and lowest scoring, each input once (its best point). */
    rankAlong(_: CallContext, layout: number, direction: Float32Array, topK: number): { top: TopInput[]; bottom: TopInput[] } {
      const t = current(layout, 'ranking inputs along a direction');
      const rows = Array.from({ length: t.count }, (_, r) => r);
      const bottom = rankByDirection(t, rows, direction.map((v) => -v), topK).map((p) => ({ ...p, score: -p.score }));
      return { top: rankByDirection(t, rows, direction, topK), bottom };
    },

    /** One class's TCAV test of a concept learnt here, from the class's gradients at the layer (n x dim). */
    conceptTcav(_: CallContext, layout: number, conceptId: string, gradients: Float32Array, n: number, options: ConceptTcavOptions): ConceptTcav {
      current(layout, 'TCAV');
      const ex = examples.get(conceptId);
      if (!ex) throw new Error('TCAV needs the concept\'s examples: learn it again on this atlas (a concept opened from a file keeps only its direction).');
      // Every class of a TCAV request scores the same CAVs: they are learnt once per examples and settings.
      const key = `${options.method}:${options.runs}:${options.seed}`;
      const learnt = tcavCavsOf.get(ex) ?? tcavCavsOf.set(ex, new Map()).get(ex)!;
      const cavs = learnt.get(key) ?? learnt.set(key, tcavCavs(ex, options)).get(key)!;
      return conceptTcav(ex, gradients, n, options, cavs);
    },

    /**
     * k neurons against k seeded random directions, scored by their top inputs, and Network Dissection's check;
     * labels per point (-1: none), or 'key' for each point's recorded token (text), or null.
     */
    async versusRandom(context: CallContext, layout: number, labels: Int32Array | 'key' | null, options: VersusRandomOptions): Promise<VersusRandomResult> {
      const t = current(layout, 'neurons against random directions');
      const perRow = labels === 'key' ? (t.key ?? null) : labels;
      if (perRow && perRow.length !== t.count) throw new Error(`${perRow.length} labels for ${t.count} points.`);
      return neuronsVersusRandom(t.values, t.count, t.dim, perRow, { ...options, groups: t.input }, { signal: context.signal, onProgress: (e) => context.progress(e) });
    },

    /** A copy of the last atlas's activation rows (points x dim, row-major), e.g. to train an SAE on them in the model worker. */
    activationRows(_: CallContext, layout: number): { values: Float32Array; count: number; dim: number; layer: string } {
      const t = current(layout, 'a sparse autoencoder');
      const values = t.values.slice(0, t.count * t.dim);
      return withTransfer({ values, count: t.count, dim: t.dim, layer: t.layer }, [values.buffer]);
    },

    /** Activation times gradient at each given point (gradients: one row per point, in the same order). */
    attribution(_: CallContext, layout: number, points: number[], gradients: Float32Array): Float32Array {
      const t = current(layout, 'the class filter');
      return classAttribution(side(t, { kind: 'points', points }).values, gradients, t.dim);
    },
  };
}

export type ComputeService = ReturnType<typeof createComputeService>;
