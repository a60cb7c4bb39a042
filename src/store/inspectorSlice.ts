import type { StateCreator } from 'zustand';
import type { AtlasStore } from './index';

export interface CellRef {
  gridSize: number;
  i: number;
  j: number;
}

/** The clicked cell, which of its top inputs is shown large (an index into `cell.top`), and the neuron looked at. */
export interface InspectorSlice {
  selected: CellRef | null;
  enlarged: number | null;
  /** The channel of the recorded layer shown in the neuron view, null for none. */
  neuron: number | null;
  selectCell: (cell: CellRef | null) => void;
  enlargeTopInput: (rank: number | null) => void;
  showNeuron: (neuron: number | null) => void;
}

export const createInspectorSlice: StateCreator<AtlasStore, [], [], InspectorSlice> = (set) => ({
  selected: null,
  enlarged: null,
  neuron: null,
  selectCell: (selected) => set({ selected, enlarged: null }),
  enlargeTopInput: (enlarged) => set({ enlarged }),
  showNeuron: (neuron) => set({ neuron }),
});
