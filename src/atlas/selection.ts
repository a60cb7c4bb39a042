import type { Atlas } from '../compute/atlas';
import { cellOf } from '../compute/grid';
import { WORLD_SIZE } from './geometry';

/** The performance measure each lasso or box records: its selection's time on the page's thread, the hits as detail. */
export const LASSO_MEASURE = 'atlas-lasso';

/** Whether (x, y) lies inside the polygon (even-odd rule; the polygon closes itself). */
export function pointInPolygon(x: number, y: number, polygon: readonly (readonly [number, number])[]): boolean {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i];
    const [xj, yj] = polygon[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** The atlas's points (indices) whose layout position, in world units, lies inside the polygon, testing every point: the oracle of pointIndex.ts. */
export function pointsInPolygon(atlas: Atlas, polygon: readonly (readonly [number, number])[]): number[] {
  if (polygon.length < 3) return [];
  const xs = polygon.map(([x]) => x);
  const ys = polygon.map(([, y]) => y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const { layoutX, layoutY } = atlas.points;
  const hits: number[] = [];
  for (let p = 0; p < layoutX.length; p++) {
    const x = layoutX[p] * WORLD_SIZE;
    const y = layoutY[p] * WORLD_SIZE;
    if (x >= x0 && x <= x1 && y >= y0 && y <= y1 && pointInPolygon(x, y, polygon)) hits.push(p);
  }
  return hits;
}

/**
 * Selected points per cell of a g x g level, keyed `${i}:${j}`: the view dims cells without any. One pass over the
 * selection into a typed count (a million points' selection takes milliseconds), then one key per non-empty cell.
 */
export function selectedPerCell(atlas: Atlas, gridSize: number, selection: readonly number[]): Map<string, number> {
  const { layoutX, layoutY } = atlas.points;
  const counts = new Uint32Array(gridSize * gridSize);
  for (const p of selection) counts[cellOf(layoutY[p], gridSize) * gridSize + cellOf(layoutX[p], gridSize)]++;
  const out = new Map<string, number>();
  for (let c = 0; c < counts.length; c++) if (counts[c]) out.set(`${c % gridSize}:${Math.floor(c / gridSize)}`, counts[c]);
  return out;
}

/** The distinct inputs of the selected points, in order of first appearance. */
export function selectedInputs(atlas: Atlas, selection: readonly number[]): number[] {
  const seen = new Uint8Array(atlas.inputs.names.length);
  const inputs: number[] = [];
  for (const p of selection) {
    const i = atlas.points.input[p];
    if (!seen[i]) {
      seen[i] = 1;
      inputs.push(i);
    }
  }
  return inputs;
}

/** The points of cell (i, j) of a g x g level, in order: one pass over the layout (a million points in milliseconds). */
export function pointsInCell(atlas: Atlas, gridSize: number, i: number, j: number): Int32Array {
  const { layoutX, layoutY } = atlas.points;
  const out: number[] = [];
  for (let p = 0; p < layoutX.length; p++) if (cellOf(layoutX[p], gridSize) === i && cellOf(layoutY[p], gridSize) === j) out.push(p);
  return Int32Array.from(out);
}
