import type { StateCreator } from 'zustand';
import { DEFAULT_SAMPLES_PER_INPUT } from '../compute/atlas';
import type { BackendInfo, LoadProgress, ModelSource, ModelSummary } from '../workers/protocol';
import type { AtlasStore } from './index';

export type ModelOrigin = ModelSource['kind'];

/** The loaded model, the layer to record, and the backend doing the work. */
export interface ModelSlice {
  backend: BackendInfo | null;
  /** Where the loaded model came from (a failed load leaves the previous model and origin in place). */
  modelOrigin: ModelOrigin;
  /** pending -> ready | error, for the model the user asked for last. */
  modelStatus: 'idle' | 'pending' | 'ready' | 'error';
  model: ModelSummary | null;
  /** The load in progress (fetching a hub model's files...), null otherwise. */
  modelProgress: LoadProgress | null;
  layer: string | null;
  setBackend: (backend: BackendInfo) => void;
  modelRequested: () => void;
  modelLoaded: (model: ModelSummary, origin: ModelOrigin) => void;
  modelFailed: () => void;
  /** The model worker lost the model and could not load it again: there is none. */
  modelLost: () => void;
  modelLoadProgress: (progress: LoadProgress | null) => void;
  selectLayer: (name: string) => void;
}

export const createModelSlice: StateCreator<AtlasStore, [], [], ModelSlice> = (set) => ({
  backend: null,
  modelOrigin: 'default',
  modelStatus: 'idle',
  model: null,
  modelProgress: null,
  layer: null,
  setBackend: (backend) => set({ backend }),
  modelRequested: () => set({ modelStatus: 'pending', modelProgress: null }),
  modelLoaded: (model, modelOrigin) =>
    set((s) => ({
      model,
      modelOrigin,
      modelStatus: 'ready',
      modelProgress: null,
      layer: model.defaultLayer,
      // A new modality starts from its own default sampling: every token of a text, 4 positions of an image.
      params: s.model?.modality === model.modality ? s.params : { ...s.params, samplesPerInput: DEFAULT_SAMPLES_PER_INPUT[model.modality] },
    })),
  modelFailed: () => set((s) => ({ modelStatus: s.model ? 'ready' : 'error', modelProgress: null })),
  modelLost: () => set({ model: null, modelStatus: 'error', modelProgress: null }),
  modelLoadProgress: (modelProgress) => set({ modelProgress }),
  selectLayer: (layer) => set({ layer }),
});
