import type { StateCreator } from 'zustand';
import type { BackendInfo, ModelSummary } from '../workers/protocol';
import type { AtlasStore } from './index';

export type ModelOrigin = 'default' | 'files' | 'url';

/** The loaded model, the layer to record, and the backend doing the work. */
export interface ModelSlice {
  backend: BackendInfo | null;
  /** Where the loaded model came from (a failed load leaves the previous model and origin in place). */
  modelOrigin: ModelOrigin;
  /** pending -> ready | error, for the model the user asked for last. */
  modelStatus: 'idle' | 'pending' | 'ready' | 'error';
  model: ModelSummary | null;
  layer: string | null;
  setBackend: (backend: BackendInfo) => void;
  modelRequested: () => void;
  modelLoaded: (model: ModelSummary, origin: ModelOrigin) => void;
  modelFailed: () => void;
  selectLayer: (name: string) => void;
}

export const createModelSlice: StateCreator<AtlasStore, [], [], ModelSlice> = (set) => ({
  backend: null,
  modelOrigin: 'default',
  modelStatus: 'idle',
  model: null,
  layer: null,
  setBackend: (backend) => set({ backend }),
  modelRequested: () => set({ modelStatus: 'pending' }),
  modelLoaded: (model, modelOrigin) => set({ model, modelOrigin, modelStatus: 'ready', layer: model.defaultLayer }),
  modelFailed: () => set((s) => ({ modelStatus: s.model ? 'ready' : 'error' })),
  selectLayer: (layer) => set({ layer }),
});
