import type { StateCreator } from 'zustand';
import type { AblationMode, AblationTest, ImageAblationTest, ImageSteeringTest, SteerPromptResult, SteerToken } from '../workers/protocol';
import type { AtlasStore } from './index';

/** What every intervention run names: the direction in words ("concept "sea"", "neuron 12") and its layer. */
export interface InterventionRun {
  id: number;
  direction: string;
  layer: string;
  end: 'running' | RunEnd;
}

/** How a run ended. */
export type RunEnd = 'done' | 'cancelled' | 'failed';

/** A steering run as the Interventions panel shows it: what was asked, both continuations as they stream, and the end. */
export interface SteeringRun extends InterventionRun {
  alpha: number;
  prompt: string;
  /** Token texts as they arrived, per continuation. */
  tokens: Record<SteerToken['side'], string[]>;
  /** The whole answer, once done. */
  result: SteerPromptResult | null;
  /** With watched words: the fraction of the held-out contexts their test has done, once it started. */
  testFraction: number | null;
}

/** An ablation run: the fraction of its passes done, then its test against random ablations. */
export interface AblationRun extends InterventionRun {
  mode: AblationMode;
  /** The words whose predictions alone are scored; null: every prediction. */
  watch: string[] | null;
  /** Whether the loss is measured on texts the user gave rather than the atlas's own. */
  texts: boolean;
  fraction: number;
  result: AblationTest | null;
}

/** A class measured on an image model: steered along the direction, or with it ablated, against random controls. */
export type ClassResult = { kind: 'steer'; test: ImageSteeringTest } | { kind: 'ablate'; test: ImageAblationTest };

/** An image model's class steered or ablated: what was asked, the fraction of its passes done, then its test. */
export interface ClassRun extends InterventionRun {
  kind: ClassResult['kind'];
  className: string;
  /** α of a steering; the mode of an ablation. */
  alpha: number | null;
  mode: AblationMode | null;
  fraction: number;
  result: ClassResult | null;
}

/** The interventions on the atlas's model: the last run of each kind (kept through a bad input), and the last problem. */
export interface InterventionSlice {
  steering: SteeringRun | null;
  ablation: AblationRun | null;
  classRun: ClassRun | null;
  /** Why the last request was refused or failed; null when it went through. */
  interventionProblem: string | null;
  /** A run while it waits its turn on the model: what for. */
  interventionWait: string | null;
  /** A new run of its kind on screen; the last problem and wait are cleared. */
  startRun: <K extends RunKind>(kind: K, run: NonNullable<InterventionState[K]>) => void;
  addSteerToken: (id: number, token: SteerToken) => void;
  /** The fraction done of a steering run's watched-words test. */
  steerTestProgress: (id: number, fraction: number) => void;
  endSteering: (id: number, end: RunEnd, result?: SteerPromptResult) => void;
  /** The fraction done of a measuring run (an ablation, a class run). */
  measureProgress: (kind: MeasureKind, id: number, fraction: number) => void;
  endMeasure: <K extends MeasureKind>(kind: K, id: number, end: RunEnd, result?: NonNullable<InterventionState[K]>['result']) => void;
  setInterventionProblem: (message: string | null) => void;
  setInterventionWait: (message: string | null) => void;
}

type InterventionState = Pick<InterventionSlice, 'steering' | 'ablation' | 'classRun' | 'interventionProblem' | 'interventionWait'>;
/** The runs the panel shows, one of each kind; the measuring ones report a fraction done, then a result. */
type RunKind = 'steering' | 'ablation' | 'classRun';
type MeasureKind = Exclude<RunKind, 'steering'>;

/** The intervention state of a newly shown atlas: nothing run (a run belongs to the atlas's recording). */
export function interventionFor(): InterventionState {
  return { steering: null, ablation: null, classRun: null, interventionProblem: null, interventionWait: null };
}

/** `update` applied to the `kind` run on screen if it is run `id`; an answer for a replaced run changes nothing. */
function onRun<K extends RunKind>(kind: K, id: number, update: (run: NonNullable<AtlasStore[K]>) => Partial<NonNullable<AtlasStore[K]>>) {
  return (s: AtlasStore): Partial<AtlasStore> => {
    const run = s[kind];
    return run?.id === id ? { [kind]: { ...run, ...update(run as NonNullable<AtlasStore[K]>) } } : {};
  };
}

export const createInterventionSlice: StateCreator<AtlasStore, [], [], InterventionSlice> = (set) => ({
  ...interventionFor(),
  startRun: (kind, run) => set({ [kind]: run, interventionProblem: null, interventionWait: null }),
  addSteerToken: (id, token) => set((s) => ({ ...onRun('steering', id, (run) => ({ tokens: { ...run.tokens, [token.side]: [...run.tokens[token.side], token.text] } }))(s), interventionWait: null })),
  steerTestProgress: (id, fraction) => set((s) => ({ ...onRun('steering', id, () => ({ testFraction: fraction }))(s), interventionWait: null })),
  endSteering: (id, end, result) => set((s) => ({ ...onRun('steering', id, () => ({ end, result: result ?? null }))(s), interventionWait: null })),
  measureProgress: (kind, id, fraction) => set((s) => ({ ...onRun(kind, id, () => ({ fraction }))(s), interventionWait: null })),
  endMeasure: (kind, id, end, result) =>
    set((s) => ({ ...onRun(kind, id, () => ({ end, result: result ?? null, ...(result ? { fraction: 1 } : {}) }) as Partial<AblationRun & ClassRun>)(s), interventionWait: null })),
  setInterventionProblem: (interventionProblem) => set({ interventionProblem }),
  setInterventionWait: (interventionWait) => set({ interventionWait }),
});
