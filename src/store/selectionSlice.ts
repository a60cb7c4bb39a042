import type { StateCreator } from 'zustand';
import type { AtlasStore } from './index';

export type SelectTool = 'pan' | 'lasso' | 'box';

/** How a new lasso or box combines with the selection: replace it, add to it (shift), or take from it (alt). */
export type SelectionMode = 'replace' | 'add' | 'remove';

/** The selection after a lasso or box: sorted, without repeats. */
export function combineSelection(current: readonly number[], hits: readonly number[], mode: SelectionMode): number[] {
  if (mode === 'replace') return [...new Set(hits)].sort((a, b) => a - b);
  const set = new Set(current);
  for (const h of hits) {
    if (mode === 'add') set.add(h);
    else set.delete(h);
  }
  return [...set].sort((a, b) => a - b);
}

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
