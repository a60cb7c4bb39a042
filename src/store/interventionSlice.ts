import type { StateCreator } from 'zustand';
import type { SteerPromptResult, SteerToken } from '../workers/protocol';
import type { AtlasStore } from './index';

/** A steering run as the Interventions panel shows it: what was asked, both continuations as they stream, and the end. */
export interface SteeringRun {
  id: number;
  /** The direction in words ("concept sea", "neuron 12", "SAE latent 40", "random direction, seed 3") and its layer. */
  direction: string;
  layer: string;
  alpha: number;
  prompt: string;
  /** Token texts as they arrived, per continuation. */
  tokens: Record<SteerToken['side'], string[]>;
  end: 'running' | 'done' | 'cancelled' | 'failed';
  /** The whole answer, once done. */
  result: SteerPromptResult | null;
}

/** The interventions on the atlas's model: the last steering run (kept through a bad input), and the last problem. */
export interface InterventionSlice {
  steering: SteeringRun | null;
  /** Why the last request was refused or failed; null when it went through. */
  steerProblem: string | null;
  /** A run while it waits its turn on the model: what for. */
  steerWait: string | null;
  startSteering: (run: SteeringRun) => void;
  addSteerToken: (id: number, token: SteerToken) => void;
  endSteering: (id: number, end: SteeringRun['end'], result?: SteerPromptResult) => void;
  setSteerProblem: (message: string | null) => void;
  setSteerWait: (message: string | null) => void;
}

type InterventionState = Pick<InterventionSlice, 'steering' | 'steerProblem' | 'steerWait'>;

/** The intervention state of a newly shown atlas: nothing steered (a run belongs to the atlas's recording). */
export function interventionFor(): InterventionState {
  return { steering: null, steerProblem: null, steerWait: null };
}

/** `update` applied to the run on screen if it is run `id`; an answer for a replaced run changes nothing. */
const onRun = (id: number, update: (run: SteeringRun) => Partial<SteeringRun>) => (s: AtlasStore) =>
  s.steering?.id === id ? { steering: { ...s.steering, ...update(s.steering) } } : {};

export const createInterventionSlice: StateCreator<AtlasStore, [], [], InterventionSlice> = (set) => ({
  ...interventionFor(),
  startSteering: (steering) => set({ steering, steerProblem: null, steerWait: null }),
  addSteerToken: (id, token) => set(onRun(id, (run) => ({ tokens: { ...run.tokens, [token.side]: [...run.tokens[token.side], token.text] } }))),
  endSteering: (id, end, result) => set((s) => ({ ...onRun(id, () => ({ end, result: result ?? null }))(s), steerWait: null })),
  setSteerProblem: (steerProblem) => set({ steerProblem }),
  setSteerWait: (steerWait) => set({ steerWait }),
});
