import type { StateCreator } from 'zustand';
import type { LevelProgress } from '../featureVis/queue';
import type { IconQuality } from '../featureVis/recipe';
import type { AtlasStore } from './index';

export type FeatureVisStatus = 'off' | 'running' | 'done' | 'unavailable' | 'failed';

/** Progress of the feature-visualisation icons of the atlas on screen. */
export interface FeatureVisSlice {
  featureVisStatus: FeatureVisStatus;
  /** Where the icons run, or why they cannot (e.g. an op without a gradient). */
  featureVisMessage: string | null;
  featureVisLevels: LevelProgress[];
  /** Goes up whenever icons arrived, so the view re-uploads the level texture. */
  iconVersion: number;
  /** Feature-visualisation icons in the textures uploaded last (all levels). */
  iconsShown: number;
  /** The icons' recipe (src/featureVis/recipe.ts): the atlas's icons, and the concept and neuron visualisations. */
  iconQuality: IconQuality;
  setIconQuality: (quality: IconQuality) => void;
  featureVisStarted: () => void;
  featureVisProgress: (levels: LevelProgress[]) => void;
  featureVisFinished: (status: Exclude<FeatureVisStatus, 'running'>, message: string | null) => void;
  iconsArrived: (shown: number) => void;
}

export const createFeatureVisSlice: StateCreator<AtlasStore, [], [], FeatureVisSlice> = (set) => ({
  featureVisStatus: 'off',
  featureVisMessage: null,
  featureVisLevels: [],
  iconVersion: 0,
  iconsShown: 0,
  iconQuality: 'standard',
  setIconQuality: (iconQuality) => set({ iconQuality }),
  featureVisStarted: () => set({ featureVisStatus: 'running', featureVisMessage: null, featureVisLevels: [] }),
  featureVisProgress: (featureVisLevels) => set({ featureVisLevels }),
  featureVisFinished: (featureVisStatus, featureVisMessage) => set({ featureVisStatus, featureVisMessage }),
  iconsArrived: (iconsShown) => set((s) => ({ iconVersion: s.iconVersion + 1, iconsShown })),
});
