/** World space of the atlas view: the whole layout spans [0, WORLD_SIZE] on both axes, y down. */
export const WORLD_SIZE = 1024;

export function cellWorldSize(gridSize: number): number {
  return WORLD_SIZE / gridSize;
}

export function cellCenter(i: number, j: number, gridSize: number): [number, number] {
  const w = cellWorldSize(gridSize);
  return [(i + 0.5) * w, (j + 0.5) * w];
}

/** The (i, j) of the cell under a world position, or null outside the grid. */
export function cellAt(x: number, y: number, gridSize: number): { i: number; j: number } | null {
  if (!(x >= 0 && y >= 0 && x < WORLD_SIZE && y < WORLD_SIZE)) return null;
  const w = cellWorldSize(gridSize);
  return { i: Math.floor(x / w), j: Math.floor(y / w) };
}

/** The zoom at which the whole atlas fits a width x height viewport, leaving `margin` px around it. */
export function fitZoom(width: number, height: number, margin = 16): number {
  const side = Math.max(1, Math.min(width, height) - 2 * margin);
  return Math.log2(side / WORLD_SIZE);
}

/**
 * The finest grid level whose cells are still at least `minCellPx` wide on screen at this zoom,
 * so zooming in swaps 20 -> 40 -> 80 -> 160 cells a side, as in the original Activation Atlas.
 */
export function gridSizeForZoom(zoom: number, sizes: readonly number[], minCellPx = 36): number {
  const sorted = [...sizes].sort((a, b) => a - b);
  let chosen = sorted[0] ?? 0;
  for (const size of sorted) {
    if (cellWorldSize(size) * 2 ** zoom >= minCellPx) chosen = size;
  }
  return chosen;
}
