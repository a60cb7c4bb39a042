import { cellOf } from '../compute/grid';
import { WORLD_SIZE } from './geometry';

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

const indexes = new WeakMap<object, PointIndex>();

/** The index of an atlas's points, built on first use and kept as long as the points are. */
export function pointIndexFor(points: { layoutX: Float32Array; layoutY: Float32Array }): PointIndex {
  let index = indexes.get(points);
  if (!index) indexes.set(points, (index = buildPointIndex(points.layoutX, points.layoutY)));
  return index;
}

type Polygon = readonly (readonly [number, number])[];

/**
 * The points (indices, ascending) whose layout position in world units lies inside the polygon: the same answer as
 * `pointsInPolygon`, which tests every point. Cells an edge passes through or comes within EDGE_MARGIN of (a point's
 * cell comes from its layout coordinate, its test from the world coordinate: the margin covers their rounding apart),
 * and the grid's border cells (which also hold the points clamped into them) are tested point by point; every other
 * cell in the polygon's bounding box lies wholly inside or wholly outside, which its centre says.
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
  const xs = Float64Array.from(polygon, ([x]) => x);
  const ys = Float64Array.from(polygon, ([, y]) => y);
  let found = 0;
  for (let r = 0; r < rows; r++) {
    const c = (j0 + r) * size + i0;
    for (let k = 0; k < cols; k++) {
      const s = state[r * cols + k];
      if (!s) continue;
      if (s === 2) {
        // A run of whole cells along the row holds one contiguous range of the order: copied at once.
        let last = k;
        while (last + 1 < cols && state[r * cols + last + 1] === 2) last++;
        const start = offsets[c + k];
        const end = offsets[c + last + 1];
        hits.set(order.subarray(start, end), found);
        found += end - start;
        k = last;
        continue;
      }
      const start = offsets[c + k];
      const end = offsets[c + k + 1];
      if (stats) stats.tested += end - start;
      for (let o = start; o < end; o++) {
        const p = order[o];
        const x = layoutX[p] * WORLD_SIZE;
        const y = layoutY[p] * WORLD_SIZE;
        if (x >= x0 && x <= x1 && y >= y0 && y <= y1 && insidePolygon(x, y, xs, ys)) hits[found++] = p;
      }
    }
  }
  return ascending(hits.subarray(0, found), layoutX.length);
}

/**
 * pointInPolygon (selection.ts) over the polygon's coordinates as two arrays, the same arithmetic in the same order,
 * so both agree on points that lie on an edge; without a pair of numbers to take apart per edge.
 */
function insidePolygon(x: number, y: number, xs: Float64Array, ys: Float64Array): boolean {
  let inside = false;
  for (let i = 0, j = xs.length - 1; i < xs.length; j = i++) {
    const xi = xs[i];
    const yi = ys[i];
    const xj = xs[j];
    const yj = ys[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** How far beyond an edge a cell still counts as crossed, as a share of a cell: far above any rounding, far below a cell. */
const EDGE_MARGIN = 1e-6;

/** Marks (1) every cell of the window that an edge passes through or comes within EDGE_MARGIN of. */
function markEdgeCells(state: Uint8Array, polygon: Polygon, w: number, i0: number, j0: number, cols: number, rows: number): void {
  const eps = EDGE_MARGIN * w;
  for (let e = 0, f = polygon.length - 1; e < polygon.length; f = e++) {
    const [ax, ay] = polygon[f];
    const [bx, by] = polygon[e];
    const lo = Math.max(0, Math.floor((Math.min(ay, by) - eps) / w) - j0);
    const hi = Math.min(rows - 1, Math.floor((Math.max(ay, by) + eps) / w) - j0);
    for (let r = lo; r <= hi; r++) {
      // The part of the edge within this row (and a margin), as an x range.
      const bandLo = (j0 + r) * w - eps;
      const bandHi = (j0 + r + 1) * w + eps;
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
      const from = Math.max(0, Math.floor((Math.min(xa, xb) - eps) / w) - i0);
      const to = Math.min(cols - 1, Math.floor((Math.max(xa, xb) + eps) / w) - i0);
      if (from <= to) state.fill(1, r * cols + from, r * cols + to + 1);
    }
  }
}

/** Marks (2) the unmarked cells of the window whose centre is inside: a scanline per row of cells, crossings by the even-odd rule. */
function markInsideCells(state: Uint8Array, polygon: Polygon, w: number, i0: number, j0: number, cols: number, rows: number): void {
  const xs = Float64Array.from(polygon, ([x]) => x);
  const ys = Float64Array.from(polygon, ([, y]) => y);
  const crossings = new Float64Array(polygon.length);
  for (let r = 0; r < rows; r++) {
    const y = (j0 + r + 0.5) * w;
    let m = 0;
    for (let e = 0, f = xs.length - 1; e < xs.length; f = e++) {
      const xi = xs[e];
      const yi = ys[e];
      const xj = xs[f];
      const yj = ys[f];
      if (yi > y !== yj > y) {
        // Insertion into the sorted crossings: a row crosses a lasso a handful of times.
        const x = ((xj - xi) * (y - yi)) / (yj - yi) + xi;
        let k = m++;
        while (k > 0 && crossings[k - 1] > x) {
          crossings[k] = crossings[k - 1];
          k--;
        }
        crossings[k] = x;
      }
    }
    if (m === 0) continue;
    let passed = 0;
    for (let k = 0; k < cols; k++) {
      const x = (i0 + k + 0.5) * w;
      while (passed < m && crossings[passed] <= x) passed++;
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

/**
 * The points of the index's cells that meet a rectangle of the layout (normalised, [x0, x1] x [y0, y1]): whole cells,
 * so a few more than the rectangle holds. Each row of cells is one contiguous range of the order: a copy per row.
 */
export function pointsNearRect(index: PointIndex, x0: number, y0: number, x1: number, y1: number): Uint32Array {
  const { size, order, offsets } = index;
  const i0 = cellOf(x0, size);
  const i1 = cellOf(x1, size);
  const j0 = cellOf(y0, size);
  const j1 = cellOf(y1, size);
  let total = 0;
  for (let j = j0; j <= j1; j++) total += offsets[j * size + i1 + 1] - offsets[j * size + i0];
  const out = new Uint32Array(total);
  let at = 0;
  for (let j = j0; j <= j1; j++) {
    const start = offsets[j * size + i0];
    const end = offsets[j * size + i1 + 1];
    out.set(order.subarray(start, end), at);
    at += end - start;
  }
  return out;
}
