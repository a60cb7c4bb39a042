import type { StateCreator } from 'zustand';
import type { Atlas } from '../compute/atlas';
import { dictionaryFor } from './dictionarySlice';
import { interventionFor } from './interventionSlice';
import { directionsFor } from './directionsSlice';
import type { AtlasStore } from './index';

/** The atlas on screen; `version` changes whenever a new one replaces it. */
export interface AtlasSlice {
  atlas: Atlas | null;
  atlasOrigin: 'build' | 'file' | null;
  atlasVersion: number;
  setAtlas: (atlas: Atlas, origin: 'build' | 'file') => void;
}

export const createAtlasSlice: StateCreator<AtlasStore, [], [], AtlasSlice> = (set) => ({
  atlas: null,
  atlasOrigin: null,
  atlasVersion: 0,
  setAtlas: (atlas, atlasOrigin) =>
    set((s) => ({
      atlas,
      atlasOrigin,
      atlasVersion: s.atlasVersion + 1,
      gridSize: atlas.levels[0]?.size ?? 0,
      viewState: null,
      selected: null,
      enlarged: null,
      neuron: null,
      selection: [],
      ...directionsFor(atlas.concepts ?? []),
      ...dictionaryFor(),
      ...interventionFor(),
    })),
});
