import type { StateCreator } from 'zustand';
import { combineSelection, type SelectionMode } from '../atlas/selection';
import type { AtlasStore } from './index';

export type SelectTool = 'pan' | 'lasso' | 'box';

/** What a drag on the atlas does, and the selected points (indices into the atlas's points). */
export interface SelectionSlice {
  selectTool: SelectTool;
  /** Sorted point indices; empty: nothing selected. */
  selection: number[];
  setSelectTool: (tool: SelectTool) => void;
  applySelection: (hits: number[], mode: SelectionMode) => void;
  clearSelection: () => void;
}

export const createSelectionSlice: StateCreator<AtlasStore, [], [], SelectionSlice> = (set) => ({
  selectTool: 'pan',
  selection: [],
  setSelectTool: (selectTool) => set({ selectTool }),
  applySelection: (hits, mode) => set((s) => ({ selection: combineSelection(s.selection, hits, mode) })),
  clearSelection: () => set({ selection: [] }),
});
