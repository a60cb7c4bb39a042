import { create } from 'zustand';
import { createAtlasSlice, type AtlasSlice } from './atlasSlice';
import { createDictionarySlice, type DictionarySlice } from './dictionarySlice';
import { createDirectionsSlice, type DirectionsSlice } from './directionsSlice';
import { createFeatureVisSlice, type FeatureVisSlice } from './featureVisSlice';
import { createInspectorSlice, type InspectorSlice } from './inspectorSlice';
import { createInterventionSlice, type InterventionSlice } from './interventionSlice';
import { createModelSlice, type ModelSlice } from './modelSlice';
import { createRunSlice, type RunSlice } from './runSlice';
import { createSelectionSlice, type SelectionSlice } from './selectionSlice';
import { createViewSlice, type ViewSlice } from './viewSlice';

export type AtlasStore = ModelSlice & RunSlice & AtlasSlice & ViewSlice & InspectorSlice & FeatureVisSlice & SelectionSlice & DirectionsSlice & DictionarySlice & InterventionSlice;

/** The one bound store of the app: plain, serialisable state and the actions beside it. */
export const useAtlasStore = create<AtlasStore>()((...a) => ({
  ...createModelSlice(...a),
  ...createRunSlice(...a),
  ...createAtlasSlice(...a),
  ...createViewSlice(...a),
  ...createInspectorSlice(...a),
  ...createFeatureVisSlice(...a),
  ...createSelectionSlice(...a),
  ...createDirectionsSlice(...a),
  ...createDictionarySlice(...a),
  ...createInterventionSlice(...a),
}));

/** Back to the initial state (tests, and a fresh start). */
export function resetAtlasStore(): void {
  useAtlasStore.setState(useAtlasStore.getInitialState(), true);
}

export type { AppStatus, AppError, RunParams, UserInputs } from './runSlice';
export type { CellRef } from './inspectorSlice';
export type { FeatureVisStatus } from './featureVisSlice';
export type { AtlasViewState, IconMode } from './viewSlice';
export type { SelectTool } from './selectionSlice';
export type { SaeTask } from './dictionarySlice';
export type { AblationRun, ClassResult, ClassRun, RunEnd, SteeringRun } from './interventionSlice';
export type { ColourBy, DirectionsTask, TcavClass, TcavState } from './directionsSlice';
