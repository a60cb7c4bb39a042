import { cellOf } from '../compute/grid';
import { WORLD_SIZE } from './geometry';
import { pointInPolygon } from './selection';

/**
 * The atlas's points binned by a fine grid over the layout, built once per atlas by a counting sort: a lasso
 * touches only the cells under it, takes the cells wholly inside without testing their points, and tests point by
 * point only in the cells an edge of the lasso crosses.
 */
export interface PointIndex {
  /** Cells a side. */
  size: number;
  /** Point indices grouped by cell (row-major, j * size + i), ascending within a cell. */
  order: Uint32Array;
  /** Cell c holds order[offsets[c] .. offsets[c + 1]). */
  offsets: Uint32Array;
}

/** Points per cell the index aims at: few enough that a crossed cell's points are tested quickly, enough that the offsets stay small. */
const POINTS_PER_CELL = 16;
const MAX_SIZE = 1024;

/** The grid size for n points: about POINTS_PER_CELL a cell where they spread evenly (250 a side for a million). */
export function pointIndexSize(n: number): number {
  return Math.max(8, Math.min(MAX_SIZE, Math.ceil(Math.sqrt(n / POINTS_PER_CELL))));
}

/** Bins the points (normalised layout in [0, 1], as the grid levels bin them) into a size x size index. */
export function buildPointIndex(layoutX: Float32Array, layoutY: Float32Array, size = pointIndexSize(layoutX.length)): PointIndex {
  const n = layoutX.length;
  const cells = size * size;
  const cellOfPoint = new Uint32Array(n);
  const offsets = new Uint32Array(cells + 1);
  for (let p = 0; p < n; p++) {
    const c = cellOf(layoutY[p], size) * size + cellOf(layoutX[p], size);
    cellOfPoint[p] = c;
    offsets[c + 1]++;
  }
  for (let c = 0; c < cells; c++) offsets[c + 1] += offsets[c];
  const next = offsets.slice(0, cells);
  const order = new Uint32Array(n);
  for (let p = 0; p < n; p++) order[next[cellOfPoint[p]]++] = p;
  return { size, order, offsets };
}

type Polygon = readonly (readonly [number, number])[];

/**
 * The points (indices, ascending) whose layout position in world units lies inside the polygon: the same answer as
 * `pointsInPolygon`, which tests every point. Cells an edge passes through, with one cell of margin (a point's cell
 * comes from its layout coordinate, its test from the world coordinate: insurance should the two ever round apart), and the grid's
 * border cells (which also hold the points clamped into them) are tested point by point; every other cell in the
 * polygon's bounding box lies wholly inside or wholly outside, which its centre says.
 */
export function pointsInPolygonIndexed(
  index: PointIndex,
  layoutX: Float32Array,
  layoutY: Float32Array,
  polygon: Polygon,
  /** Receives how many points were tested one by one (the rest came in whole cells). */
  stats?: { tested: number },
): Uint32Array {
  if (polygon.length < 3) return new Uint32Array(0);
  const { size, order, offsets } = index;
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const [x, y] of polygon) {
    x0 = Math.min(x0, x);
    x1 = Math.max(x1, x);
    y0 = Math.min(y0, y);
    y1 = Math.max(y1, y);
  }
  const w = WORLD_SIZE / size;
  const clampCell = (v: number) => Math.max(0, Math.min(size - 1, v));
  // The window of cells that may hold a point inside the bounding box, one cell of margin each side.
  const i0 = clampCell(Math.floor(x0 / w) - 1);
  const i1 = clampCell(Math.floor(x1 / w) + 1);
  const j0 = clampCell(Math.floor(y0 / w) - 1);
  const j1 = clampCell(Math.floor(y1 / w) + 1);
  if (!(i0 <= i1 && j0 <= j1)) return new Uint32Array(0);
  const cols = i1 - i0 + 1;
  const rows = j1 - j0 + 1;
  // 1: an edge passes through or next to the cell (test its points); 2: wholly inside; 0: wholly outside.
  const state = new Uint8Array(cols * rows);
  markEdgeCells(state, polygon, w, i0, j0, cols, rows);
  for (let j = j0; j <= j1; j++) {
    for (let i = i0; i <= i1; i++) if (i === 0 || j === 0 || i === size - 1 || j === size - 1) state[(j - j0) * cols + (i - i0)] = 1;
  }
  markInsideCells(state, polygon, w, i0, j0, cols, rows);

  let candidates = 0;
  for (let r = 0; r < rows; r++) {
    const c = (j0 + r) * size + i0;
    for (let k = 0; k < cols; k++) if (state[r * cols + k]) candidates += offsets[c + k + 1] - offsets[c + k];
  }
  const hits = new Uint32Array(candidates);
  let found = 0;
  for (let r = 0; r < rows; r++) {
    const c = (j0 + r) * size + i0;
    for (let k = 0; k < cols; k++) {
      const s = state[r * cols + k];
      if (!s) continue;
      const start = offsets[c + k];
      const end = offsets[c + k + 1];
      if (s === 2) {
        hits.set(order.subarray(start, end), found);
        found += end - start;
        continue;
      }
      if (stats) stats.tested += end - start;
      for (let o = start; o < end; o++) {
        const p = order[o];
        // The very test pointsInPolygon makes, so both agree on points that lie on an edge.
        const x = layoutX[p] * WORLD_SIZE;
        const y = layoutY[p] * WORLD_SIZE;
        if (x >= x0 && x <= x1 && y >= y0 && y <= y1 && pointInPolygon(x, y, polygon)) hits[found++] = p;
      }
    }
  }
  return ascending(hits.subarray(0, found), layoutX.length);
}

/** Marks (1) every cell of the window that an edge passes through, dilated by one cell each way. */
function markEdgeCells(state: Uint8Array, polygon: Polygon, w: number, i0: number, j0: number, cols: number, rows: number): void {
  for (let e = 0, f = polygon.length - 1; e < polygon.length; f = e++) {
    const [ax, ay] = polygon[f];
    const [bx, by] = polygon[e];
    const lo = Math.max(0, Math.floor(Math.min(ay, by) / w) - 1 - j0);
    const hi = Math.min(rows - 1, Math.floor(Math.max(ay, by) / w) + 1 - j0);
    for (let r = lo; r <= hi; r++) {
      // The part of the edge within this row and the rows on either side, as an x range.
      const bandLo = (j0 + r - 1) * w;
      const bandHi = (j0 + r + 2) * w;
      let xa: number;
      let xb: number;
      if (ay === by) {
        xa = ax;
        xb = bx;
      } else {
        const ta = Math.max(0, Math.min(1, (bandLo - ay) / (by - ay)));
        const tb = Math.max(0, Math.min(1, (bandHi - ay) / (by - ay)));
        xa = ax + ta * (bx - ax);
        xb = ax + tb * (bx - ax);
      }
      const from = Math.max(0, Math.floor(Math.min(xa, xb) / w) - 1 - i0);
      const to = Math.min(cols - 1, Math.floor(Math.max(xa, xb) / w) + 1 - i0);
      state.fill(1, r * cols + from, r * cols + to + 1);
    }
  }
}

/** Marks (2) the unmarked cells of the window whose centre is inside: a scanline per row of cells, crossings by the even-odd rule. */
function markInsideCells(state: Uint8Array, polygon: Polygon, w: number, i0: number, j0: number, cols: number, rows: number): void {
  const crossings: number[] = [];
  for (let r = 0; r < rows; r++) {
    const y = (j0 + r + 0.5) * w;
    crossings.length = 0;
    for (let e = 0, f = polygon.length - 1; e < polygon.length; f = e++) {
      const [xi, yi] = polygon[e];
      const [xj, yj] = polygon[f];
      if (yi > y !== yj > y) crossings.push(((xj - xi) * (y - yi)) / (yj - yi) + xi);
    }
    if (crossings.length === 0) continue;
    crossings.sort((a, b) => a - b);
    let passed = 0;
    for (let k = 0; k < cols; k++) {
      const x = (i0 + k + 0.5) * w;
      while (passed < crossings.length && crossings[passed] <= x) passed++;
      if (passed % 2 === 1 && state[r * cols + k] === 0) state[r * cols + k] = 2;
    }
  }
}

/** The hits in ascending order: a typed sort for few, one pass over a mark per point for many (cheaper than sorting them). */
function ascending(hits: Uint32Array, n: number): Uint32Array {
  if (hits.length < n / 16) return hits.slice().sort();
  const mark = new Uint8Array(n);
  for (let k = 0; k < hits.length; k++) mark[hits[k]] = 1;
  const out = new Uint32Array(hits.length);
  for (let p = 0, o = 0; p < n; p++) if (mark[p]) out[o++] = p;
  return out;
}
