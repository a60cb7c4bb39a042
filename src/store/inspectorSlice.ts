import type { StateCreator } from 'zustand';
import type { AtlasStore } from './index';

export interface CellRef {
  gridSize: number;
  i: number;
  j: number;
}

/** The clicked cell, and which of its top inputs is shown large (an index into `cell.top`). */
export interface InspectorSlice {
  selected: CellRef | null;
  enlarged: number | null;
  selectCell: (cell: CellRef | null) => void;
  enlargeTopInput: (rank: number | null) => void;
}

export const createInspectorSlice: StateCreator<AtlasStore, [], [], InspectorSlice> = (set) => ({
  selected: null,
  enlarged: null,
  selectCell: (selected) => set({ selected, enlarged: null }),
  enlargeTopInput: (enlarged) => set({ enlarged }),
});
