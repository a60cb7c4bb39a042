import type { Atlas } from '../compute/atlas';
import { cellOf } from '../compute/grid';
import { WORLD_SIZE } from './geometry';

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

/** The atlas's points (indices) whose layout position, in world units, lies inside the polygon. */
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

/** Selected points per cell of a g x g level, keyed `${i}:${j}`: the view dims cells without any. */
export function selectedPerCell(atlas: Atlas, gridSize: number, selection: readonly number[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const p of selection) {
    const key = `${cellOf(atlas.points.layoutX[p], gridSize)}:${cellOf(atlas.points.layoutY[p], gridSize)}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** The distinct inputs of the selected points, in order of first appearance. */
export function selectedInputs(atlas: Atlas, selection: readonly number[]): number[] {
  return [...new Set(selection.map((p) => atlas.points.input[p]))];
}
