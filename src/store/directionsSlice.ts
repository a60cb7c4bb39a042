import type { StateCreator } from 'zustand';
import type { Concept, ConceptTcav } from '../compute/directions/concept';
import type { StudyDeck, StudyReveal, VersusRandomResult } from '../compute/directions/versusRandom';
import type { LayerPolysemanticityView } from '../workers/protocol';
import type { AtlasStore } from './index';

/** What tints the atlas's cells: nothing, a concept (each cell's mean score along it), or a class's attribution. */
export type ColourBy =
  | { kind: 'none' }
  | { kind: 'concept'; id: string }
  /** Per point activation x gradient of the target's logit; NaN where a point was not sampled. */
  | { kind: 'class'; target: string; values: Float32Array };

/** One class's TCAV result as the chart shows it. */
export type TcavClass = ConceptTcav & {
  /** The class index, or the token id for GPT-2. */
  classIndex: number;
  className: string;
  /** Inputs (or token positions) whose gradients were tested. */
  inputs: number;
};

export interface TcavState {
  conceptId: string;
  classes: TcavClass[];
  runs: number;
  classesTested: number;
}

/** A long direction task under way, or the last one's failure; null: idle. */
export interface DirectionsTask {
  name: string;
  status: 'running' | 'error';
  message: string;
}

/** Neurons against random directions: the result, and what its labels were. */
export interface VersusState {
  result: VersusRandomResult;
  /** 'true labels', 'predicted classes' or 'the recorded token'. */
  labels: string;
}

/** The blind study: shuffled cards, the user's marks, and the reveal once asked for. */
export interface StudyState {
  /** Changes with every new deck. */
  id: number;
  deck: StudyDeck;
  marks: boolean[];
  reveal: StudyReveal | null;
}

/** Concepts of the atlas on screen, what colours it, the last TCAV result, and the task running. */
export interface DirectionsSlice {
  concepts: Concept[];
  /** The concept the panel shows. */
  activeConcept: string | null;
  colourBy: ColourBy;
  tcav: TcavState | null;
  directionsTask: DirectionsTask | null;
  versus: VersusState | null;
  study: StudyState | null;
  polysemanticity: LayerPolysemanticityView | null;
  /** The neuron whose clusters are shown. */
  polyNeuron: number | null;
  setVersus: (versus: VersusState | null) => void;
  setStudy: (study: StudyState | null) => void;
  markStudyCard: (card: number, interpretable: boolean) => void;
  setPolysemanticity: (result: LayerPolysemanticityView | null) => void;
  setPolyNeuron: (neuron: number | null) => void;
  addConcept: (concept: Concept) => void;
  removeConcept: (id: string) => void;
  setActiveConcept: (id: string | null) => void;
  setColourBy: (colourBy: ColourBy) => void;
  setTcav: (tcav: TcavState | null) => void;
  setDirectionsTask: (task: DirectionsTask | null) => void;
}

type DirectionsState = Omit<DirectionsSlice, { [K in keyof DirectionsSlice]: DirectionsSlice[K] extends (...args: never[]) => unknown ? K : never }[keyof DirectionsSlice]>;

/** The directions state of a newly shown atlas: its saved concepts, the first one active, nothing computed yet. */
export function directionsFor(concepts: Concept[]): DirectionsState {
  return {
    concepts,
    activeConcept: concepts[0]?.id ?? null,
    colourBy: { kind: 'none' },
    tcav: null,
    directionsTask: null,
    versus: null,
    study: null,
    polysemanticity: null,
    polyNeuron: null,
  };
}

export const createDirectionsSlice: StateCreator<AtlasStore, [], [], DirectionsSlice> = (set) => ({
  ...directionsFor([]),
  setVersus: (versus) => set({ versus, study: null }),
  setStudy: (study) => set({ study }),
  markStudyCard: (card, interpretable) =>
    set((s) => (s.study && !s.study.reveal ? { study: { ...s.study, marks: s.study.marks.map((m, k) => (k === card ? interpretable : m)) } } : {})),
  setPolysemanticity: (polysemanticity) => set({ polysemanticity, polyNeuron: polysemanticity?.neurons[0]?.index ?? null }),
  setPolyNeuron: (polyNeuron) => set({ polyNeuron }),
  addConcept: (concept) =>
    set((s) => ({ concepts: [...s.concepts, concept], activeConcept: concept.id, colourBy: { kind: 'concept', id: concept.id }, tcav: null })),
  removeConcept: (id) =>
    set((s) => ({
      concepts: s.concepts.filter((c) => c.id !== id),
      activeConcept: s.activeConcept === id ? null : s.activeConcept,
      colourBy: s.colourBy.kind === 'concept' && s.colourBy.id === id ? { kind: 'none' } : s.colourBy,
      tcav: s.tcav?.conceptId === id ? null : s.tcav,
    })),
  setActiveConcept: (activeConcept) => set((s) => ({ activeConcept, tcav: s.tcav?.conceptId === activeConcept ? s.tcav : null })),
  setColourBy: (colourBy) => set({ colourBy }),
  setTcav: (tcav) => set({ tcav }),
  setDirectionsTask: (directionsTask) => set({ directionsTask }),
});
