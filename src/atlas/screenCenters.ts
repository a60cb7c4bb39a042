import { cellCenter } from './geometry';

export interface ScreenCenter {
  x: number;
  y: number;
  /** The cell's column and row in its grid. */
  i: number;
  j: number;
  count: number;
}

/**
 * Page coordinates of the centres of the cells that are visible in `rect` (the canvas's client
 * rectangle), most populated first. `project` maps world to canvas pixels.
 */
export function cellScreenCenters(
  cells: readonly { i: number; j: number; count: number }[],
  gridSize: number,
  project: (world: [number, number]) => [number, number],
  rect: { left: number; top: number; width: number; height: number },
): ScreenCenter[] {
  const out: ScreenCenter[] = [];
  for (const cell of cells) {
    const [px, py] = project(cellCenter(cell.i, cell.j, gridSize));
    if (px < 0 || py < 0 || px >= rect.width || py >= rect.height) continue;
    out.push({ x: rect.left + px, y: rect.top + py, i: cell.i, j: cell.j, count: cell.count });
  }
  return out.sort((a, b) => b.count - a.count);
}
