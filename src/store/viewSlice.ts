import type { StateCreator } from 'zustand';
import type { AtlasStore } from './index';

export interface AtlasViewState {
  target: [number, number, number];
  zoom: number;
}

export type IconMode = 'exemplar' | 'featureVis';

/** How the atlas is looked at: camera, the grid level that follows it, and layer toggles. */
export interface ViewSlice {
  /** null until the view fits a new atlas to its size. */
  viewState: AtlasViewState | null;
  gridSize: number;
  showPoints: boolean;
  showLabels: boolean;
  iconMode: IconMode;
  pngSize: number;
  setViewState: (viewState: AtlasViewState | null) => void;
  setGridSize: (gridSize: number) => void;
  setShowPoints: (show: boolean) => void;
  setShowLabels: (show: boolean) => void;
  setPngSize: (size: number) => void;
  setIconMode: (mode: IconMode) => void;
}

export const createViewSlice: StateCreator<AtlasStore, [], [], ViewSlice> = (set) => ({
  viewState: null,
  gridSize: 0,
  showPoints: false,
  showLabels: true,
  // What an activation atlas is: each cell's feature visualisation, its exemplar until that arrives.
  iconMode: 'featureVis',
  pngSize: 2048,
  setViewState: (viewState) => set({ viewState }),
  setGridSize: (gridSize) => set({ gridSize }),
  setShowPoints: (showPoints) => set({ showPoints }),
  setShowLabels: (showLabels) => set({ showLabels }),
  setPngSize: (pngSize) => set({ pngSize }),
  setIconMode: (iconMode) => set({ iconMode }),
});
