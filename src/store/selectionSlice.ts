import type { StateCreator } from 'zustand';
import type { AtlasStore } from './index';

export type SelectTool = 'pan' | 'lasso' | 'box';

/** How a new lasso or box combines with the selection: replace it, add to it (shift), or take from it (alt). */
export type SelectionMode = 'replace' | 'add' | 'remove';

/** Whether the values ascend strictly (sorted, no repeats), as the point index answers a lasso. */
function strictlyAscending(values: ArrayLike<number>): boolean {
  for (let k = 1; k < values.length; k++) if (!(values[k] > values[k - 1])) return false;
  return true;
}

/**
 * The selection after a lasso or box: sorted, without repeats. Hits that already ascend (the point index's) merge
 * with the selection in one linear pass, so a lasso over hundreds of thousands of points costs milliseconds.
 */
export function combineSelection(current: readonly number[], hits: ArrayLike<number>, mode: SelectionMode): number[] {
  const sorted = strictlyAscending(hits) ? hits : Float64Array.from(new Set(Array.from(hits))).sort();
  if (mode === 'replace') {
    const out: number[] = new Array(sorted.length);
    for (let k = 0; k < sorted.length; k++) out[k] = sorted[k];
    return out;
  }
  const out: number[] = [];
  let h = 0;
  for (const p of current) {
    while (h < sorted.length && sorted[h] < p) {
      if (mode === 'add') out.push(sorted[h]);
      h++;
    }
    const hit = h < sorted.length && sorted[h] === p;
    if (hit) h++;
    if (mode === 'add' || !hit) out.push(p);
  }
  if (mode === 'add') for (; h < sorted.length; h++) out.push(sorted[h]);
  return out;
}

/** What a drag on the atlas does, and the selected points (indices into the atlas's points). */
export interface SelectionSlice {
  selectTool: SelectTool;
  /** Sorted point indices; empty: nothing selected. */
  selection: number[];
  setSelectTool: (tool: SelectTool) => void;
  applySelection: (hits: ArrayLike<number>, mode: SelectionMode) => void;
  clearSelection: () => void;
}

export const createSelectionSlice: StateCreator<AtlasStore, [], [], SelectionSlice> = (set) => ({
  selectTool: 'pan',
  selection: [],
  setSelectTool: (selectTool) => set({ selectTool }),
  applySelection: (hits, mode) => set((s) => ({ selection: combineSelection(s.selection, hits, mode) })),
  clearSelection: () => set({ selection: [] }),
});
