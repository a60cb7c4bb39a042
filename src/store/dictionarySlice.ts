import type { StateCreator } from 'zustand';
import type { LatentPolysemanticityView, SaeLossRecovered, SaeSummary, SaeTrainProgress } from '../workers/protocol';
import type { AtlasStore } from './index';

/** The dictionary panel's task under way (training, opening files, saving), or the last one's failure; null: idle. */
export interface SaeTask {
  kind: 'train' | 'open' | 'save' | 'polysemanticity' | 'loss' | 'atlas';
  status: 'running' | 'error';
  message: string;
  /** Of a running task: the fraction done (training's rows seen over its total; 0 while it waits its turn). */
  fraction: number;
}

/** A sparse autoencoder over the atlas on screen: the task, the live training curve, the SAE held, the latent shown. */
export interface DictionarySlice {
  saeTask: SaeTask | null;
  /** The last training run's progress spans, in order (kept when it ends, cancelled or not, for the chart). */
  saeCurve: SaeTrainProgress[];
  /** A GPT-2 layer's SAE as it stood at each epoch's end of the last run, spliced in: its loss recovered, by epoch. */
  saeEpochLoss: SaeLossRecovered[];
  /** How the last run ended: 'done', 'cancelled', or null while it runs or before any. */
  saeRunEnd: 'done' | 'cancelled' | null;
  saeSummary: SaeSummary | null;
  /** The held SAE's latents by polysemanticity, once measured (cleared with a new SAE). */
  saePolysemanticity: LatentPolysemanticityView | null;
  /** A GPT-2 layer's SAE spliced in for the layer: its loss recovered, once measured (cleared with a new SAE). */
  saeLossRecovered: SaeLossRecovered | null;
  /** The latent whose top rows are shown. */
  saeLatent: number | null;
  setSaeTask: (task: SaeTask | null) => void;
  /** A new training run: the curve starts empty. */
  startSaeRun: () => void;
  /** A training span and the task's message with it: one update, so the panel and its charts draw once a span. */
  addSaeProgress: (progress: SaeTrainProgress, task: SaeTask) => void;
  addSaeEpochLoss: (epoch: number, loss: SaeLossRecovered) => void;
  endSaeRun: (end: 'done' | 'cancelled') => void;
  /** The SAE now held; the latent shown is cleared, and an opened one clears the curve of the last run. */
  setSaeSummary: (summary: SaeSummary) => void;
  showLatent: (latent: number | null) => void;
  setSaePolysemanticity: (measured: LatentPolysemanticityView) => void;
  setSaeLossRecovered: (measured: SaeLossRecovered) => void;
}

type DictionaryState = Pick<DictionarySlice, 'saeTask' | 'saeCurve' | 'saeEpochLoss' | 'saeRunEnd' | 'saeSummary' | 'saePolysemanticity' | 'saeLossRecovered' | 'saeLatent'>;

/** The dictionary state of a newly shown atlas: no SAE (one is trained or opened for an atlas's rows). */
export function dictionaryFor(): DictionaryState {
  return { saeTask: null, saeCurve: [], saeEpochLoss: [], saeRunEnd: null, saeSummary: null, saePolysemanticity: null, saeLossRecovered: null, saeLatent: null };
}

export const createDictionarySlice: StateCreator<AtlasStore, [], [], DictionarySlice> = (set) => ({
  ...dictionaryFor(),
  setSaeTask: (saeTask) => set({ saeTask }),
  startSaeRun: () => set({ saeCurve: [], saeEpochLoss: [], saeRunEnd: null }),
  addSaeEpochLoss: (epoch, loss) => set((s) => ({ saeEpochLoss: [...s.saeEpochLoss.slice(0, epoch), loss] })),
  addSaeProgress: (progress, saeTask) => set((s) => ({ saeCurve: [...s.saeCurve, progress], saeTask })),
  endSaeRun: (saeRunEnd) => set({ saeRunEnd }),
  // An SAE opened from files was not trained here: the last run's curve is of another SAE.
  setSaeSummary: (saeSummary) =>
    set({ saeSummary, saePolysemanticity: null, saeLossRecovered: null, saeLatent: null, ...(saeSummary.origin === 'opened' ? { saeCurve: [], saeEpochLoss: [], saeRunEnd: null } : {}) }),
  setSaePolysemanticity: (saePolysemanticity) => set({ saePolysemanticity }),
  setSaeLossRecovered: (saeLossRecovered) => set({ saeLossRecovered }),
  showLatent: (saeLatent) => set({ saeLatent }),
});
